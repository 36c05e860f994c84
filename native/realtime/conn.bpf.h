// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Part of portwarden.bpf.c (included at its end, one object): the outbound TCP connection
 * programs pw_conn_btf / pw_conn_tp and their maps. Uses its helpers (reserve, fill_header,
 * wakeup, leader_start) and maps (pw_ring, pw_config).
 */
#ifndef PORTWARDEN_CONN_BPF_H
#define PORTWARDEN_CONN_BPF_H

/* ---- outbound TCP connections ----
 *
 * Reported at CLOSE -> SYN_SENT: tcp_v4_connect/tcp_v6_connect set it in the connecting task's
 * context, so the process is the caller (SYN_SENT -> ESTABLISHED runs in softirq, on whatever task
 * was interrupted). An attempt, as Sysmon's event 3 is: refused and unanswered ones count too. The
 * local port is 0 unless the socket was bound first (inet_hash_connect assigns it just after).
 * Noise control in the kernel: one record per (process, peer address, peer port) per
 * pw_config.conn_window_ns, the window starting at a record that got room in the ring buffer (a
 * dropped one leaves the key unreported); the attempts folded in are counted in the next record for
 * that key and in pw_conn_stats. Loopback peers are skipped unless PW_CONN_LOOPBACK is set. */

struct pw_conn_key {
  __u64 start_ns; /* the process's start: a pid reused within the window is another process */
  __u32 tgid;
  __u16 dport;
  __u16 family;
  __u8 daddr[16];
};

struct pw_conn_seen {
  __u64 last_ns;    /* when the last record for this key was written */
  __u64 suppressed; /* attempts folded into it since */
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct pw_conn_key);
  __type(value, struct pw_conn_seen);
} pw_conn_seen SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PW_CONN_NSTATS);
  __type(key, __u32);
  __type(value, __u64);
} pw_conn_stats SEC(".maps");

struct pw_conn_record {
  struct pw_header h;
  struct pw_conn c;
};

static __always_inline void conn_count(__u32 what) {
  __u64 *n = bpf_map_lookup_elem(&pw_conn_stats, &what);
  if (n) *n += 1; /* per CPU: no other writer */
}

static __always_inline int is_loopback(__u16 family, const __u8 *a) {
  if (family == PW_AF_INET) return a[0] == 127 || (a[0] | a[1] | a[2] | a[3]) == 0;
  __u8 hi = 0;
  for (int i = 0; i < 10; i++) hi |= a[i];
  if (hi != 0) return 0;
  if (a[10] == 0xff && a[11] == 0xff) return a[12] == 127 || (a[12] | a[13] | a[14] | a[15]) == 0; /* v4-mapped */
  if ((a[10] | a[11] | a[12] | a[13] | a[14]) != 0) return 0;
  return a[15] <= 1; /* ::1 and :: */
}

