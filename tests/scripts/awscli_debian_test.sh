#!/usr/bin/env bash
# The metadata service's fidelity test: the debian-12 image's own cloud-init
# (EC2 datasource) configures a container instance from strato's metadata
# service: user admin with the launch key, hostname, #cloud-config user data.
# run.sh runs it against the container-driver strato; it needs root, runc and
# the Debian mirror (debootstrap).
set -u
. "$(dirname "$0")/awscli_lib.sh" awscli_debian_test
KEY=$W/key.pem
SSH_OPTS=(-i "$KEY" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 -o BatchMode=yes)
AMI="" INSTANCE="" PUBLIC_IP=""

on_instance() { ssh "${SSH_OPTS[@]}" "admin@$PUBLIC_IP" "$@"; }

# apt_mirror is the Debian mirror this machine's apt uses (CI reaches only that).
apt_mirror() {
	{
		grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
		grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}'
	} | grep -v security | head -1
}

test_debian_image() {
	local mirror=() url
	url=$(apt_mirror)
	[[ -n $url ]] && mirror=(--mirror "$url")
	"$STRATO_BIN" image build --data-dir "$STRATO_DATA_DIR" "${mirror[@]}" debian-12 >"$W/build.log" 2>&1 || fail "image build: $(tail -5 "$W/build.log")" || return 1
	AMI=$(awsx ec2 describe-images --owners amazon --filters 'Name=name,Values=debian-12-*' --query 'Images[0].ImageId' --output text)
	[[ $AMI == ami-* ]] || fail "no debian-12 image: '$AMI'"
}

test_cloud_init_configures_the_instance() {
	awsx ec2 delete-key-pair --key-name debian-key >/dev/null
	awsx ec2 create-key-pair --key-name debian-key --query KeyMaterial --output text >"$KEY" || fail "create-key-pair" || return 1
	chmod 600 "$KEY"
	printf '#cloud-config\nruncmd:\n  - echo from-runcmd > /root/runcmd\nwrite_files:\n  - path: /etc/strato-written\n    content: written-by-cloud-init\n' >"$W/user-data"
	local group
	group=$(ssh_group) || fail "a group for SSH: $(head -c 300 "$ERR")" || return 1
	INSTANCE=$(awsx ec2 run-instances --image-id "$AMI" --instance-type t3.micro --key-name debian-key --security-group-ids "$group" --user-data "file://$W/user-data" \
		--query 'Instances[0].InstanceId' --output text) || fail "run-instances: $(head -c 300 "$ERR")" || return 1
	local out
	for _ in $(seq 300); do
		out=$(awsx ec2 describe-instances --instance-ids "$INSTANCE" --query 'Reservations[0].Instances[0].[State.Name,PublicIpAddress,PrivateIpAddress]' --output text)
		[[ $out == running* ]] && break
		sleep 0.2
	done
	read -r _ PUBLIC_IP private <<<"$out"
	for _ in $(seq 120); do
		on_instance true 2>/dev/null && break
		sleep 0.5
	done
	out=$(on_instance 'cloud-init status --wait >/dev/null; cloud-init status --long | head -1; cloud-init query v1.platform; cloud-init query v1.instance_id; hostname; sudo cat /root/runcmd; cat /etc/strato-written') ||
		fail "SSH as admin: $out" || return 1
	[[ $out == $'status: done\nec2\n'"$INSTANCE"$'\nip-'"${private//./-}"$'\nfrom-runcmd\nwritten-by-cloud-init' ]] || fail "inside: $out"
}

test_terminate() {
	awsx ec2 terminate-instances --instance-ids "$INSTANCE" >/dev/null || fail "terminate: $(head -c 300 "$ERR")"
}

check test_debian_image
check test_cloud_init_configures_the_instance
check test_terminate
summary awscli_debian_test
