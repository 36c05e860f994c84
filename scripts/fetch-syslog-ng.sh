#!/usr/bin/env bash
# Unpacks Debian's syslog-ng-core into .cache/syslog-ng (relative to the checkout) without
# installing it: the package conflicts with rsyslog, and the syslog tests need both daemons as
# receivers. Its shared-library dependencies that rsyslog's machine lacks (libivykis0, libnet1,
# libpcre3, libwrap0) are ordinary packages, installed by .ci/run. testkit/peers/syslog-ng.ts runs
# the binary from here with LD_LIBRARY_PATH and --module-path.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/syslog-ng
if [ -x "$dest/usr/sbin/syslog-ng" ]; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt-get download writes to the current directory; _apt cannot write to a root-owned mktemp dir.
chmod 0777 "$tmp"
(cd "$tmp" && apt-get download syslog-ng-core)
mkdir -p "$dest"
dpkg-deb -x "$tmp"/syslog-ng-core_*.deb "$dest"
"$dest/usr/sbin/syslog-ng" --version >/dev/null 2>&1 || LD_LIBRARY_PATH="$dest/usr/lib/syslog-ng" "$dest/usr/sbin/syslog-ng" --version | head -1
