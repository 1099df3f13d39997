#!/usr/bin/env bash
# Benchmark: instances.
#
#   bench/instances.sh          # builds strato and bench/instbench
#
# 1. mock driver: 1,000 instances, then DescribeInstances of all of them and of
#    one by ID, 50 times each (p50).
# 2. container driver (needs root and runc; skipped otherwise): RunInstances →
#    running and → first successful SSH command, 20 launches one after another
#    (medians); then 100 instances in one RunInstances call (time until all run,
#    host memory per idle instance).
# 3. qemu driver (needs root and qemu-system-x86; skipped otherwise): the same with
#    virtual machines booting the minimal image, 10 launches and 10 at once.
# Every instance is terminated and the network torn down at the end. Writes
# bench/out/instances-results.md.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$HERE/out
TMP=$(mktemp -d "${TMPDIR:-/tmp}/strato-bench-instances.XXXXXX")
NET_PREFIX=sb$(printf '%04x' $((RANDOM % 65536)))
. "$ROOT/tests/scripts/strato.sh"
DURATION=1s
. "$HERE/lib.sh"

CONTAINER=0
cleanup() {
	if [[ -n $STRATO_PID ]]; then
		strato_terminate_all "$STRATO_ENDPOINT"
		strato_stop
	fi
	((CONTAINER)) && "$STRATO_BIN" net teardown --net-prefix "$NET_PREFIX"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_prepare
(cd "$ROOT" && go build -o "$TMP/instbench" ./bench/instbench) || die "building bench/instbench failed"
export AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""

minimal_ami() {
	"$STRATO_BIN" image build minimal --data-dir "$1" >"$TMP/build.log" 2>&1 || die "image build: $(tail -5 "$TMP/build.log")"
	/usr/bin/aws --endpoint-url "$STRATO_ENDPOINT" ec2 describe-images --owners amazon \
		--filters 'Name=name,Values=strato-minimal-*' --query 'Images[0].ImageId' --output text
}

# launch_setup DATA DRIVER starts strato with DRIVER on DATA and prepares launches:
# AMI (the minimal image), the key pair bench in $TMP/key.pem and SSH_GROUP, a group
# that lets SSH in (security groups are enforced).
launch_setup() {
	local data=$1 driver=$2
	strato_start "$data" "$TMP" --throttle=false --driver "$driver" --net-prefix "$NET_PREFIX" --public-pool 198.19.240.0/22 ||
		die "strato --driver $driver did not start"
	export AWS_SHARED_CREDENTIALS_FILE=$data/credentials
	AMI=$(minimal_ami "$data")
	/usr/bin/aws --endpoint-url "$STRATO_ENDPOINT" ec2 create-key-pair --key-name bench --query KeyMaterial --output text >"$TMP/key.pem" ||
		die "create-key-pair failed"
	SSH_GROUP=$(/usr/bin/aws --endpoint-url "$STRATO_ENDPOINT" ec2 create-security-group --group-name bench-ssh \
		--description "SSH for the benchmark" --query GroupId --output text) || die "create-security-group failed"
	/usr/bin/aws --endpoint-url "$STRATO_ENDPOINT" ec2 authorize-security-group-ingress --group-id "$SSH_GROUP" \
		--protocol tcp --port 22 --cidr 0.0.0.0/0 >/dev/null || die "authorize-security-group-ingress failed"
}

# empty_ami registers an image of an empty 1 GiB snapshot: the mock phase
# measures the API, not 1,000 restores of a root file system.
empty_ami() {
	local aws=(/usr/bin/aws --endpoint-url "$STRATO_ENDPOINT" ec2) vol snap
	vol=$("${aws[@]}" create-volume --availability-zone us-east-1a --size 1 --query VolumeId --output text) || die "create-volume failed"
	"${aws[@]}" wait volume-available --volume-ids "$vol" || die "volume $vol never available"
	snap=$("${aws[@]}" create-snapshot --volume-id "$vol" --query SnapshotId --output text) || die "create-snapshot failed"
	"${aws[@]}" wait snapshot-completed --snapshot-ids "$snap" || die "snapshot $snap never completed"
	"${aws[@]}" register-image --name bench-empty --architecture x86_64 --virtualization-type hvm --root-device-name /dev/xvda \
		--block-device-mappings "DeviceName=/dev/xvda,Ebs={SnapshotId=$snap}" --query ImageId --output text
}

# 1. DescribeInstances with 1,000 instances (mock driver).
strato_start "$TMP/mock" "$TMP" --throttle=false || die "strato did not start"
export AWS_SHARED_CREDENTIALS_FILE=$TMP/mock/credentials
AMI=$(empty_ami) || die "registering the empty image failed"
"$TMP/instbench" -endpoint "$STRATO_ENDPOINT" -credentials "$AWS_SHARED_CREDENTIALS_FILE" -mode describe -n 1000 -ami "$AMI" \
	>"$TMP/describe.txt" || die "describe benchmark failed"
strato_terminate_all "$STRATO_ENDPOINT"
strato_stop

# 2. Real instances (container driver).
if [[ $(id -u) == 0 ]] && command -v runc >/dev/null; then
	CONTAINER=1
	launch_setup "$TMP/ctr" container
	"$TMP/instbench" -endpoint "$STRATO_ENDPOINT" -credentials "$AWS_SHARED_CREDENTIALS_FILE" -mode launch -n 20 -ami "$AMI" \
		-key-name bench -key-file "$TMP/key.pem" -security-group "$SSH_GROUP" >"$TMP/launch.txt" || die "launch benchmark failed"
	strato_terminate_all "$STRATO_ENDPOINT"
	"$TMP/instbench" -endpoint "$STRATO_ENDPOINT" -credentials "$AWS_SHARED_CREDENTIALS_FILE" -mode fleet -n 100 -ami "$AMI" \
		>"$TMP/fleet.txt" || die "fleet benchmark failed"
	strato_terminate_all "$STRATO_ENDPOINT"
else
	echo "container driver part skipped: needs root and runc" >"$TMP/launch.txt"
	: >"$TMP/fleet.txt"
fi

# 3. Virtual machines (qemu driver; TCG unless KVM really runs guests here).
if [[ $(id -u) == 0 ]] && command -v qemu-system-x86_64 >/dev/null; then
	((CONTAINER)) && strato_stop
	CONTAINER=1
	"$STRATO_BIN" image build vm-kernel --data-dir "$TMP/vm" >"$TMP/vmkernel.log" 2>&1 || die "image build vm-kernel: $(tail -5 "$TMP/vmkernel.log")"
	launch_setup "$TMP/vm" qemu
	ACCEL=$("$STRATO_BIN" status --data-dir "$TMP/vm" | sed -n 's/^accelerator: \([a-z]*\).*/\1/p')
	"$TMP/instbench" -endpoint "$STRATO_ENDPOINT" -credentials "$AWS_SHARED_CREDENTIALS_FILE" -mode launch -n 10 -ami "$AMI" \
		-key-name bench -key-file "$TMP/key.pem" -security-group "$SSH_GROUP" >"$TMP/vm-launch.raw" || die "VM launch benchmark failed"
	sed 's/^/vm_/' "$TMP/vm-launch.raw" >"$TMP/vm-launch.txt"
	strato_terminate_all "$STRATO_ENDPOINT"
	# Ten machines booting at once share two cores under TCG: they get a minute to
	# settle before the memory is read.
	"$TMP/instbench" -endpoint "$STRATO_ENDPOINT" -credentials "$AWS_SHARED_CREDENTIALS_FILE" -mode fleet -n 10 -idle 60s -ami "$AMI" \
		>"$TMP/vm-fleet.raw" || die "VM fleet benchmark failed"
	sed 's/^/vm_/' "$TMP/vm-fleet.raw" >"$TMP/vm-fleet.txt"
	strato_terminate_all "$STRATO_ENDPOINT"
else
	echo "qemu driver part skipped: needs root and qemu-system-x86" >"$TMP/vm-launch.txt"
	: >"$TMP/vm-fleet.txt"
fi

value() { awk -v k="$1" '$1 == k {print $2}' "$TMP"/*.txt; }
{
	echo "# Instances benchmark ($(date -u +%Y-%m-%d), $(nproc) cores)"
	echo
	echo "| measure | value |"
	echo "|---|---|"
	echo "| DescribeInstances, all of 1,000 instances, p50 of 50 | $(value describe_all_p50_ms) ms |"
	echo "| DescribeInstances, one of 1,000 by ID, p50 of 50 | $(value describe_one_p50_ms) ms |"
	echo "| RunInstances → running, median of 20 (container) | $(value run_to_running_ms_median) ms |"
	echo "| RunInstances → first SSH command, median of 20 (container) | $(value run_to_ssh_ms_median) ms |"
	echo "| 100 instances in one call → all running (container) | $(value fleet_all_running_s) s |"
	echo "| host memory per idle minimal instance (container) | $(value memory_per_idle_instance_mib) MiB |"
	echo "| RunInstances → running, median of 10 (qemu, ${ACCEL:-?}) | $(value vm_run_to_running_ms_median) ms |"
	echo "| RunInstances → first SSH command, median of 10 (qemu, ${ACCEL:-?}) | $(value vm_run_to_ssh_ms_median) ms |"
	echo "| 10 VMs in one call → all running (qemu) | $(value vm_fleet_all_running_s) s |"
	echo "| host memory per idle minimal VM, t3.micro, QEMU included (qemu) | $(value vm_memory_per_idle_instance_mib) MiB |"
} | tee "$OUT/instances-results.md"
