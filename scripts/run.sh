#!/usr/bin/env bash
# Builds strato and runs `strato serve` (extra arguments are passed on), on the
# embedded defaults: 127.0.0.1:4566, data in /var/lib/strato (root) or
# $XDG_DATA_HOME/strato, SQLite store, mock driver.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_go
say "building strato"
CGO_ENABLED=0 go build -o strato ./cmd/strato || die "build failed"
say "starting: ./strato serve $*"
exec ./strato serve "$@"
