#!/usr/bin/env bash
# Run by run.sh after it restarted the container-driver strato: the instance
# awscli_instance_test.sh left running (tagged Name=survivor) is still running,
# answers SSH with what it held before, and still stops, starts and terminates.
set -u
. "$(dirname "$0")/awscli_lib.sh" awscli_instance_test
KEY=$W/key.pem
SSH_OPTS=(-i "$KEY" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 -o BatchMode=yes)
INSTANCE="" PUBLIC_IP=""

on_instance() { ssh "${SSH_OPTS[@]}" "ec2-user@$PUBLIC_IP" "$@"; }

test_survivor_still_runs() {
	local out
	out=$(awsx ec2 describe-instances --filters Name=tag:Name,Values=survivor Name=instance-state-name,Values=running \
		--query 'Reservations[0].Instances[0].[InstanceId,PublicIpAddress]' --output text)
	read -r INSTANCE PUBLIC_IP <<<"$out"
	[[ $INSTANCE == i-* && $PUBLIC_IP == 198.* ]] || fail "no running survivor after the restart: '$out'" || return 1
	out=$(on_instance cat /tmp/survivor) || fail "SSH after the restart: $out" || return 1
	[[ $out == "written before the restart" ]] || fail "the survivor holds '$out'"
}

test_survivor_status_ok() {
	local out
	out=$(awsx ec2 describe-instance-status --instance-ids "$INSTANCE" --query 'InstanceStatuses[0].InstanceState.Name' --output text)
	[[ $out == running ]] || fail "describe-instance-status says '$out'"
}

test_survivor_terminates() {
	awsx ec2 terminate-instances --instance-ids "$INSTANCE" >/dev/null || fail "terminate: $(head -c 300 "$ERR")" || return 1
	local got
	for _ in $(seq 300); do
		got=$(awsx ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].State.Name' --output text)
		[[ $got == terminated ]] && return 0
		sleep 0.2
	done
	fail "the survivor is '$got' 60 s after terminate"
}

check test_survivor_still_runs
check test_survivor_status_ok
check test_survivor_terminates
summary awscli_instance_restart_test
