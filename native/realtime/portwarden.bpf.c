// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * portwarden.bpf.o: the kernel side of the real-time Linux source (CO-RE, one object for every
 * kernel with BTF). Emits records.h records into the ring buffer `pw_ring`:
 *   PW_FORK     sched_process_fork, new processes only (threads are skipped)
 *   PW_EXEC     sched_process_exec, with filename and argv (read from the new mm)
 *   PW_EXIT     sched_process_exit, thread-group leader only
 *   PW_LISTEN   inet_sock_set_state, TCP, newstate == TCP_LISTEN
 *   PW_UNLISTEN inet_sock_set_state, TCP, oldstate == TCP_LISTEN
 *   PW_BIND     sys_enter_bind/sys_exit_bind, UDP sockets whose bind() returned 0
 *   PW_CONNECT  inet_sock_set_state, TCP, CLOSE -> SYN_SENT (connect() in the caller's context), a
 *               separate program (pw_conn_*) that user space loads only when connections are wanted
 * Every sched/sock program exists twice: a tp_btf variant (attached through BTF, no tracefs) and a
 * classic tracepoint variant (needs tracefs); user space turns off the set it does not use with
 * bpf_program__set_autoload. The bind pair exists only as classic tracepoints.
 * A record the ring buffer has no room for is counted in `pw_drops` (per CPU); user space turns
 * the growth of the sum into a PW_LOST record.
 * Wakeups: waking user space costs more than the program itself (an irq_work, a self-IPI: ~13 us a
 * record in a VM). With pw_config.wakeup_bytes set, only the record that brings the unread data to
 * that many bytes wakes the reader; user space drains on a timer otherwise. 0: the ring buffer's
 * own policy (wake whenever the reader has caught up).
 *
 * Built with: clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I<dir of vmlinux.h> -I native/realtime
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "records.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PW_AF_INET 2
#define PW_AF_INET6 10
#define PW_PROTO_TCP 6
#define PW_PROTO_UDP 17
#define PW_TCP_LISTEN 10
#define PW_TCP_SYN_SENT 2
#define PW_TCP_CLOSE 7

/* Scratch for variable-sized records: larger than the biggest record and a power of two, so a
 * masked offset plus a masked length can never leave it (what the verifier checks). */
#define PW_SCRATCH 16384
#define PW_EXEC_FIXED (sizeof(struct pw_header) + sizeof(struct pw_exec))

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024); /* user space sets the real size before load */
} pw_ring SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} pw_drops SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pw_config);
} pw_config SEC(".maps");

struct pw_scratch {
  __u8 data[PW_SCRATCH];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pw_scratch);
} pw_scratch SEC(".maps");

/* bind(): the fd seen at sys_enter, keyed by pid_tgid, until sys_exit. LRU: a thread killed inside
 * bind() never reaches sys_exit, and its entry must not stay forever. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, __u32);
} pw_bind_fd SEC(".maps");

struct pw_sock_record {
  struct pw_header h;
  struct pw_sock s;
};

struct pw_exit_record {
  struct pw_header h;
  struct pw_exit e;
};

static __always_inline void count_drop(void) {
  __u32 zero = 0;
  __u64 *n = bpf_map_lookup_elem(&pw_drops, &zero);
  if (n) *n += 1; /* per CPU: no other writer */
}

/* Flags for submitting a record of `size` bytes (see the wakeup note at the top). */
static __always_inline __u64 wakeup(__u32 size) {
  __u32 zero = 0;
  struct pw_config *c = bpf_map_lookup_elem(&pw_config, &zero);
  if (!c || c->wakeup_bytes == 0) return 0;
  __u64 avail = bpf_ringbuf_query(&pw_ring, BPF_RB_AVAIL_DATA); /* includes this record */
  return avail >= c->wakeup_bytes && avail < (__u64)c->wakeup_bytes + size + 8 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void *reserve(__u32 size) {
  void *p = bpf_ringbuf_reserve(&pw_ring, size, 0);
  if (!p) count_drop();
  return p;
}

static __always_inline __u64 leader_start(struct task_struct *t) {
  return BPF_CORE_READ(t, group_leader, start_boottime);
}

/* The header of a record about task t (every field written: ring buffer memory is not zeroed). */
static __always_inline void fill_header(struct pw_header *h, __u16 type, __u16 size, struct task_struct *t) {
  struct task_struct *parent = BPF_CORE_READ(t, real_parent);
  const struct cred *cred = BPF_CORE_READ(t, real_cred);

  h->magic = PW_MAGIC;
  h->type = type;
  h->size = size;
  h->flags = 0;
  h->tgid = BPF_CORE_READ(t, tgid);
  h->tid = BPF_CORE_READ(t, pid);
  h->ppid = BPF_CORE_READ(parent, tgid);
  h->uid = BPF_CORE_READ(cred, uid.val);
  h->euid = BPF_CORE_READ(cred, euid.val);
  h->gid = BPF_CORE_READ(cred, gid.val);
  h->netns = BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
  h->pad0 = 0;
  h->start_ns = leader_start(t);
  h->parent_start_ns = leader_start(parent);
  h->ts_ns = bpf_ktime_get_boot_ns();
  h->cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
  /* comm is NUL-padded in the kernel (strscpy_pad), so a plain 16-byte read leaves no garbage */
  if (bpf_core_read(h->comm, sizeof(h->comm), &t->comm)) __builtin_memset(h->comm, 0, sizeof(h->comm));
}

/* ---- fork ---- */

static __always_inline void emit_fork(struct task_struct *child) {
  if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid)) return; /* a thread */
  struct pw_header *h = reserve(sizeof(*h));
  if (!h) return;
  fill_header(h, PW_FORK, sizeof(*h), child);
  bpf_ringbuf_submit(h, wakeup(sizeof(*h)));
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(pw_fork_btf, struct task_struct *parent, struct task_struct *child) {
  emit_fork(child);
  return 0;
}

