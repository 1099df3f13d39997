#!/usr/bin/env bash
# Benchmark: VPC Describe calls at the API, with a large account.
#
#   bench/vpc.sh                          # builds strato, bench/loadgen, bench/vpcseed
#   BENCH_DURATION=10s BENCH_REPEAT=3 bench/vpc.sh
#
# Starts a fresh strato on a free loopback port (real SigV4, --throttle=false),
# raises the account's VPC quota to 50, and fills the account through the API with
# 50 VPCs × 200 subnets = 10,000 subnets (tagged Name=subnet-N) and 400 security
# groups × 50 ingress rules = 20,000 rules (plus each group's default egress rule).
# Then, each BENCH_REPEAT times for BENCH_DURATION, one client at a time (latency,
# not throughput):
#   (s) DescribeSubnets Filter tag:Name=subnet-N, N cycling over all 10,000
#   (g) DescribeSecurityGroups GroupId.1=G, G cycling over all 400 groups
# and reports the medians of p50 and p99 (the issue's target: p50 < 10 ms).
# Writes bench/out/vpc-results.md.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$HERE/out
DURATION=${BENCH_DURATION:-10s}
REPEAT=${BENCH_REPEAT:-3}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/strato-bench-vpc.XXXXXX")
. "$ROOT/tests/scripts/strato.sh"

cleanup() {
	strato_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
. "$HERE/lib.sh"
bench_prepare
(cd "$ROOT" && go build -o "$TMP/vpcseed" ./bench/vpcseed) || die "building bench/vpcseed failed"

DATA=$TMP/data
strato_start "$DATA" "$TMP" --throttle=false || die "strato did not start"
ACCOUNT=$(awk '/^# strato account/ {print $4; exit}' "$DATA/credentials")
[[ -n $ACCOUNT ]] || die "no account in $DATA/credentials"
"$STRATO_BIN" quota set --account "$ACCOUNT" --data-dir "$DATA" vpcs-per-region 60 >/dev/null || die "quota set failed"

echo "seeding 10,000 subnets and 20,000 security group rules through the API..." >&2
SEED_START=$(date +%s)
"$TMP/vpcseed" -endpoint "$STRATO_ENDPOINT" -credentials "$DATA/credentials" \
	-vpcs 50 -subnets-per-vpc 200 -groups 400 -rules-per-group 50 >"$TMP/groups.txt" || die "seeding failed"
SEED_SECS=$(($(date +%s) - SEED_START))

lg() { "$LOADGEN" -endpoint "$STRATO_ENDPOINT" -credentials "$DATA/credentials" "$@"; }

# bench NAME LOADGEN-ARGS...: REPEAT runs, one JSON line each into $TMP/NAME.jsonl.
bench() {
	local name=$1 i
	shift
	: >"$TMP/$name.jsonl"
	for i in $(seq "$REPEAT"); do
		lg -duration "$DURATION" -concurrency 1 -json -label "$name" "$@" >>"$TMP/$name.jsonl" || die "$name: loadgen failed"
		echo "  $name run $i: $(tail -1 "$TMP/$name.jsonl" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f req/s, p50 %.2f ms, p99 %.2f ms, errors %d %s" % (r["rps"], r["p50_ms"], r["p99_ms"], r["errors"], r.get("first_error","")))')" >&2
	done
}

echo "running (s) DescribeSubnets by tag among 10,000 subnets..." >&2
bench s-subnets-by-tag -action DescribeSubnets -pool 10000 -params 'Filter.1.Name=tag:Name&Filter.1.Value.1=subnet-{i}'
echo "running (g) DescribeSecurityGroups by ID among 20,000 rules..." >&2
bench g-groups-by-id -action DescribeSecurityGroups -pool 4000 -values "$TMP/groups.txt" -params 'GroupId.1={v}'

/usr/bin/python3 - "$TMP" "$OUT/vpc-results.md" "$REPEAT" "$DURATION" "$SEED_SECS" <<'PY'
import json, os, statistics, sys
tmp, out, repeat, duration, seed = sys.argv[1:6]
rows = [("s-subnets-by-tag", "DescribeSubnets, tag:Name filter, among 10,000 subnets"),
        ("g-groups-by-id", "DescribeSecurityGroups, one group ID, among 400 groups / 20,000 rules")]
cpu = "%d cores" % os.cpu_count()
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip() + ", " + cpu
        break
L = ["# strato VPC benchmark: Describe calls in a large account", "",
     "- machine: %s; client (bench/loadgen) and server share it" % cpu,
     "- one account: 50 VPCs, 10,000 subnets, 400 security groups with 50 ingress rules each (20,000), seeded through the API in %s s" % seed,
     "- one client, one request at a time (latency), real SigV4; median of %s runs of %s" % (repeat, duration), "",
     "| call | req/s | p50 ms | p90 ms | p99 ms | errors | resp. bytes | p50 < 10 ms |", "|---|---:|---:|---:|---:|---:|---:|---|"]
for name, title in rows:
    runs = [json.loads(l) for l in open(os.path.join(tmp, name + ".jsonl"))]
    m = lambda k: statistics.median(r[k] for r in runs)
    errs = sum(r["errors"] for r in runs)
    L.append("| %s | %.0f | %.2f | %.2f | %.2f | %d | %.0f | %s |" % (title, m("rps"), m("p50_ms"), m("p90_ms"), m("p99_ms"), errs, m("mean_response_bytes"), "**met**" if m("p50_ms") < 10 and errs == 0 else "**not met**"))
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
