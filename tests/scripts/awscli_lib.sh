# Shared by the aws CLI script tests: sourced with the test's name, which names
# its scratch directory. Provides awsx, fail, expect_error, check and summary.
AWS_BIN=${AWS_BIN:-/usr/bin/aws}
: "${STRATO_ENDPOINT:?set by run.sh}" "${STRATO_DATA_DIR:?set by run.sh}"
: "${STRATO_BIN:?set by run.sh}" "${STRATO_WORK_DIR:?set by run.sh}"
export AWS_PAGER="" AWS_DEFAULT_OUTPUT=json AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=3
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL
W=$STRATO_WORK_DIR/$1
mkdir -p "$W"

PASSED=0
FAILED=0
ERR=$W/stderr   # stderr of the last `awsx` call
WHY=""          # set by a failing check

# awsx runs the CLI against strato; stdout is the answer, stderr goes to $ERR.
awsx() { "$AWS_BIN" --endpoint-url "$STRATO_ENDPOINT" "$@" 2>"$ERR"; }

# fail records why a check fails and returns 1, so `cond || fail "why"` ends a check.
fail() { WHY="$*"; return 1; }

# expect_error RC CODE: the last call must have failed with the CLI's service-error
# exit status (254; 255 accepted) and CODE in its stderr (CODE may be A|B).
expect_error() {
	local rc=$1 code=$2
	[[ $rc == 254 || $rc == 255 ]] || fail "want exit 254/255 with $code, got exit $rc (stderr: $(head -c 300 "$ERR"))" || return 1
	grep -Eq "\\(($code)\\)" "$ERR" || fail "want error code $code, stderr: $(head -c 300 "$ERR")"
}

check() {
	local name=$1
	WHY=""
	if "$name"; then
		echo "ok - $name"
		PASSED=$((PASSED + 1))
	else
		echo "not ok - $name: ${WHY:-exit status $?}"
		FAILED=$((FAILED + 1))
	fi
}


# summary NAME prints the counts and sets the exit status.
summary() {
	echo "$1: $PASSED passed, $FAILED failed"
	((FAILED == 0))
}

# ssh_group prints the ID of a security group of the default VPC that lets SSH in
# from anywhere (made on first use): security groups are enforced, and the
# default group lets in only its own members, as on AWS.
ssh_group() {
	local id
	id=$(awsx ec2 describe-security-groups --filters Name=group-name,Values=ssh-from-anywhere --query 'SecurityGroups[0].GroupId' --output text)
	if [[ $id != sg-* ]]; then
		id=$(awsx ec2 create-security-group --group-name ssh-from-anywhere --description "SSH from anywhere" --query GroupId --output text) || return 1
		awsx ec2 authorize-security-group-ingress --group-id "$id" --protocol tcp --port 22 --cidr 0.0.0.0/0 >/dev/null || return 1
	fi
	echo "$id"
}
