#!/usr/bin/env bash
# Benchmark: signed EC2 Query API requests per second over loopback, and latency.
#
#   bench/run.sh                         # builds strato and bench/loadgen
#   STRATO_BIN=/path/strato bench/run.sh
#   BENCH_DURATION=10s BENCH_REPEAT=3 BENCH_CONCURRENCY=8 BENCH_PERF=1 bench/run.sh
#   BENCH_SERVER_GOGC=100 bench/run.sh   # GOGC for the strato process only
#
# Starts a fresh strato on a free loopback port (real SigV4 verification, not
# --dev; --throttle=false because AWS's per-account buckets would cap one
# account at ~20 DescribeRegions/s), seeds 1,000 key pairs, then runs, each
# BENCH_REPEAT times for BENCH_DURATION (<= 20 s), reporting medians:
#   (a) DescribeRegions, closed loop (max throughput)
#   (b) DescribeKeyPairs KeyName.1=<one of 1,000>, closed loop
#   (c) DescribeKeyPairs listing all 1,000 (large response), closed loop
#   (d) DescribeRegions at a fixed 10,000 req/s (latency at load), when (a)
#       reached 10,000 req/s; otherwise at 80% of (a)'s rate
# With BENCH_PERF=1 and perf installed, also records where strato's CPU goes
# during (a) and (c) (bench/out/perf-*.txt).
# Writes bench/out/results.md (and results.json) and prints the Markdown.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$HERE/out
DURATION=${BENCH_DURATION:-10s}
REPEAT=${BENCH_REPEAT:-3}
CONC=${BENCH_CONCURRENCY:-8}
LIST_CONC=${BENCH_LIST_CONCURRENCY:-4}
RATE_CONC=${BENCH_RATE_CONCURRENCY:-16}
TARGET_RATE=${BENCH_TARGET_RATE:-10000}
KEYS=1000
TMP=$(mktemp -d "${TMPDIR:-/tmp}/strato-bench.XXXXXX")
PERF_PID=""
. "$ROOT/tests/scripts/strato.sh"

