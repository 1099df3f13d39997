#!/usr/bin/env bash
# Script test: EBS volumes, incremental snapshots, a copy to another Region and an
# AMI with Debian's aws CLI against a running strato (see run.sh for the
# environment). Data is written into the volume's file as a test helper would,
# straight into DATA/blocks/volumes/VOLUME.img (a plaintext volume's file holds its
# bytes). Checks run in order and share what they make.
set -u
. "$(dirname "$0")/awscli_lib.sh" awscli_ebs

# wait_for WHAT REGION QUERY WANT CMD...: polls an awsx describe call (every 0.2 s,
# 60 s at most) until QUERY gives WANT. The CLI's own waiters poll every 15 s.
wait_for() {
	local what=$1 region=$2 query=$3 want=$4 got=""
	shift 4
	for _ in $(seq 300); do
		got=$(awsx --region "$region" "$@" --query "$query" --output text) || { fail "$what: $(head -c 300 "$ERR")"; return 1; }
		[[ $got == "$want" ]] && return 0
		sleep 0.2
	done
	fail "$what is still '$got', want '$want'"
}

# stored_bytes SNAPSHOT: what the snapshot added to the chunk store.
stored_bytes() {
	"$STRATO_BIN" snapshot list --account "$ACCOUNT" --data-dir "$STRATO_DATA_DIR" | awk -v s="$1" '$1 == s {print $5}'
}

volume_file() { echo "$STRATO_DATA_DIR/blocks/volumes/$1.img"; }

ACCOUNT=$(awsx sts get-caller-identity --query Account --output text)
VOL="" SNAP1="" SNAP2="" COPY="" WEST_VOL="" AMI="" SUM=""
MiB=$((1024 * 1024))

test_volume_and_first_snapshot() {
	VOL=$(awsx ec2 create-volume --size 1 --availability-zone us-east-1a --volume-type gp3 --query VolumeId --output text) ||
		fail "create-volume: $(head -c 300 "$ERR")" || return 1
	wait_for "volume $VOL" us-east-1 'Volumes[0].State' available ec2 describe-volumes --volume-ids "$VOL" || return 1
	local file
	file=$(volume_file "$VOL")
	[[ -f $file ]] || fail "no file for $VOL" || return 1
	# 64 MiB of known data at the start of the 1 GiB volume.
	head -c $((64 * MiB)) /dev/urandom >"$W/data"
	dd if="$W/data" of="$file" bs=1M conv=notrunc,fsync status=none || fail "writing the volume" || return 1
	SNAP1=$(awsx ec2 create-snapshot --volume-id "$VOL" --description first --query SnapshotId --output text) || fail "create-snapshot: $(head -c 300 "$ERR")" || return 1
	wait_for "snapshot $SNAP1" us-east-1 'Snapshots[0].State' completed ec2 describe-snapshots --snapshot-ids "$SNAP1" || return 1
	local stored
	stored=$(stored_bytes "$SNAP1")
	# Random data does not compress: about 64 MiB stored, and nothing for the empty rest.
	((stored >= 60 * MiB && stored <= 70 * MiB)) || fail "first snapshot stored $stored bytes, want about 64 MiB"
}

test_incremental_snapshot() {
	local file stored
	file=$(volume_file "$VOL")
	# Change 2 MiB: one chunk inside the old data, one far beyond it.
	head -c $MiB /dev/urandom | dd of="$file" bs=1M seek=10 conv=notrunc,fsync status=none
	head -c $MiB /dev/urandom | dd of="$file" bs=1M seek=700 conv=notrunc,fsync status=none
	SUM=$(sha256sum "$file" | awk '{print $1}')
	SNAP2=$(awsx ec2 create-snapshot --volume-id "$VOL" --description second --query SnapshotId --output text) || fail "create-snapshot: $(head -c 300 "$ERR")" || return 1
	wait_for "snapshot $SNAP2" us-east-1 'Snapshots[0].State' completed ec2 describe-snapshots --snapshot-ids "$SNAP2" || return 1
	stored=$(stored_bytes "$SNAP2")
	((stored >= MiB && stored <= 3 * MiB)) || fail "second snapshot stored $stored bytes, want the 2 changed MiB only"
}

