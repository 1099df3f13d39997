#!/usr/bin/env bash
# Script tests: starts a fresh strato on a free loopback port (real SigV4, no
# --dev), runs the aws CLI test and the boto3 test against it, stops it.
#
#   tests/scripts/run.sh            # builds ./cmd/strato
#   STRATO_BIN=/path/strato tests/scripts/run.sh
#
# Needs Debian's /usr/bin/aws (awscli) and /usr/bin/python3 with python3-boto3,
# plus ssh-keygen, openssl (and puttygen, optional).
#
# Prints one line per test script, then `script tests: N passed, M failed`,
# where N and M count the individual checks of all scripts (a script that
# dies without its own summary line counts as one failed check).
# Exits non-zero when any check failed.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/strato-script-tests.XXXXXX")
. "$HERE/strato.sh"

cleanup() {
	strato_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "run.sh: $*" >&2; echo "script tests: 0 passed, 1 failed"; exit 1; }

for tool in /usr/bin/aws /usr/bin/python3 ssh-keygen openssl; do
	command -v "$tool" >/dev/null || die "$tool is missing (apt-get install awscli python3-boto3 openssh-client openssl)"
done
/usr/bin/python3 -c 'import boto3' 2>/dev/null || die "/usr/bin/python3 has no boto3 (apt-get install python3-boto3)"

if [[ -n ${STRATO_BIN:-} ]]; then
	[[ -x $STRATO_BIN ]] || die "STRATO_BIN=$STRATO_BIN is not executable"
else
	STRATO_BIN=$TMP/strato
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$STRATO_BIN" ./cmd/strato) || die "go build failed"
fi

DATA=$TMP/data
strato_start "$DATA" "$TMP" || die "strato did not start"
ENDPOINT=$STRATO_ENDPOINT

cat >"$TMP/aws-config" <<EOF
[default]
region = us-east-1
output = json
EOF
export STRATO_BIN STRATO_ENDPOINT=$ENDPOINT STRATO_DATA_DIR=$DATA STRATO_WORK_DIR=$TMP/work STRATO_ROOT=$ROOT
export AWS_SHARED_CREDENTIALS_FILE=$DATA/credentials AWS_CONFIG_FILE=$TMP/aws-config
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_PAGER=""
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL
mkdir -p "$STRATO_WORK_DIR"

PASSED=0
FAILED=0
SUMMARY=()