/* c: family, ports and addresses filled by the caller (from the socket or the tracepoint). */
static __always_inline void emit_connect(struct pw_conn *c, __u32 netns) {
  __u32 zero = 0;
  struct pw_config *cfg = bpf_map_lookup_elem(&pw_config, &zero);
  if (!cfg) return;
  if (!(cfg->conn_flags & PW_CONN_LOOPBACK) && is_loopback(c->family, c->daddr)) {
    conn_count(PW_CONN_LOOPBACK_SKIPPED);
    return;
  }
  struct task_struct *t = (struct task_struct *)bpf_get_current_task();
  __u64 now = bpf_ktime_get_boot_ns();
  __u64 folded = 0;
  __u64 window = cfg->conn_window_ns;
  struct pw_conn_key k = {};
  if (window != 0) {
    k.start_ns = leader_start(t);
    k.tgid = bpf_get_current_pid_tgid() >> 32;
    k.dport = c->dport;
    k.family = c->family;
    __builtin_memcpy(k.daddr, c->daddr, 16);
    struct pw_conn_seen *seen = bpf_map_lookup_elem(&pw_conn_seen, &k);
    if (seen && now - seen->last_ns < window) {
      __sync_fetch_and_add(&seen->suppressed, 1);
      conn_count(PW_CONN_SUPPRESSED);
      return;
    }
    if (seen) folded = seen->suppressed;
  }
  conn_count(PW_CONN_REPORTED);
  /* Room first, then the dedupe entry: a record the full ring drops (counted in pw_drops) must not
   * mark its key as reported, or the key's next attempts in the window would be folded into a
   * record nobody saw. The key's entry is left as it was (a stale entry keeps its folded count for
   * the next record). Another CPU may pass the window check for the same key before this one
   * writes the entry: both record, a duplicate, never a miss. */
  struct pw_conn_record *r = reserve(sizeof(*r));
  if (!r) return;
  if (window != 0) {
    struct pw_conn_seen fresh = {.last_ns = now, .suppressed = 0};
    bpf_map_update_elem(&pw_conn_seen, &k, &fresh, BPF_ANY);
  }
  fill_header(&r->h, PW_CONNECT, sizeof(*r), t);
  r->h.netns = netns;
  r->h.ts_ns = now;
  c->protocol = PW_PROTO_TCP;
  c->pad0 = 0;
  c->pad1 = 0;
  c->suppressed = folded > 0xffffffffULL ? 0xffffffffU : (__u32)folded;
  __builtin_memcpy(&r->c, c, sizeof(*c));
  bpf_ringbuf_submit(r, wakeup(sizeof(*r)));
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(pw_conn_btf, struct sock *sk, int oldstate, int newstate) {
  if (newstate != PW_TCP_SYN_SENT || oldstate != PW_TCP_CLOSE) return 0;
  if (BPF_CORE_READ(sk, sk_protocol) != PW_PROTO_TCP) return 0;
  struct pw_conn c = {};
  c.family = BPF_CORE_READ(sk, __sk_common.skc_family);
  c.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
  c.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (c.family == PW_AF_INET) {
    __u32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(c.saddr, &s, 4);
    __builtin_memcpy(c.daddr, &d, 4);
  } else if (c.family == PW_AF_INET6) {
    if (bpf_core_read(c.saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr)) __builtin_memset(c.saddr, 0, 16);
    if (bpf_core_read(c.daddr, 16, &sk->__sk_common.skc_v6_daddr)) return 0;
  } else {
    return 0;
  }
  emit_connect(&c, BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum));
  return 0;
}

/* The classic tracepoint's own fields (TP_STRUCT__entry of sock/inet_sock_set_state): ports in host
 * order, v4 addresses in saddr/daddr, v6 (or v4-mapped) ones in saddr_v6/daddr_v6. */
SEC("tracepoint/sock/inet_sock_set_state")
int pw_conn_tp(struct trace_event_raw_inet_sock_set_state *ctx) {
  if (BPF_CORE_READ(ctx, newstate) != PW_TCP_SYN_SENT || BPF_CORE_READ(ctx, oldstate) != PW_TCP_CLOSE) return 0;
  if (BPF_CORE_READ(ctx, protocol) != PW_PROTO_TCP) return 0;
  struct pw_conn c = {};
  c.family = BPF_CORE_READ(ctx, family);
  c.sport = BPF_CORE_READ(ctx, sport);
  c.dport = BPF_CORE_READ(ctx, dport);
  if (c.family == PW_AF_INET) {
    if (bpf_core_read(c.saddr, 4, &ctx->saddr) || bpf_core_read(c.daddr, 4, &ctx->daddr)) return 0;
  } else if (c.family == PW_AF_INET6) {
    if (bpf_core_read(c.saddr, 16, &ctx->saddr_v6) || bpf_core_read(c.daddr, 16, &ctx->daddr_v6)) return 0;
  } else {
    return 0;
  }
  struct sock *sk = (struct sock *)BPF_CORE_READ(ctx, skaddr);
  emit_connect(&c, BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum));
  return 0;
}

#endif
