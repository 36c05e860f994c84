#!/bin/sh
# Installs portwarden as a systemd service: a system user, /opt/portwarden, /etc/portwarden,
# /var/lib/portwarden, /var/log/portwarden and the unit. Run as root from a built tree
# (npm ci && npm run build) or an unpacked release.
#
#   sh deploy/linux/install.sh [--source DIR] [--node PATH] [--enable-netns] [--no-start]
#                              [--root DIR]
#
#   --source DIR    the built portwarden tree (package.json, dist/, node_modules/); default: the
#                   repository this script lives in
#   --node PATH     the node binary (>= 20); default: the one on PATH
#   --enable-netns  also install the network-namespaces drop-in (adds CAP_SYS_ADMIN; read
#                   portwarden.service.d/network-namespaces.conf first)
#   --no-start      install and enable, but do not start
#   --root DIR      stage into DIR instead of / (packaging, tests): no user is created, nothing
#                   is chowned, systemctl is not run
#
# Every value taken from the command line is passed as a quoted argument; nothing is eval'd or
# pasted into a command string. An existing /etc/portwarden/portwarden.yml is never overwritten.
set -eu
umask 077

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
source_dir=$(CDPATH= cd -- "$here/../.." && pwd)
node_bin=''
netns=0
start=1
root=''

die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '%s\n' "$*"; }

while [ $# -gt 0 ]; do
  case $1 in
    --source) [ $# -ge 2 ] || die '--source needs a directory'; source_dir=$2; shift 2 ;;
    --node) [ $# -ge 2 ] || die '--node needs a path'; node_bin=$2; shift 2 ;;
    --enable-netns) netns=1; shift ;;
    --no-start) start=0; shift ;;
    --root) [ $# -ge 2 ] || die '--root needs a directory'; root=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done

[ -f "$source_dir/package.json" ] || die "no package.json in $source_dir (use --source)"
[ -f "$source_dir/dist/agent/cli/bin.js" ] || die "$source_dir is not built: run npm ci && npm run build"
[ -d "$source_dir/node_modules" ] || die "no node_modules in $source_dir: run npm ci --omit=dev"
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then die 'run as root (or stage with --root DIR)'; fi

if [ -z "$node_bin" ]; then node_bin=$(command -v node || true); fi
[ -n "$node_bin" ] || die 'node not found: install Node.js 20 or later, or pass --node PATH'
case $node_bin in /*) ;; *) die "--node must be an absolute path, got: $node_bin" ;; esac
# systemd splits ExecStart on whitespace and expands % and $: accept only plain paths.
case $node_bin in *[!A-Za-z0-9/._+-]*) die "unsupported characters in the node path: $node_bin" ;; esac
major=$("$node_bin" -p 'process.versions.node.split(".")[0]') || die "cannot run $node_bin"
[ "$major" -ge 20 ] 2>/dev/null || die "Node.js 20 or later is required, $node_bin is $major"

prefix="$root/opt/portwarden"
etc="$root/etc/portwarden"
state="$root/var/lib/portwarden"
logs="$root/var/log/portwarden"
units="$root/etc/systemd/system"

if [ -z "$root" ] && ! getent passwd portwarden >/dev/null; then
  nologin=$(command -v nologin || printf '/usr/sbin/nologin')
  useradd --system --user-group --home-dir /var/lib/portwarden --no-create-home \
    --shell "$nologin" --comment 'portwarden agent' portwarden
  say 'created system user portwarden'
fi

# Code: root-owned, world-readable, never writable by the agent.
install -d -m 0755 "$prefix" "$prefix/docs"
rm -rf "$prefix/dist.new" "$prefix/node_modules.new"
cp -R "$source_dir/dist" "$prefix/dist.new"
cp -R "$source_dir/node_modules" "$prefix/node_modules.new"
chmod -R u+rwX,go+rX,go-w "$prefix/dist.new" "$prefix/node_modules.new"
rm -rf "$prefix/dist" "$prefix/node_modules"
mv "$prefix/dist.new" "$prefix/dist"
mv "$prefix/node_modules.new" "$prefix/node_modules"
install -m 0644 "$source_dir/package.json" "$prefix/package.json"
if [ -f "$source_dir/docs/deploying.md" ]; then install -m 0644 "$source_dir/docs/deploying.md" "$prefix/docs/deploying.md"; fi

# Config: readable by the agent's group only (it may hold tokens), writable by root only.
install -d -m 0750 "$etc"
if [ -e "$etc/portwarden.yml" ]; then
  say "kept the existing $etc/portwarden.yml"
else
  install -m 0640 "$here/portwarden.yml" "$etc/portwarden.yml"
  say "wrote $etc/portwarden.yml: set your outputs there"
fi

# State and logs: owned by the agent, private.
install -d -m 0750 "$state" "$logs"
if [ -z "$root" ]; then
  chown root:portwarden "$etc" "$etc/portwarden.yml"
  chown portwarden:portwarden "$state" "$logs"
fi

install -d -m 0755 "$units"
install -m 0644 "$here/portwarden.service" "$units/portwarden.service"
dropins="$units/portwarden.service.d"
if [ "$node_bin" != /usr/bin/node ]; then
  install -d -m 0755 "$dropins"
  {
    printf '# Written by install.sh: node is not /usr/bin/node on this host.\n[Service]\nExecStart=\n'
    printf 'ExecStart=%s /opt/portwarden/dist/agent/cli/bin.js run --config /etc/portwarden/portwarden.yml\n' "$node_bin"
  } > "$dropins/node-path.conf"
  chmod 0644 "$dropins/node-path.conf"
else
  rm -f "$dropins/node-path.conf"
fi
if [ "$netns" -eq 1 ]; then
  install -d -m 0755 "$dropins"
  install -m 0644 "$here/portwarden.service.d/network-namespaces.conf" "$dropins/network-namespaces.conf"
fi

if [ -n "$root" ]; then
  say "staged into $root (no user, no chown, no systemctl)"
  exit 0
fi

"$node_bin" "$prefix/dist/agent/cli/bin.js" check-config --config "$etc/portwarden.yml" \
  || die "the config does not validate: fix $etc/portwarden.yml and run this script again"
systemctl daemon-reload
systemctl enable portwarden.service
if [ "$start" -eq 1 ]; then
  systemctl restart portwarden.service
  say 'portwarden is running: journalctl -u portwarden -f'
else
  say 'installed and enabled; start with: systemctl start portwarden'
fi
