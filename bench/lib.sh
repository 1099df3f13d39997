# Shared by the benchmark scripts (sourced after they set ROOT, OUT, TMP, DURATION):
# die, and bench_prepare, which checks BENCH_DURATION, makes bench/out and builds
# strato (unless STRATO_BIN is given) and bench/loadgen into $TMP.

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

bench_prepare() {
	local secs=${DURATION%s}
	[[ $secs =~ ^[0-9]+$ ]] && ((secs >= 1 && secs <= 20)) || die "BENCH_DURATION must be 1s..20s, got $DURATION"
	mkdir -p "$OUT"
	if [[ -z ${STRATO_BIN:-} ]]; then
		STRATO_BIN=$TMP/strato
		(cd "$ROOT" && CGO_ENABLED=0 go build -o "$STRATO_BIN" ./cmd/strato) || die "building strato failed"
	fi
	LOADGEN=$TMP/loadgen
	(cd "$ROOT" && go build -o "$LOADGEN" ./bench/loadgen) || die "building bench/loadgen failed"
}
