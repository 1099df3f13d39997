#!/usr/bin/env bash
# Benchmark: from AuthorizeSecurityGroupIngress returning to the first packet passing.
#
#   bench/sgapply.sh [ROUNDS]     # needs root and runc; default 20 rounds
#
# One container instance with a group that lets SSH in; inside it, busybox nc (-ll: listen forever)
# listens on port 8080. Each round revokes tcp/8080, checks that a connection
# from the host to the instance's public IP fails, authorizes it again, and from
# the moment the CLI call returns, tries a new connection every 2 ms until one is
# accepted. Prints the median and the spread; writes bench/out/sgapply-results.md.
# The instance is terminated and the network torn down at the end.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$HERE/out
ROUNDS=${1:-20}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/strato-bench-sgapply.XXXXXX")
NET_PREFIX=sg$(printf '%04x' $((RANDOM % 65536)))
. "$ROOT/tests/scripts/strato.sh"
DURATION=1s
. "$HERE/lib.sh"

[[ $(id -u) == 0 ]] && command -v runc >/dev/null || die "needs root and runc"
cleanup() {
	if [[ -n $STRATO_PID ]]; then
		strato_terminate_all "$STRATO_ENDPOINT"
		strato_stop
	fi
	"$STRATO_BIN" net teardown --net-prefix "$NET_PREFIX"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_prepare
export AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
strato_start "$TMP/data" "$TMP" --throttle=false --driver container --net-prefix "$NET_PREFIX" --public-pool 198.19.244.0/24 ||
	die "strato --driver container did not start"
export AWS_SHARED_CREDENTIALS_FILE=$TMP/data/credentials
aws() { /usr/bin/aws --endpoint-url "$STRATO_ENDPOINT" "$@"; }

"$STRATO_BIN" image build --data-dir "$TMP/data" minimal >"$TMP/build.log" 2>&1 || die "image build: $(tail -5 "$TMP/build.log")"
AMI=$(aws ec2 describe-images --owners amazon --filters 'Name=name,Values=strato-minimal-*' --query 'Images[0].ImageId' --output text)
aws ec2 create-key-pair --key-name bench --query KeyMaterial --output text >"$TMP/key.pem" && chmod 600 "$TMP/key.pem" || die "create-key-pair failed"
SG=$(aws ec2 create-security-group --group-name bench-sgapply --description "SSH, and 8080 toggled" --query GroupId --output text) || die "create-security-group failed"
aws ec2 authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 22 --cidr 0.0.0.0/0 >/dev/null || die "authorize 22 failed"
ID=$(aws ec2 run-instances --image-id "$AMI" --instance-type t3.micro --key-name bench --security-group-ids "$SG" \
	--query 'Instances[0].InstanceId' --output text) || die "run-instances failed"
aws ec2 wait instance-running --instance-ids "$ID" || die "$ID never ran"
IP=$(aws ec2 describe-instances --instance-ids "$ID" --query 'Reservations[0].Instances[0].PublicIpAddress' --output text)
SSH=(ssh -i "$TMP/key.pem" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 -o BatchMode=yes "ec2-user@$IP")
for _ in $(seq 150); do "${SSH[@]}" true 2>/dev/null && break; sleep 0.2; done
"${SSH[@]}" 'setsid nc -ll -p 8080 -e /bin/echo hi >/dev/null 2>&1 </dev/null &' || die "starting nc in the instance failed"

# Each round in one Python process (boto3), so the clock starts when
# AuthorizeSecurityGroupIngress returns, not when a program starts.
/usr/bin/python3 - "$STRATO_ENDPOINT" "$SG" "$IP" "$ROUNDS" >"$TMP/ms.txt" <<'EOF' || die "a round failed"
import socket, sys, time
import boto3
endpoint, group, ip, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
perm = [{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]

def connects(timeout):
    s = socket.socket()
    s.settimeout(timeout)
    try:
        return s.connect_ex((ip, 8080)) == 0
    finally:
        s.close()

for r in range(rounds):
    try:
        ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=perm)
    except ec2.exceptions.ClientError:
        pass  # not there yet (first round)
    time.sleep(0.5)
    if connects(0.3):
        sys.exit("round %d: port 8080 passes with the rule revoked" % r)
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=perm)
    start = time.monotonic()
    while not connects(0.002):
        if time.monotonic() - start > 5:
            sys.exit("round %d: port 8080 never passed" % r)
        time.sleep(0.001)
    print("%.1f" % ((time.monotonic() - start) * 1000))
EOF
sort -n "$TMP/ms.txt" >"$TMP/sorted.txt"
N=$(wc -l <"$TMP/sorted.txt")
median=$(sed -n "$(((N + 1) / 2))p" "$TMP/sorted.txt")
mkdir -p "$OUT"
{
	echo "# AuthorizeSecurityGroupIngress → first packet passing ($N rounds, container driver)"
	echo
	echo "| median | min | max |"
	echo "|---:|---:|---:|"
	echo "| $median ms | $(head -1 "$TMP/sorted.txt") ms | $(tail -1 "$TMP/sorted.txt") ms |"
} | tee "$OUT/sgapply-results.md"
