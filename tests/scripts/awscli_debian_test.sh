#!/usr/bin/env bash
# The metadata service's fidelity test, and an EC2 user's first session with
# EBS: the debian-12 image's own cloud-init (EC2 datasource) configures two
# instances from strato's metadata service (user admin with the launch key,
# hostname, #cloud-config user data, and in a VM a root file system grown to its
# volume's size); a volume attached while they run gets a
# file system on one, is detached, attached to the other and read back there;
# the root volume, grown by ModifyVolume while the instance runs, is grown
# inside with growpart and resize2fs.
# run.sh runs it against the container-driver and the qemu-driver strato; it
# needs root, runc or QEMU, and the Debian mirror (debootstrap).
set -u
. "$(dirname "$0")/awscli_lib.sh" awscli_debian_test
KEY=$W/key.pem
SSH_OPTS=(-i "$KEY" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 -o BatchMode=yes)
AMI="" INSTANCES=() PUBLIC_IPS=() PRIVATE_IPS=() VOLUME=""

# on_instance N CMD: runs CMD as admin on the Nth instance (0 or 1).
on_instance() { ssh "${SSH_OPTS[@]}" "admin@${PUBLIC_IPS[$1]}" "${@:2}"; }

# apt_mirror is the Debian mirror this machine's apt uses (CI reaches only that).
apt_mirror() {
	{
		grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
		grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}'
	} | grep -v security | head -1
}

# volume_state ID: the volume's state and, when attached, its attachment's state.
volume_state() {
	awsx ec2 describe-volumes --volume-ids "$1" --query 'Volumes[0].[State,Attachments[0].State]' --output text
}

# wait_volume ID WANT: polls (0.5 s, 3 minutes at most) until volume_state is WANT.
wait_volume() {
	local out
	for _ in $(seq 360); do
		out=$(volume_state "$1")
		[[ $out == "$2" ]] && return 0
		sleep 0.5
	done
	fail "volume $1 is '$out', want '$2'"
}

test_debian_image() {
	local mirror=() url
	url=$(apt_mirror)
	[[ -n $url ]] && mirror=(--mirror "$url")
	"$STRATO_BIN" image build --data-dir "$STRATO_DATA_DIR" "${mirror[@]}" debian-12 >"$W/build.log" 2>&1 || fail "image build: $(tail -5 "$W/build.log")" || return 1
	AMI=$(awsx ec2 describe-images --owners amazon --filters 'Name=name,Values=debian-12-*' --query 'Images[0].ImageId' --output text)
	[[ $AMI == ami-* ]] || fail "no debian-12 image: '$AMI'"
}