cleanup() {
	if [[ -n $PERF_PID ]] && kill -0 "$PERF_PID" 2>/dev/null; then kill -INT "$PERF_PID"; wait "$PERF_PID" 2>/dev/null; fi
	strato_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
. "$HERE/lib.sh"
bench_prepare

DATA=$TMP/data
# BENCH_SERVER_GOGC sets GOGC for strato only (to show how much of the tail is GC);
# without it strato runs with its own default (GOGC 400, see cmd/strato).
STRATO_SERVE_ENV="-u GOGC ${BENCH_SERVER_GOGC:+GOGC=$BENCH_SERVER_GOGC}"
strato_start "$DATA" "$TMP" --throttle=false || die "strato did not start"
ENDPOINT=$STRATO_ENDPOINT

lg() { "$LOADGEN" -endpoint "$ENDPOINT" -credentials "$DATA/credentials" "$@"; }

# Seed 1,000 key pairs: ImportKeyPair of one ed25519 public key under 1,000 names.
ssh-keygen -q -t ed25519 -N '' -C bench -f "$TMP/seed" || die "ssh-keygen failed"
echo "seeding $KEYS key pairs..." >&2
lg -action ImportKeyPair -params 'KeyName=bench-key-{i}' -param-file "PublicKeyMaterial=$TMP/seed.pub" \
	-requests "$KEYS" -concurrency 4 >"$TMP/seed.out" || { cat "$TMP/seed.out" >&2; die "seeding failed"; }
ONE_KEY=bench-key-$((KEYS / 2 + 17))

# server_cpu prints strato's user+system CPU time in clock ticks; busy_cpu the
# whole machine's busy ticks (all but idle and iowait), to show other load.
server_cpu() { awk '{print $14 + $15}' "/proc/$STRATO_PID/stat"; }
busy_cpu() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
TICKS=$(getconf CLK_TCK)

# bench NAME REPEATS LOADGEN-ARGS...: runs the load REPEATS times, one JSON line per run into $TMP/NAME.jsonl.
bench() {
	local name=$1 n=$2 i c0 c1
	shift 2
	: >"$TMP/$name.jsonl"
	for i in $(seq "$n"); do
		c0=$(server_cpu) b0=$(busy_cpu)
		lg -duration "$DURATION" -json -label "$name" "$@" >"$TMP/run.json" || { cat "$TMP/run.json" >&2; die "$name: loadgen failed"; }
		c1=$(server_cpu) b1=$(busy_cpu)
		/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
server, busy, ticks = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r["server_cpu_pct"] = 100.0 * server / ticks / r["duration_s"]
r["other_cpu_pct"] = max(0.0, 100.0 * busy / ticks / r["duration_s"] - r["server_cpu_pct"] - r["client_cpu_pct"])
print(json.dumps(r))' "$TMP/run.json" $((c1 - c0)) $((b1 - b0)) "$TICKS" >>"$TMP/$name.jsonl"
		echo "  $name run $i: $(/usr/bin/python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readlines()[-1]); print("%.0f req/s, p50 %.2f ms, p99 %.2f ms, errors %d, CPU: server %.0f%%, client %.0f%%, other %.0f%%" % (r["rps"], r["p50_ms"], r["p99_ms"], r["errors"], r["server_cpu_pct"], r["client_cpu_pct"], r["other_cpu_pct"]))' "$TMP/$name.jsonl")" >&2
	done
}

# median_rps NAME
median_rps() { /usr/bin/python3 -c 'import json,sys,statistics; print(int(statistics.median(json.loads(l)["rps"] for l in open(sys.argv[1]))))' "$TMP/$1.jsonl"; }

# profile NAME LOADGEN-ARGS...: with BENCH_PERF=1 and perf installed, one extra,
# unmeasured run under `perf record -g` of strato (perf's own CPU would skew
# the measured runs); writes bench/out/perf-NAME.txt (self time) and
# perf-NAME-children.txt (inclusive time); long generic shapes cut at 150 chars.
profile() {
	local name=$1
	shift
	[[ ${BENCH_PERF:-0} == 1 ]] && command -v perf >/dev/null || return 0
	echo "  profiling $name with perf (extra run, not counted)..." >&2
	perf record -F 499 -g -o "$TMP/perf.data" -p "$STRATO_PID" >/dev/null 2>&1 &
	PERF_PID=$!
	lg -duration "$DURATION" "$@" >/dev/null
	kill -INT "$PERF_PID"; wait "$PERF_PID" 2>/dev/null; PERF_PID=""
	perf report -i "$TMP/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | sed -E 's/[[:space:]-]+$//' | cut -c1-150 | head -60 >"$OUT/perf-$name.txt"
	perf report -i "$TMP/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | sed -E 's/[[:space:]-]+$//' | cut -c1-150 | head -150 >"$OUT/perf-$name-children.txt"
}

echo "running (a) DescribeRegions, closed loop, concurrency $CONC..." >&2
bench a-describe-regions "$REPEAT" -action DescribeRegions -concurrency "$CONC"
profile describe-regions -action DescribeRegions -concurrency "$CONC"
echo "running (b) DescribeKeyPairs KeyName.1=$ONE_KEY among $KEYS..." >&2
bench b-describe-one-key "$REPEAT" -action DescribeKeyPairs -params "KeyName.1=$ONE_KEY" -concurrency "$CONC"
echo "running (c) DescribeKeyPairs listing all $KEYS, concurrency $LIST_CONC..." >&2
bench c-describe-all-keys "$REPEAT" -action DescribeKeyPairs -concurrency "$LIST_CONC"
profile describe-all-keys -action DescribeKeyPairs -concurrency "$LIST_CONC"

A_RPS=$(median_rps a-describe-regions)
if ((A_RPS >= TARGET_RATE)); then
	D_RATE=$TARGET_RATE
	D_NOTE="(a) reached $A_RPS req/s, so the target rate $TARGET_RATE req/s was applied."
else
	D_RATE=$((A_RPS * 8 / 10))
	D_NOTE="(a) reached only $A_RPS req/s < $TARGET_RATE: the fixed-rate run used 80% of that, $D_RATE req/s."
fi
echo "running (d) DescribeRegions at a fixed $D_RATE req/s, concurrency $RATE_CONC..." >&2
bench d-describe-regions-at-rate "$REPEAT" -action DescribeRegions -rate "$D_RATE" -concurrency "$RATE_CONC"

cat "$TMP"/*.jsonl >"$OUT/results.json"
/usr/bin/python3 - "$TMP" "$OUT/results.md" "$D_NOTE" "$REPEAT" "$DURATION" "$TARGET_RATE" "${BENCH_SERVER_GOGC:-strato default (400)}" <<'PY'
import json, os, platform, statistics, subprocess, sys
tmp, out, d_note, repeat, duration, target, gogc = sys.argv[1:8]
target = float(target)
rows = [
    ("a-describe-regions", "(a) DescribeRegions, closed loop"),
    ("b-describe-one-key", "(b) DescribeKeyPairs KeyName.1=one of 1,000, closed loop"),
    ("c-describe-all-keys", "(c) DescribeKeyPairs, all 1,000 (large response), closed loop"),
    ("d-describe-regions-at-rate", "(d) DescribeRegions at a fixed rate"),
]
def med(runs, k):
    return statistics.median(r[k] for r in runs)
cpu = "%d cores" % os.cpu_count()
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip() + ", " + cpu
            break
except OSError:
    pass
L = []
L.append("# strato benchmark: signed EC2 Query requests over loopback")
L.append("")
L.append("- machine: %s; client (bench/loadgen) and server share it" % cpu)
L.append("- strato: `serve --throttle=false` (AWS's per-account request buckets would otherwise cap one account at ~20 DescribeRegions/s); real SigV4 verification of every request (not --dev); SQLite store; GOGC=%s" % gogc)
L.append("- each figure is the median of %s runs of %s; requests are pre-signed (distinct signatures) and replayed over keep-alive HTTP/1.1" % (repeat, duration))
L.append("- latency: closed loop = send to last byte; fixed rate = from when the request was due (queueing counted)")
L.append("")
L.append("| run | conc. | target req/s | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | resp. bytes | server CPU | client CPU | other CPU |")
L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
summary = {}
for name, title in rows:
    path = os.path.join(tmp, name + ".jsonl")
    if not os.path.exists(path):
        continue
    runs = [json.loads(l) for l in open(path)]
    m = {k: med(runs, k) for k in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_response_bytes", "server_cpu_pct", "client_cpu_pct", "other_cpu_pct")}
    m["errors"] = sum(r["errors"] for r in runs)
    summary[name] = m
    rate = runs[0]["target_rate"]
    L.append("| %s | %d | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %d | %.0f | %.0f%% | %.0f%% | %.0f%% |" % (
        title, runs[0]["concurrency"], "%.0f" % rate if rate else "open", m["rps"], m["p50_ms"], m["p90_ms"],
        m["p99_ms"], m["max_ms"], m["errors"], m["mean_response_bytes"], m["server_cpu_pct"], m["client_cpu_pct"], m["other_cpu_pct"]))
L.append("")
L.append("CPU columns are percent of one core (200% = both cores of a 2-core machine). \"other\" is the rest of the machine's busy time during the run (other processes, plus kernel softirq work not charged to strato or the client): when it is high, the figures were disturbed.")
L.append("")
L.append("Fixed-rate run: " + d_note)
L.append("")
a = summary.get("a-describe-regions")
d = summary.get("d-describe-regions-at-rate")
if a:
    ok_rate = a["rps"] >= target
    L.append("- target %.0f signed small req/s (DescribeRegions, closed loop): **%s** (%.0f req/s)" % (target, "met" if ok_rate else "not met", a["rps"]))
if d:
    rate = json.loads(open(os.path.join(tmp, "d-describe-regions-at-rate.jsonl")).readline())["target_rate"]
    ok_p99 = d["p99_ms"] < 5 and rate >= target
    L.append("- target p99 < 5 ms at %.0f req/s: **%s** (p99 %.2f ms at %.0f req/s)" % (target, "met" if ok_p99 else "not met", d["p99_ms"], rate))
perf = os.path.join(os.path.dirname(out), "perf-describe-regions.txt")
children = os.path.join(os.path.dirname(out), "perf-describe-regions-children.txt")
if os.path.exists(perf) and os.path.getsize(perf) > 0:
    L.append("")
    L.append("Where strato's CPU goes during (a) (`perf record -g` on the server; percent of strato's samples).")
    L.append("Inclusive time of selected frames (full list: bench/out/perf-describe-regions-children.txt):")
    L.append("")
    L.append("```")
    keep = ("strato/", "net/http.(*conn).readRequest", "runtime.gcBgMarkWorker", "runtime.mallocgc",
            "syscall.write", "syscall.read", "bufio.(*Writer).Flush", "finish_task_switch")
    picked = [l.rstrip() for l in open(children) if any(k in l for k in keep) and "HandleEC2[" not in l and ".handle[" not in l]
    L += picked[:30]
    L.append("```")
    L.append("")
    L.append("Self time, top 20 symbols (full list: bench/out/perf-describe-regions.txt):")
    L.append("")
    L.append("```")
    L += [l.rstrip() for l in open(perf).readlines()[:20]]
    L.append("```")
perf_c = os.path.join(os.path.dirname(out), "perf-describe-all-keys-children.txt")
if os.path.exists(perf_c) and os.path.getsize(perf_c) > 0:
    L.append("")
    L.append("Where strato's CPU goes during (c), listing 1,000 key pairs (inclusive; full list: bench/out/perf-describe-all-keys-children.txt):")
    L.append("")
    L.append("```")
    keep = ("strato/", "modernc.org/sqlite", "database/sql", "runtime.gcBgMarkWorker", "runtime.mallocgc",
            "syscall.write", "encoding/xml", "finish_task_switch")
    picked = [l.rstrip() for l in open(perf_c) if any(k in l for k in keep) and "HandleEC2[" not in l and ".handle[" not in l]
    L += picked[:30]
    L.append("```")
text = "\n".join(L) + "\n"
open(out, "w").write(text)
print(text)
PY
