#!/usr/bin/env bash
# Real instances with the aws CLI: run.sh starts this against a strato serving
# with the container driver (root and runc). The minimal image, a key pair, a
# user-data script, SSH to the public IP as ec2-user, the metadata service from
# inside, an extra EBS volume that keeps its data across stop/start, reboot, and
# the volumes' fate at terminate.
set -u
. "$(dirname "$0")/awscli_lib.sh" awscli_instance_test
KEY=$W/key.pem
SSH_OPTS=(-i "$KEY" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 -o BatchMode=yes)
INSTANCE="" PUBLIC_IP="" EXTRA="" AMI="" SSH_GROUP=""

# on_instance CMD: runs CMD over SSH as ec2-user on the instance's public IP.
on_instance() { ssh "${SSH_OPTS[@]}" "ec2-user@$PUBLIC_IP" "$@"; }

# wait_state ID STATE: polls describe-instances (60 s at most).
wait_state() {
	local id=$1 want=$2 got
	for _ in $(seq 300); do
		got=$(awsx ec2 describe-instances --instance-ids "$id" --query 'Reservations[0].Instances[0].State.Name' --output text)
		[[ $got == "$want" ]] && return 0
		sleep 0.2
	done
	fail "$id is '$got', not $want, after 60 s"
}

# wait_ssh: polls until an SSH command succeeds (30 s at most).
wait_ssh() {
	for _ in $(seq 150); do
		on_instance true 2>/dev/null && return 0
		sleep 0.2
	done
	fail "no SSH on $PUBLIC_IP after 30 s"
}

public_ip() {
	PUBLIC_IP=$(awsx ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].PublicIpAddress' --output text)
	[[ $PUBLIC_IP =~ ^198\.1[89]\. ]] || fail "public IP '$PUBLIC_IP' is not from the pool"
}

test_minimal_image() {
	"$STRATO_BIN" image build minimal --data-dir "$STRATO_DATA_DIR" >"$W/build.log" 2>&1 || fail "image build: $(tail -5 "$W/build.log")" || return 1
	AMI=$(awsx ec2 describe-images --owners amazon --filters 'Name=name,Values=strato-minimal-*' --query 'Images[0].ImageId' --output text)
	[[ $AMI == ami-* ]] || fail "no minimal image: '$AMI'"
}

test_run_instance() {
	awsx ec2 delete-key-pair --key-name inst-key >/dev/null # a rerun against the same strato
	awsx ec2 create-key-pair --key-name inst-key --query KeyMaterial --output text >"$KEY" || fail "create-key-pair: $(head -c 300 "$ERR")" || return 1
	chmod 600 "$KEY"
	printf '#!/bin/sh\necho "made by user data" > /tmp/from-user-data\n' >"$W/user-data.sh"
	SSH_GROUP=$(ssh_group) || fail "a group for SSH: $(head -c 300 "$ERR")" || return 1
	INSTANCE=$(awsx ec2 run-instances --image-id "$AMI" --instance-type t3.micro --key-name inst-key \
		--security-group-ids "$SSH_GROUP" --user-data "file://$W/user-data.sh" \
		--block-device-mappings '[{"DeviceName":"/dev/sdf","Ebs":{"VolumeSize":1,"DeleteOnTermination":false}}]' \
		--query 'Instances[0].InstanceId' --output text) || fail "run-instances: $(head -c 300 "$ERR")" || return 1
	wait_state "$INSTANCE" running || return 1
	public_ip || return 1
	wait_ssh
}

test_user_data_hostname_metadata() {
	local out private
	out=$(on_instance cat /tmp/from-user-data) || fail "ssh cat: $out" || return 1
	[[ $out == "made by user data" ]] || fail "user data file holds '$out'" || return 1
	private=$(awsx ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].PrivateIpAddress' --output text)
	out=$(on_instance hostname)
	[[ $out == "ip-${private//./-}" ]] || fail "hostname '$out' for $private" || return 1
	out=$(on_instance 'wget -qO- http://169.254.169.254/latest/meta-data/instance-id')
	[[ $out == "$INSTANCE" ]] || fail "metadata instance-id '$out'" || return 1
	out=$(on_instance 'wget -qO- http://169.254.169.254/latest/meta-data/placement/availability-zone | sed -e "s/.$//g"')
	[[ $out == us-east-1 ]] || fail "the seeds' region command printed '$out'" || return 1
	# The instance sees only its private address (1:1 NAT at the gateway).
	out=$(on_instance 'ip -4 addr 2>/dev/null || ifconfig')
	[[ $out == *"$private"* && $out != *"$PUBLIC_IP"* ]] || fail "addresses inside: $out"
}

