// Classes "scripts from world-writable places", "shell escapes" and "service accounts starting
// shells" (issue 21). Command lines come from public sources, cited beside each case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessRecord } from '../../../../agent/sources/types.js';
import { Harness, firer } from './harness.js';

type P = Partial<ProcessRecord> & { name: string };
const h = new Harness('linux');
const fire = firer(h, h.engine({ baseline: { enabled: false } }));
const run = (name: string, commandLine: string, extra: Partial<ProcessRecord> = {}): P => ({ name, executable: `/usr/bin/${name}`, commandLine, uid: 1000, userName: 'alice', ...extra });
const login = run('bash', '-bash');
const www = { uid: 33, userName: 'www-data' };

interface Case { rule: string; chain: P[]; source: string }

const hits: Case[] = [
  // Class 3. Atomic Red Team T1059.004 #1 "Create and Execute Bash Shell Script"
  { rule: 'pw-lnx-script-from-temp', chain: [login, run('sh', 'sh /tmp/art.sh')], source: 'ART T1059.004 #1 sh /tmp/art.sh' },
  // Atomic Red Team T1059.004 "New script file in the tmp directory" (bash $(mktemp))
  { rule: 'pw-lnx-script-from-temp', chain: [login, run('bash', 'bash /tmp/tmp.Xb2kVh1aQz')], source: 'ART T1059.004 bash mktemp file' },
  // Issue 21's examples: python from /dev/shm, bash from /var/tmp with flags before the script
  { rule: 'pw-lnx-script-from-temp', chain: [login, run('python3', 'python3 -u /dev/shm/x.py')], source: 'python3 /dev/shm script' },
  { rule: 'pw-lnx-script-from-temp', chain: [login, run('bash', 'bash -x /var/tmp/.cache/up.sh')], source: 'bash -x /var/tmp script' },
  // A script with a shebang run directly: the kernel runs /bin/sh with the script as argument
  { rule: 'pw-lnx-script-from-temp', chain: [login, run('sh', '/bin/sh /tmp/art.sh', { executable: '/bin/sh' })], source: 'ART T1059.004 #1 run via its shebang' },
  // ART T1059.004 #1 run from its directory (relative script while working in /tmp)
  { rule: 'pw-lnx-script-from-temp', chain: [login, run('sh', 'sh ./art.sh', { workingDirectory: '/tmp' })], source: 'ART T1059.004 #1 relative in /tmp' },

  // Class 4. GTFOBins awk "shell": awk 'BEGIN {system("/bin/sh")}' -> sh -c /bin/sh -> /bin/sh
  { rule: 'pw-lnx-shell-escape', chain: [login, run('awk', 'awk BEGIN {system("/bin/sh")}'), run('sh', 'sh -c /bin/sh')], source: 'GTFOBins awk shell (sh -c)' },
  { rule: 'pw-lnx-shell-escape', chain: [login, run('awk', 'awk BEGIN {system("/bin/sh")}'), run('sh', '/bin/sh')], source: 'GTFOBins awk shell (exec)' },
  // GTFOBins find: find . -exec /bin/sh \; -quit (Elastic "Linux Restricted Shell Breakout via the find command")
  { rule: 'pw-lnx-shell-escape', chain: [login, run('find', 'find . -exec /bin/sh ; -quit'), run('sh', '/bin/sh')], source: 'GTFOBins find -exec' },
  // GTFOBins vim: vim -c ':!/bin/sh' (Elastic "... via the vi command"); vim runs $SHELL -c
  { rule: 'pw-lnx-shell-escape', chain: [login, run('vim', 'vim -c :!/bin/sh'), run('bash', 'bash -c /bin/sh')], source: 'GTFOBins vim :!' },
  // GTFOBins less: less /etc/profile then !/bin/sh
  { rule: 'pw-lnx-shell-escape', chain: [login, run('less', 'less /etc/profile'), run('sh', 'sh -c /bin/sh')], source: 'GTFOBins less !' },
  // GTFOBins man: man man then !/bin/sh through the pager; and man '-H/bin/sh #' man
  { rule: 'pw-lnx-shell-escape', chain: [login, run('man', "man '-H/bin/sh #' man"), run('sh', "sh -c '/bin/sh #/tmp/hmanXYZ/man.html'")], source: 'GTFOBins man -H' },
  // GTFOBins tar: --checkpoint=1 --checkpoint-action=exec=/bin/sh
  { rule: 'pw-lnx-shell-escape', chain: [login, run('tar', 'tar -cf /dev/null /dev/null --checkpoint=1 --checkpoint-action=exec=/bin/sh'), run('sh', 'sh -c /bin/sh')], source: 'GTFOBins tar checkpoint-action' },
  // GTFOBins git: PAGER='sh -c "exec sh 0<&1"' git -p help
  { rule: 'pw-lnx-shell-escape', chain: [login, run('git', 'git -p help'), run('sh', 'sh -c \'sh -c "exec sh 0<&1"\'')], source: 'GTFOBins git PAGER' },
  // GTFOBins gdb: gdb -nx -ex '!sh' -ex quit
  { rule: 'pw-lnx-shell-escape', chain: [login, run('gdb', 'gdb -nx -ex !sh -ex quit'), run('sh', '/bin/sh -c sh')], source: 'GTFOBins gdb !sh' },
  // GTFOBins ftp: ftp then !/bin/sh
  { rule: 'pw-lnx-shell-escape', chain: [login, run('ftp', 'ftp'), run('sh', '/bin/sh')], source: 'GTFOBins ftp !' },
  // GTFOBins sed: sed -n '1e exec sh 1>&0' /etc/hosts
  { rule: 'pw-lnx-shell-escape', chain: [login, run('sed', "sed -n '1e exec sh 1>&0' /etc/hosts"), run('sh', "sh -c 'exec sh 1>&0'")], source: 'GTFOBins sed e' },
  // GTFOBins xargs: xargs -a /dev/null sh
  { rule: 'pw-lnx-shell-escape', chain: [login, run('xargs', 'xargs -a /dev/null sh'), run('sh', 'sh')], source: 'GTFOBins xargs' },
  // GTFOBins env: env /bin/sh (Elastic "Linux Restricted Shell Breakout via env Shell Evasion"); busybox sh
  { rule: 'pw-lnx-shell-escape', chain: [login, run('env', 'env /bin/sh')], source: 'GTFOBins env' },
  { rule: 'pw-lnx-shell-escape', chain: [login, run('busybox', 'busybox sh')], source: 'GTFOBins busybox' },
  // GTFOBins flock: flock -u / /bin/sh (Elastic "... via flock Shell evasion")
  { rule: 'pw-lnx-shell-escape', chain: [login, run('flock', 'flock -u / /bin/sh'), run('sh', '/bin/sh')], source: 'GTFOBins flock' },
  // Elastic "Interactive Terminal Spawned via Python": python -c 'import pty; pty.spawn("/bin/bash")'
  { rule: 'pw-lnx-shell-escape', chain: [login, run('python3', 'python3 -c import pty; pty.spawn("/bin/bash")'), run('bash', '/bin/bash')], source: 'Elastic pty.spawn' },
  // GTFOBins script: script -q /dev/null -c /bin/bash (TTY upgrade)
  { rule: 'pw-lnx-shell-escape', chain: [login, run('script', 'script -qc /bin/bash /dev/null'), run('bash', 'bash -c /bin/bash')], source: 'GTFOBins script -c' },

  // Class 5. A web shell upgraded to an interactive shell: PayloadsAllTheThings "Spawn TTY Shell" /bin/sh -i as www-data
  { rule: 'pw-lnx-service-account-shell', chain: [run('php-fpm8.2', 'php-fpm: pool www', www), run('sh', '/bin/sh -i', www)], source: 'PayloadsAllTheThings /bin/sh -i' },
  // Redis / PostgreSQL escapes landing a bare shell (uid below 1000, name not in the list)
  { rule: 'pw-lnx-service-account-shell', chain: [run('redis-server', 'redis-server *:6379', { uid: 112, userName: 'redis' }), run('bash', 'bash', { uid: 112, userName: 'redis' })], source: 'bare shell as redis' },
  { rule: 'pw-lnx-service-account-shell', chain: [run('postgres', 'postgres: app db [local] idle', { uid: 113, userName: 'postgres' }), run('sh', 'sh -i', { uid: 113, userName: 'postgres' })], source: 'sh -i as postgres' },
  { rule: 'pw-lnx-service-account-shell', chain: [run('python3', 'python3 -c import pty; pty.spawn("/bin/bash")', { uid: 65534, userName: 'nobody' }), run('bash', '/bin/bash', { uid: 65534, userName: 'nobody' })], source: 'pty.spawn as nobody' },
  // Elastic "Sudo Command Enumeration Detected" (sudo -l) run by a service account; su to root
  { rule: 'pw-lnx-service-account-su', chain: [run('sh', 'sh', www), run('sudo', 'sudo -l', { uid: 0, userName: 'root' })], source: 'Elastic sudo -l' },
  { rule: 'pw-lnx-service-account-su', chain: [run('bash', '/bin/bash -i', www), run('su', 'su root', { uid: 0, userName: 'root' })], source: 'su from www-data' },
  // GTFOBins find "sudo": sudo find . -exec /bin/sh \; -quit, by a system uid
  { rule: 'pw-lnx-service-account-su', chain: [run('bash', 'bash', { uid: 998, userName: 'app' }), run('sudo', 'sudo find . -exec /bin/sh ; -quit', { uid: 0, userName: 'root' })], source: 'GTFOBins sudo find' },
  // A service account with a uid above 999 and a name no list knows, recognised by its nologin shell in /etc/passwd
  { rule: 'pw-lnx-service-account-shell', chain: [run('node', 'node /srv/app/server.js', { uid: 1500, userName: 'appsvc', userNoLogin: true }), run('sh', '/bin/sh -i', { uid: 1500, userName: 'appsvc', userNoLogin: true })], source: 'PayloadsAllTheThings /bin/sh -i, nologin account' },
  { rule: 'pw-lnx-service-account-su', chain: [run('sh', 'sh', { uid: 1500, userName: 'appsvc', userNoLogin: true }), run('su', 'su root', { uid: 0, userName: 'root' })], source: 'su from a nologin account' },
];