/* Classic tracepoint: only the child's pid. The child of a fork (not a thread, no CLONE_PARENT) is
 * the last entry of the forking thread's children list, which only that thread appends to. */
SEC("tracepoint/sched/sched_process_fork")
int pw_fork_tp(struct trace_event_raw_sched_process_fork *ctx) {
  pid_t child_pid = BPF_CORE_READ(ctx, child_pid);
  struct task_struct *parent = (struct task_struct *)bpf_get_current_task();
  struct list_head *last = BPF_CORE_READ(parent, children.prev);
  struct task_struct *child = (void *)((char *)last - bpf_core_field_offset(struct task_struct, sibling));
  if (BPF_CORE_READ(child, pid) != child_pid) return 0; /* a thread, CLONE_PARENT, or already reaped */
  emit_fork(child);
  return 0;
}

/* ---- exec ---- */

static __always_inline void emit_exec(struct task_struct *t, const char *filename) {
  __u32 zero = 0;
  __u8 *buf = bpf_map_lookup_elem(&pw_scratch, &zero);
  if (!buf) return;
  struct pw_header *h = (void *)buf;
  struct pw_exec *e = (void *)(buf + sizeof(*h));
  __u16 flags = 0;

  fill_header(h, PW_EXEC, 0, t);

  /* filename: up to PW_MAX_FILENAME bytes; a full buffer may have been cut */
  long n = bpf_probe_read_kernel_str(buf + PW_EXEC_FIXED, PW_MAX_FILENAME + 1, filename);
  __u32 flen = n > 0 ? (__u32)n - 1 : 0;
  if (flen >= PW_MAX_FILENAME) {
    flen = PW_MAX_FILENAME;
    flags |= PW_F_FILENAME_TRUNCATED;
  }
  flen &= 1023; /* bounds for the verifier: <= PW_MAX_FILENAME already */

  /* argv: mm->arg_start..arg_end of the new image, NUL-separated as /proc/<pid>/cmdline */
  struct mm_struct *mm = BPF_CORE_READ(t, mm);
  unsigned long start = BPF_CORE_READ(mm, arg_start);
  unsigned long end = BPF_CORE_READ(mm, arg_end);
  __u64 alen = end > start ? end - start : 0;
  if (alen > PW_MAX_ARGS) {
    alen = PW_MAX_ARGS;
    flags |= PW_F_ARGS_TRUNCATED;
  }
  alen &= (PW_MAX_ARGS * 2 - 1);
  __u32 off = PW_EXEC_FIXED + flen;
  if (alen > 0) {
    if (bpf_probe_read_user(buf + off, alen, (const void *)start)) {
      alen = 0;
      flags |= PW_F_ARGS_MISSING;
    } else if (flags & PW_F_ARGS_TRUNCATED) {
      buf[(off + alen - 1) & (PW_SCRATCH - 1)] = 0; /* the cut argument still ends with NUL */
    }
  } else if (end <= start) {
    flags |= PW_F_ARGS_MISSING;
  }

  __u32 used = off + (__u32)alen;
  __u32 size = (used + 7) & ~7u;
  for (int i = 0; i < 7; i++) { /* padding: no bytes of an earlier record */
    if (used + i < size) buf[(used + i) & (PW_SCRATCH - 1)] = 0;
  }
  h->size = size;
  h->flags = flags;
  e->filename_len = flen;
  e->args_len = alen;
  e->pad0 = 0;
  e->pgid = 0; /* user space reads them with the rest of /proc/<pid> */
  e->sid = 0;
  size &= PW_SCRATCH / 2 - 1;
  if (bpf_ringbuf_output(&pw_ring, buf, size, wakeup(size))) count_drop();
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(pw_exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
  emit_exec(p, BPF_CORE_READ(bprm, filename));
  return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int pw_exec_tp(struct trace_event_raw_sched_process_exec *ctx) {
  __u32 loc = BPF_CORE_READ(ctx, __data_loc_filename);
  emit_exec((struct task_struct *)bpf_get_current_task(), (const char *)ctx + (loc & 0xffff));
  return 0;
}

/* ---- exit ---- */

static __always_inline void emit_exit(struct task_struct *t) {
  if (BPF_CORE_READ(t, pid) != BPF_CORE_READ(t, tgid)) return; /* not the leader */
  struct pw_exit_record *r = reserve(sizeof(*r));
  if (!r) return;
  fill_header(&r->h, PW_EXIT, sizeof(*r), t);
  r->e.exit_code = BPF_CORE_READ(t, exit_code);
  r->e.pad0 = 0;
  bpf_ringbuf_submit(r, wakeup(sizeof(*r)));
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pw_exit_btf, struct task_struct *p) {
  emit_exit(p);
  return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int pw_exit_tp(void *ctx) {
  emit_exit((struct task_struct *)bpf_get_current_task());
  return 0;
}

/* ---- sockets ---- */

/* A socket record; the process fields come from the current task (listen(), close() and bind()
 * run in the caller's context), the netns from the socket. */
static __always_inline void emit_sock(struct sock *sk, __u16 type, __u8 protocol) {
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (family != PW_AF_INET && family != PW_AF_INET6) return;
  struct pw_sock_record *r = reserve(sizeof(*r));
  if (!r) return;
  fill_header(&r->h, type, sizeof(*r), (struct task_struct *)bpf_get_current_task());
  r->h.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
  r->s.protocol = protocol;
  r->s.family = family;
  /* Closing a listener releases the port (skc_num = 0) before the tracepoint fires; inet_sport
   * (what the classic tracepoint reports as sport) still holds it. */
  __u16 port = BPF_CORE_READ(sk, __sk_common.skc_num);
  if (port == 0) port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
  r->s.port = port;
  r->s.ifindex = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
  r->s.cookie = 0;
  /* SOCK_INODE(): struct socket is the first member of struct socket_alloc, beside its inode */
  r->s.inode = 0;
  struct socket *so = BPF_CORE_READ(sk, sk_socket);
  if (so) {
    struct socket_alloc *sa = (void *)((char *)so - bpf_core_field_offset(struct socket_alloc, socket));
    r->s.inode = BPF_CORE_READ(sa, vfs_inode.i_ino);
  }
  __builtin_memset(r->s.addr, 0, sizeof(r->s.addr));
  if (family == PW_AF_INET) {
    __u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __builtin_memcpy(r->s.addr, &a, 4);
  } else if (bpf_core_read(r->s.addr, 16, &sk->__sk_common.skc_v6_rcv_saddr)) {
    __builtin_memset(r->s.addr, 0, sizeof(r->s.addr));
  }
  bpf_ringbuf_submit(r, wakeup(sizeof(*r)));
}

static __always_inline void on_state(struct sock *sk, int oldstate, int newstate) {
  if (oldstate == newstate) return;
  if (newstate == PW_TCP_LISTEN) emit_sock(sk, PW_LISTEN, PW_PROTO_TCP);
  else if (oldstate == PW_TCP_LISTEN) emit_sock(sk, PW_UNLISTEN, PW_PROTO_TCP);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(pw_sock_btf, struct sock *sk, int oldstate, int newstate) {
  if (BPF_CORE_READ(sk, sk_protocol) != PW_PROTO_TCP) return 0;
  on_state(sk, oldstate, newstate);
  return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int pw_sock_tp(struct trace_event_raw_inet_sock_set_state *ctx) {
  if (BPF_CORE_READ(ctx, protocol) != PW_PROTO_TCP) return 0;
  on_state((struct sock *)BPF_CORE_READ(ctx, skaddr), BPF_CORE_READ(ctx, oldstate), BPF_CORE_READ(ctx, newstate));
  return 0;
}

/* ---- UDP bind ---- */

SEC("tracepoint/syscalls/sys_enter_bind")
int pw_bind_enter(struct trace_event_raw_sys_enter *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 fd = (__u32)BPF_CORE_READ(ctx, args[0]);
  bpf_map_update_elem(&pw_bind_fd, &id, &fd, BPF_ANY);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int pw_bind_exit(struct trace_event_raw_sys_exit *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 *fdp = bpf_map_lookup_elem(&pw_bind_fd, &id);
  if (!fdp) return 0;
  __u32 fd = *fdp;
  bpf_map_delete_elem(&pw_bind_fd, &id);
  if (BPF_CORE_READ(ctx, ret) != 0) return 0;

  /* fd -> struct file -> struct socket -> sock, as the kernel's fdget() walks it */
  struct task_struct *t = (struct task_struct *)bpf_get_current_task();
  struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
  if (fd >= BPF_CORE_READ(fdt, max_fds)) return 0;
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *f = NULL;
  if (bpf_core_read(&f, sizeof(f), &fds[fd]) || !f) return 0;
  struct socket *so = BPF_CORE_READ(f, private_data);
  if (!so || BPF_CORE_READ(so, file) != f) return 0; /* not a socket (any more) */
  struct sock *sk = BPF_CORE_READ(so, sk);
  if (!sk || BPF_CORE_READ(sk, sk_protocol) != PW_PROTO_UDP) return 0;
  emit_sock(sk, PW_BIND, PW_PROTO_UDP);
  return 0;
}

#include "conn.bpf.h"