# run_test NAME CMD...: runs one test script, shows its output, adds its counts.
run_test() {
	local name=$1; shift
	local log=$TMP/$name.log rc counts p f
	echo "# $name"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	counts=$(grep -Eo '[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	if [[ -n $counts ]]; then
		read -r p _ f _ <<<"$counts"
	else
		p=0 f=1
	fi
	((rc != 0 && f == 0)) && f=1
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	if ((rc == 0)); then
		SUMMARY+=("ok - $name ($p passed, $f failed)")
	else
		SUMMARY+=("not ok - $name ($p passed, $f failed, exit $rc)")
	fi
}

run_test awscli_test.sh bash "$HERE/awscli_test.sh"
run_test awscli_vpc_test.sh bash "$HERE/awscli_vpc_test.sh"
run_test awscli_flowlogs_test.sh bash "$HERE/awscli_flowlogs_test.sh"
run_test awscli_ebs_test.sh bash "$HERE/awscli_ebs_test.sh"
run_test boto3_test.py /usr/bin/python3 "$HERE/boto3_test.py"

# driver_tests DRIVER DATA LOGS PREFIX POOL WORK [SCRIPT...]: a strato of its own with
# DRIVER (instances in network PREFIX, public addresses from POOL) runs
# awscli_instance_test.sh, is restarted (its instances outlive it), then runs
# awscli_instance_restart_test.sh and each SCRIPT. Whatever is left running is
# terminated, strato stopped and the network torn down.
driver_tests() {
	local driver=$1 data=$2 logs=$3 prefix=$4 pool=$5 work=$6 script
	shift 6
	local flags=(--driver "$driver" --net-prefix "$prefix" --public-pool "$pool")
	mkdir -p "$logs" "$work"
	# in_env CMD...: CMD with this strato's endpoint, data dir, credentials, work dir and driver.
	in_env() { env STRATO_ENDPOINT="$STRATO_ENDPOINT" STRATO_DATA_DIR="$data" AWS_SHARED_CREDENTIALS_FILE="$data/credentials" STRATO_WORK_DIR="$work" STRATO_DRIVER="$driver" "$@"; }
	if ! strato_start "$data" "$logs" "${flags[@]}"; then
		SUMMARY+=("not ok - strato with --driver $driver did not start")
		FAILED=$((FAILED + 1))
		return
	fi
	run_test "awscli_instance_test.sh ($driver)" in_env bash "$HERE/awscli_instance_test.sh"
	strato_stop
	if strato_start "$data" "$logs" "${flags[@]}"; then
		run_test "awscli_instance_restart_test.sh ($driver)" in_env bash "$HERE/awscli_instance_restart_test.sh"
		for script in "$@"; do
			run_test "$script ($driver)" in_env bash "$HERE/$script"
		done
	else
		SUMMARY+=("not ok - strato with --driver $driver did not start again")
		FAILED=$((FAILED + 1))
	fi
	# Instances outlive strato by design, their network with them: they go first.
	AWS_SHARED_CREDENTIALS_FILE=$data/credentials strato_terminate_all "$STRATO_ENDPOINT"
	strato_stop
	"$STRATO_BIN" net teardown --net-prefix "$prefix" || FAILED=$((FAILED + 1))
	if [[ -s $logs/strato.log ]]; then
		echo "# $driver-driver strato log (last lines):"
		sed 's/^/#   /' "$logs/strato.log" | tail -30
	fi
	rm -rf "$data"
}

# Real instances need root: containers (runc), then virtual machines (QEMU; TCG on
# these hosts), each with a strato of its own.
MAIN_PID=$STRATO_PID
if [[ $(id -u) == 0 ]] && command -v runc >/dev/null; then
	driver_tests container "$TMP/instances-data" "$TMP/instances" "st$(printf '%04x' $((RANDOM % 65536)))" 198.19.200.0/24 \
		"$STRATO_WORK_DIR" awscli_debian_test.sh awscli_peering_test.sh
elif [[ ${STRATO_TEST_REQUIRE_TOOLS:-} == 1 ]]; then
	SUMMARY+=("not ok - awscli_instance_test.sh needs root and runc (STRATO_TEST_REQUIRE_TOOLS=1)")
	FAILED=$((FAILED + 1))
else
	SUMMARY+=("skip - awscli_instance_test.sh needs root and runc")
fi
if [[ $(id -u) == 0 ]] && command -v qemu-system-x86_64 >/dev/null; then
	mkdir -p "$TMP/vm"
	if "$STRATO_BIN" image build vm-kernel --data-dir "$TMP/vm-data" >"$TMP/vm/vm-kernel.log" 2>&1; then
		driver_tests qemu "$TMP/vm-data" "$TMP/vm" "sv$(printf '%04x' $((RANDOM % 65536)))" 198.19.201.0/24 "$TMP/work-vm" \
			awscli_debian_test.sh
	else
		SUMMARY+=("not ok - strato image build vm-kernel: $(tail -3 "$TMP/vm/vm-kernel.log")")
		FAILED=$((FAILED + 1))
	fi
elif [[ ${STRATO_TEST_REQUIRE_TOOLS:-} == 1 ]]; then
	SUMMARY+=("not ok - the qemu-driver tests need root and qemu-system-x86 (STRATO_TEST_REQUIRE_TOOLS=1)")
	FAILED=$((FAILED + 1))
else
	SUMMARY+=("skip - the qemu-driver tests need root and qemu-system-x86")
fi
STRATO_PID=$MAIN_PID

if ! kill -0 "$STRATO_PID" 2>/dev/null; then
	SUMMARY+=("not ok - strato exited during the tests")
	FAILED=$((FAILED + 1))
fi
if [[ -s $TMP/strato.log ]]; then
	echo "# strato log (warnings and errors):"
	sed 's/^/#   /' "$TMP/strato.log" | tail -40
fi
echo
printf '%s\n' "${SUMMARY[@]}"
echo "script tests: $PASSED passed, $FAILED failed"
((FAILED == 0))
