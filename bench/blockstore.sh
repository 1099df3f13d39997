#!/usr/bin/env bash
# Benchmark: the block store (internal/blockstore) against issue 4's targets.
#
#   bench/blockstore.sh                       # 8 GiB volume, 3 rounds per ratio
#   BENCH_SIZE_GIB=2 BENCH_REPEAT=3 bench/blockstore.sh
#
# On a scratch directory: fills a volume with random data, snapshots it, then per
# round changes 1% of its chunks and snapshots again (parent: the previous
# snapshot), timing `cat VOLUME > /dev/null` and the snapshot back to back, with
# the file in the page cache and evicted from it (per file, POSIX_FADV_DONTNEED);
# restores the last snapshot against `cp` of the volume file (sources evicted);
# creates, snapshots and restores an empty 1 TiB volume. Reports the medians
# (targets: stored < 2% of the volume, snapshot <= 1.5x cat, restore <= 2x cp,
# 1 TiB empty < 1 s each). Needs about 3x the volume size free on the scratch
# file system (TMPDIR). Writes bench/out/blockstore-results.md.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$HERE/out
SIZE=${BENCH_SIZE_GIB:-8}
REPEAT=${BENCH_REPEAT:-3}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/strato-bench-blockstore.XXXXXX")

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $SIZE =~ ^[0-9]+$ ]] && ((SIZE >= 1 && SIZE <= 64)) || die "BENCH_SIZE_GIB must be 1..64, got $SIZE"
[[ $REPEAT =~ ^[0-9]+$ ]] && ((REPEAT >= 1 && REPEAT <= 9)) || die "BENCH_REPEAT must be 1..9, got $REPEAT"
need_kib=$(( (3 * SIZE + 2) * 1024 * 1024 ))
free_kib=$(df -Pk "$TMP" | awk 'NR == 2 {print $4}')
((free_kib >= need_kib)) || die "needs $((need_kib / 1048576)) GiB free in $TMP, has $((free_kib / 1048576)) GiB"

mkdir -p "$OUT"
(cd "$ROOT" && go build -o "$TMP/blockbench" ./bench/blockbench) || die "building bench/blockbench failed"
mkdir -p "$TMP/data"
{
	echo "# Block store benchmark"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(df -PT "$TMP" | awk 'NR == 2 {print $2}') scratch file system"
	echo
	echo '```'
	"$TMP/blockbench" -dir "$TMP/data" -size "$SIZE" -rounds "$REPEAT" || die "blockbench failed"
	echo '```'
} | tee "$OUT/blockstore-results.md"