test_cloud_init_configures_the_instances() {
	awsx ec2 delete-key-pair --key-name debian-key >/dev/null
	awsx ec2 create-key-pair --key-name debian-key --query KeyMaterial --output text >"$KEY" || fail "create-key-pair" || return 1
	chmod 600 "$KEY"
	printf '#cloud-config\nruncmd:\n  - echo from-runcmd > /root/runcmd\nwrite_files:\n  - path: /etc/strato-written\n    content: written-by-cloud-init\n' >"$W/user-data"
	local group out i
	group=$(ssh_group) || fail "a group for SSH: $(head -c 300 "$ERR")" || return 1
	# A root volume larger than the image's 4 GiB, as users often ask for.
	read -ra INSTANCES < <(awsx ec2 run-instances --image-id "$AMI" --instance-type t3.micro --count 2 --key-name debian-key --security-group-ids "$group" \
		--block-device-mappings 'DeviceName=/dev/xvda,Ebs={VolumeSize=5}' --user-data "file://$W/user-data" --query 'Instances[].InstanceId' --output text)
	((${#INSTANCES[@]} == 2)) || fail "run-instances: $(head -c 300 "$ERR")" || return 1
	for i in 0 1; do
		for _ in $(seq 300); do
			out=$(awsx ec2 describe-instances --instance-ids "${INSTANCES[$i]}" --query 'Reservations[0].Instances[0].[State.Name,PublicIpAddress,PrivateIpAddress]' --output text)
			[[ $out == running* ]] && break
			sleep 0.2
		done
		read -r _ "PUBLIC_IPS[$i]" "PRIVATE_IPS[$i]" <<<"$out"
	done
	# A virtual machine boots its own kernel and systemd (minutes under TCG);
	# a container instance is up in seconds.
	for i in 0 1; do
		for _ in $(seq 360); do
			on_instance "$i" true 2>/dev/null && break
			sleep 0.5
		done
		out=$(on_instance "$i" 'cloud-init status --wait >/dev/null; cloud-init status --long | head -1; cloud-init query v1.platform; cloud-init query v1.instance_id; hostname; sudo cat /root/runcmd; cat /etc/strato-written') ||
			fail "SSH as admin to ${INSTANCES[$i]}: $out" || return 1
		[[ $out == $'status: done\nec2\n'"${INSTANCES[$i]}"$'\nip-'"${PRIVATE_IPS[$i]//./-}"$'\nfrom-runcmd\nwritten-by-cloud-init' ]] || fail "inside ${INSTANCES[$i]}: $out" || return 1
		# In a VM cloud-init's growpart and resizefs give the root file system the
		# whole 5 GiB at first boot, as on EC2. (A container instance's root is
		# mounted by the host from the partition as the image made it.)
		[[ ${STRATO_DRIVER:-} == container ]] && continue
		out=$(on_instance "$i" 'df -B1M --output=size / | tail -1')
		((out > 4500)) || fail "the root file system of ${INSTANCES[$i]} is $out MiB after the first boot on a 5 GiB volume" || return 1
	done
}

# The guest's /dev/xvdf appears a moment after the attachment says attached
# (the hot-plug reaches a VM's kernel, then udev); wait_device waits for it.
wait_device='for _ in $(seq 100); do [ -b "$0" ] && exit 0; sleep 0.1; done; echo "no $0" >&2; exit 1'

test_volume_moves_between_instances() {
	local zone out
	zone=$(awsx ec2 describe-instances --instance-ids "${INSTANCES[0]}" --query 'Reservations[0].Instances[0].Placement.AvailabilityZone' --output text)
	VOLUME=$(awsx ec2 create-volume --availability-zone "$zone" --size 1 --query VolumeId --output text) || fail "create-volume: $(head -c 300 "$ERR")" || return 1
	wait_volume "$VOLUME" $'available\tNone' || return 1
	awsx ec2 attach-volume --volume-id "$VOLUME" --instance-id "${INSTANCES[0]}" --device /dev/sdf >/dev/null || fail "attach-volume: $(head -c 300 "$ERR")" || return 1
	wait_volume "$VOLUME" $'in-use\tattached' || return 1
	out=$(on_instance 0 "sh -c '$wait_device' /dev/xvdf && sudo mkfs.ext4 -q -L data /dev/xvdf && sudo mkdir -p /data && sudo mount /dev/xvdf /data &&
		echo written-on-${INSTANCES[0]} | sudo tee /data/note >/dev/null && sudo umount /data && echo done" 2>&1)
	[[ $out == done ]] || fail "mkfs, mount and write on ${INSTANCES[0]}: $out" || return 1
	awsx ec2 detach-volume --volume-id "$VOLUME" >/dev/null || fail "detach-volume: $(head -c 300 "$ERR")" || return 1
	wait_volume "$VOLUME" $'available\tNone' || return 1
	out=$(on_instance 0 'ls /dev/xvdf 2>&1')
	[[ $out == *"No such file"* ]] || fail "after the detach ${INSTANCES[0]} still has /dev/xvdf: $out" || return 1
	awsx ec2 attach-volume --volume-id "$VOLUME" --instance-id "${INSTANCES[1]}" --device /dev/sdg >/dev/null || fail "attach-volume to the second: $(head -c 300 "$ERR")" || return 1
	wait_volume "$VOLUME" $'in-use\tattached' || return 1
	out=$(on_instance 1 "sh -c '$wait_device' /dev/xvdg && sudo mkdir -p /data && sudo mount /dev/xvdg /data && cat /data/note && sudo umount /data" 2>&1)
	[[ $out == "written-on-${INSTANCES[0]}" ]] || fail "read back on ${INSTANCES[1]}: $out"
}

test_root_volume_grows_while_running() {
	local root out size fs
	root=$(awsx ec2 describe-instances --instance-ids "${INSTANCES[0]}" --query 'Reservations[0].Instances[0].BlockDeviceMappings[?DeviceName==`/dev/xvda`].Ebs.VolumeId' --output text)
	[[ $root == vol-* ]] || fail "no root volume: '$root'" || return 1
	awsx ec2 modify-volume --volume-id "$root" --size 6 >/dev/null || fail "modify-volume: $(head -c 300 "$ERR")" || return 1
	for _ in $(seq 120); do
		size=$(awsx ec2 describe-volumes --volume-ids "$root" --query 'Volumes[0].Size' --output text)
		[[ $size == 6 ]] && break
		sleep 0.5
	done
	[[ $size == 6 ]] || fail "the volume is $size GiB after modify-volume, want 6" || return 1
	# The guest's kernel sees the new capacity at once; the partition and the file
	# system are the user's to grow, as on EC2.
	out=$(on_instance 0 'for _ in $(seq 100); do [ "$(lsblk -bdno SIZE /dev/xvda)" = 6442450944 ] && break; sleep 0.1; done
		lsblk -bdno SIZE /dev/xvda' 2>&1)
	[[ $out == 6442450944 ]] || fail "lsblk shows /dev/xvda as $out, want 6442450944 bytes" || return 1
	# A container instance's root file system is mounted by the host from the
	# partition as it was at start (docs/instances.md): only a VM grows it inside.
	[[ ${STRATO_DRIVER:-} == container ]] && return 0
	out=$(on_instance 0 'sudo growpart /dev/xvda 1 && sudo resize2fs /dev/xvda1 2>&1 && df -B1M --output=size / | tail -1' 2>&1)
	[[ ${out##*$'\n'} =~ ^\ *([0-9]+)$ ]] && ((BASH_REMATCH[1] > 5500)) || fail "after growpart and resize2fs: $out"
}

test_terminate() {
	awsx ec2 terminate-instances --instance-ids "${INSTANCES[@]}" >/dev/null || fail "terminate: $(head -c 300 "$ERR")" || return 1
	[[ -z $VOLUME ]] && return 0
	wait_volume "$VOLUME" $'available\tNone' || return 1
	awsx ec2 delete-volume --volume-id "$VOLUME" || fail "delete-volume: $(head -c 300 "$ERR")"
}

check test_debian_image
check test_cloud_init_configures_the_instances
check test_volume_moves_between_instances
check test_root_volume_grows_while_running
check test_terminate
summary awscli_debian_test