test_elastic_ip() {
	local alloc eip out
	read -r alloc eip <<<"$(awsx ec2 allocate-address --query '[AllocationId,PublicIp]' --output text)"
	[[ $alloc == eipalloc-* ]] || fail "allocate-address: $(head -c 300 "$ERR")" || return 1
	awsx ec2 associate-address --instance-id "$INSTANCE" --allocation-id "$alloc" >/dev/null || fail "associate-address: $(head -c 300 "$ERR")" || return 1
	out=$(awsx ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].PublicIpAddress' --output text)
	[[ $out == "$eip" ]] || fail "the instance shows $out, not its Elastic IP $eip" || return 1
	PUBLIC_IP=$eip
	wait_ssh || return 1
	out=$(on_instance hostname) || fail "SSH through the Elastic IP: $out" || return 1
	awsx ec2 disassociate-address --public-ip "$eip" || fail "disassociate-address: $(head -c 300 "$ERR")" || return 1
	awsx ec2 release-address --allocation-id "$alloc" || fail "release-address: $(head -c 300 "$ERR")" || return 1
	public_ip || return 1
	wait_ssh
}

test_lsblk_and_extra_volume() {
	local out
	out=$(on_instance lsblk) || fail "lsblk: $out" || return 1
	[[ $out == *xvda* && $out == *xvdf* ]] || fail "lsblk shows: $out" || return 1
	EXTRA=$(awsx ec2 describe-volumes --filters "Name=attachment.instance-id,Values=$INSTANCE" "Name=attachment.device,Values=/dev/sdf" \
		--query 'Volumes[0].VolumeId' --output text)
	[[ $EXTRA == vol-* ]] || fail "extra volume '$EXTRA'" || return 1
	on_instance 'echo "kept across stop" | dd of=/dev/xvdf bs=512 count=1 conv=sync 2>/dev/null && sync' || fail "writing /dev/xvdf"
}

test_stop_start_keeps_ebs() {
	local out old_ip=$PUBLIC_IP
	awsx ec2 stop-instances --instance-ids "$INSTANCE" >/dev/null || fail "stop: $(head -c 300 "$ERR")" || return 1
	wait_state "$INSTANCE" stopped || return 1
	out=$(awsx ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].PublicIpAddress' --output text)
	[[ $out == None || -z $out ]] || fail "a stopped instance keeps public IP $out" || return 1
	awsx ec2 start-instances --instance-ids "$INSTANCE" >/dev/null || fail "start: $(head -c 300 "$ERR")" || return 1
	wait_state "$INSTANCE" running || return 1
	public_ip || return 1
	wait_ssh || return 1
	out=$(on_instance 'dd if=/dev/xvdf bs=512 count=1 2>/dev/null | head -1')
	[[ $out == "kept across stop" ]] || fail "after stop/start /dev/xvdf holds '$out' (public IP $old_ip → $PUBLIC_IP)"
}

test_reboot() {
	on_instance 'echo before > /tmp/reboot-mark' || fail "writing mark" || return 1
	awsx ec2 reboot-instances --instance-ids "$INSTANCE" || fail "reboot: $(head -c 300 "$ERR")" || return 1
	sleep 1
	wait_state "$INSTANCE" running || return 1
	wait_ssh || return 1
	local out
	out=$(on_instance 'cat /tmp/reboot-mark; dd if=/dev/xvdf bs=512 count=1 2>/dev/null | head -1')
	[[ $out == *"kept across stop"* ]] || fail "after reboot: '$out'"
}

test_terminate_volume_fate() {
	local root out
	root=$(awsx ec2 describe-instances --instance-ids "$INSTANCE" \
		--query 'Reservations[0].Instances[0].BlockDeviceMappings[?DeviceName==`/dev/xvda`].Ebs.VolumeId' --output text)
	awsx ec2 terminate-instances --instance-ids "$INSTANCE" >/dev/null || fail "terminate: $(head -c 300 "$ERR")" || return 1
	wait_state "$INSTANCE" terminated || return 1
	out=$(awsx ec2 describe-volumes --volume-ids "$EXTRA" --query 'Volumes[0].State' --output text)
	[[ $out == available ]] || fail "extra volume is '$out' after terminate" || return 1
	for _ in $(seq 100); do
		awsx ec2 describe-volumes --volume-ids "$root" >/dev/null || break
		sleep 0.2
	done
	grep -q InvalidVolume.NotFound "$ERR" || fail "root volume $root still exists"
}

# test_leave_a_survivor launches an instance tagged survivor and leaves it running:
# run.sh restarts strato and awscli_instance_restart_test.sh finds it again.
test_leave_a_survivor() {
	local id
	id=$(awsx ec2 run-instances --image-id "$AMI" --instance-type t3.micro --key-name inst-key \
		--security-group-ids "$SSH_GROUP" --tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=survivor}]' \
		--query 'Instances[0].InstanceId' --output text) || fail "run-instances: $(head -c 300 "$ERR")" || return 1
	INSTANCE=$id
	wait_state "$id" running || return 1
	public_ip || return 1
	wait_ssh || return 1
	on_instance 'echo "written before the restart" > /tmp/survivor' || fail "writing the survivor's file"
}

check test_minimal_image
check test_run_instance
check test_user_data_hostname_metadata
check test_elastic_ip
check test_lsblk_and_extra_volume
check test_stop_start_keeps_ebs
check test_reboot
check test_terminate_volume_fate
check test_leave_a_survivor
summary awscli_instance_test
