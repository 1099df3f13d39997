#!/usr/bin/env bash
# Builds strato and runs `strato serve` (extra arguments are passed on), on the
# embedded defaults: 127.0.0.1:4566, data in /var/lib/strato (root) or
# $XDG_DATA_HOME/strato, SQLite store, and the instance driver --driver auto
# picks: real container instances (runc) as root, the mock driver otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
# runc runs the instances; busybox-static and e2fsprogs build the minimal image.
if [ "$(id -u)" = 0 ]; then
	apt_install runc dmsetup util-linux busybox-static e2fsprogs
fi
need_go
say "building strato"
CGO_ENABLED=0 go build -o strato ./cmd/strato || die "build failed"
say "starting: ./strato serve $*"
exec ./strato serve "$@"