test_copy_and_restore_elsewhere() {
	COPY=$(awsx --region eu-west-1 ec2 copy-snapshot --source-region us-east-1 --source-snapshot-id "$SNAP2" --query SnapshotId --output text) ||
		fail "copy-snapshot: $(head -c 300 "$ERR")" || return 1
	wait_for "copy $COPY" eu-west-1 'Snapshots[0].State' completed ec2 describe-snapshots --snapshot-ids "$COPY" || return 1
	WEST_VOL=$(awsx --region eu-west-1 ec2 create-volume --snapshot-id "$COPY" --availability-zone eu-west-1b --size 2 --query VolumeId --output text) ||
		fail "create-volume from the copy: $(head -c 300 "$ERR")" || return 1
	wait_for "volume $WEST_VOL" eu-west-1 'Volumes[0].State' available ec2 describe-volumes --volume-ids "$WEST_VOL" || return 1
	local file got
	file=$(volume_file "$WEST_VOL")
	got=$(head -c $((1024 * MiB)) "$file" | sha256sum | awk '{print $1}')
	[[ $got == "$SUM" ]] || fail "restored data differs from the volume's at snapshot time" || return 1
	(($(stat -c %s "$file") == 2 * 1024 * MiB)) || fail "restored volume is not 2 GiB" || return 1
	# Sparse where the snapshot had no data: far less than 2 GiB on disk.
	(($(stat -c %b "$file") * 512 < 200 * MiB)) || fail "restored volume is not sparse ($(stat -c %b "$file") blocks)"
}

test_register_share_deregister() {
	AMI=$(awsx ec2 register-image --name "cli-test-image" --architecture x86_64 --virtualization-type hvm --root-device-name /dev/xvda \
		--block-device-mappings "DeviceName=/dev/xvda,Ebs={SnapshotId=$SNAP2}" --query ImageId --output text) ||
		fail "register-image: $(head -c 300 "$ERR")" || return 1
	local out other
	out=$(awsx ec2 describe-images --image-ids "$AMI" --query 'Images[0].[State,RootDeviceType,BlockDeviceMappings[0].Ebs.VolumeSize]' --output text)
	[[ $out == available$'\t'ebs$'\t'1 ]] || fail "image described as '$out'" || return 1
	awsx ec2 delete-snapshot --snapshot-id "$SNAP2" >/dev/null
	expect_error $? InvalidSnapshot.InUse || return 1
	"$STRATO_BIN" account create --name ebs-friend --data-dir "$STRATO_DATA_DIR" >/dev/null || fail "account create" || return 1
	other=$(awsx --profile ebs-friend sts get-caller-identity --query Account --output text)
	awsx ec2 modify-image-attribute --image-id "$AMI" --launch-permission "Add=[{UserId=$other}]" || fail "share: $(head -c 300 "$ERR")" || return 1
	out=$(awsx --profile ebs-friend ec2 describe-images --executable-users self --query 'Images[].ImageId' --output text)
	[[ $out == "$AMI" ]] || fail "the other account sees '$out'" || return 1
	awsx ec2 deregister-image --image-id "$AMI" || fail "deregister: $(head -c 300 "$ERR")" || return 1
	out=$(awsx --profile ebs-friend ec2 describe-images --executable-users self --query 'Images[].ImageId' --output text)
	[[ -z $out ]] || fail "deregistered image still visible: $out" || return 1
	awsx ec2 delete-snapshot --snapshot-id "$SNAP2" || fail "the snapshot is free after deregistering: $(head -c 300 "$ERR")"
}

test_clean_up() {
	awsx ec2 delete-snapshot --snapshot-id "$SNAP1" || fail "delete snapshot: $(head -c 300 "$ERR")" || return 1
	awsx ec2 delete-volume --volume-id "$VOL" || fail "delete volume: $(head -c 300 "$ERR")" || return 1
	awsx --region eu-west-1 ec2 delete-volume --volume-id "$WEST_VOL" || fail "delete west volume" || return 1
	awsx --region eu-west-1 ec2 delete-snapshot --snapshot-id "$COPY" || fail "delete copy" || return 1
	wait_for "deleted volume" us-east-1 'length(Volumes)' 0 ec2 describe-volumes --filters Name=volume-id,Values="$VOL"
}

CHECKS=(
	test_volume_and_first_snapshot
	test_incremental_snapshot
	test_copy_and_restore_elsewhere
	test_register_share_deregister
	test_clean_up
)
for c in "${CHECKS[@]}"; do check "$c"; done
summary awscli_ebs