const misses: Case[] = [
  { rule: 'pw-lnx-script-from-temp', chain: [login, run('sh', "sh -c 'cp a.txt /tmp/b.txt'")], source: 'a -c command touching /tmp' },
  { rule: 'pw-lnx-script-from-temp', chain: [login, run('python3', 'python3 /usr/lib/tool/x.py --out /tmp/y')], source: 'temp path as a later argument' },
  { rule: 'pw-lnx-script-from-temp', chain: [run('rpm', 'rpm -i x.rpm', { uid: 0, userName: 'root' }), run('sh', '/bin/sh -e /var/tmp/rpm-tmp.Ab12Cd', { uid: 0, userName: 'root' })], source: 'rpm scriptlet' },
  { rule: 'pw-lnx-script-from-temp', chain: [login, run('python3', 'python3 setup.py egg_info', { workingDirectory: '/tmp/pip-install-abc/pkg' })], source: 'pip build' },
  { rule: 'pw-lnx-script-from-temp', chain: [login, run('bash', 'bash ./configure', { workingDirectory: '/home/alice/src/x' })], source: 'configure at home' },
  { rule: 'pw-lnx-shell-escape', chain: [login, run('find', 'find . -name *.log -exec sh -c \'gzip "$1"\' _ {} ;'), run('sh', 'sh -c \'gzip "$1"\' _ ./a.log')], source: 'find -exec sh -c script' },
  { rule: 'pw-lnx-shell-escape', chain: [login, run('vim', 'vim notes.txt'), run('sh', "sh -c '(sort) < /tmp/v1 > /tmp/v2'")], source: 'vim filter' },
  { rule: 'pw-lnx-shell-escape', chain: [login, run('less', 'less x.gz'), run('sh', "sh -c '/usr/bin/lesspipe x.gz'")], source: 'LESSOPEN' },
  { rule: 'pw-lnx-shell-escape', chain: [login, run('git', 'git commit'), run('sh', '/bin/sh .git/hooks/pre-commit')], source: 'git hook' },
  { rule: 'pw-lnx-shell-escape', chain: [login, run('gdb', 'gdb ./prog'), run('sh', '/bin/sh -c exec /home/alice/prog')], source: 'gdb starting the inferior' },
  { rule: 'pw-lnx-shell-escape', chain: [login, run('env', '/usr/bin/env bash /usr/local/bin/tool')], source: 'env shebang' },
  { rule: 'pw-lnx-shell-escape', chain: [login, run('timeout', "timeout 30 sh -c 'curl -fsS http://127.0.0.1/health'")], source: 'timeout sh -c' },
  { rule: 'pw-lnx-service-account-shell', chain: [run('cron', 'cron -f', { uid: 0, userName: 'root' }), run('sh', "sh -c 'php /var/www/cron.php'", www)], source: 'cron job as www-data' },
  { rule: 'pw-lnx-service-account-shell', chain: [run('su', 'su - postgres', { uid: 0, userName: 'root' }), run('bash', '-bash', { uid: 113, userName: 'postgres' })], source: 'admin su - postgres' },
  { rule: 'pw-lnx-service-account-shell', chain: [login, run('bash', 'bash')], source: 'human user shell' },
  { rule: 'pw-lnx-service-account-shell', chain: [run('node', 'node /srv/app/server.js', { uid: 1500, userName: 'appsvc' }), run('sh', '/bin/sh -i', { uid: 1500, userName: 'appsvc' })], source: 'same account with a login shell' },
  { rule: 'pw-lnx-service-account-su', chain: [run('sh', "sh -c 'sudo -n /usr/lib/nagios/plugins/check_raid'", { uid: 117, userName: 'nagios' }), run('sudo', 'sudo -n /usr/lib/nagios/plugins/check_raid', { uid: 0, userName: 'root' })], source: 'monitoring plugin through sudo' },
  { rule: 'pw-lnx-service-account-su', chain: [login, run('sudo', 'sudo -i', { uid: 0, userName: 'root' })], source: 'human sudo -i' },
];

for (const c of hits) {
  test(`${c.rule}: ${c.source}`, () => {
    assert.ok(fire(...c.chain).includes(c.rule), `expected ${c.rule} on ${c.chain.map((p) => String(p.commandLine)).join(' -> ')}`);
  });
}

for (const c of misses) {
  test(`${c.rule} stays quiet: ${c.source}`, () => {
    assert.ok(!fire(...c.chain).includes(c.rule), `no ${c.rule} on ${c.chain.map((p) => String(p.commandLine)).join(' -> ')}`);
  });
}
