#!/usr/bin/env bash
# The seeds' walk-through, with the aws CLI against a strato with real instances
# (run.sh starts it with the container driver): VPC A 10.0.0.0/16 in us-east-1 and
# VPC B 10.1.0.0/16 in us-west-2, a peering requested from A and accepted in B's
# region, routes on both sides, a group in B that lets SSH in from 10.0.0.0/16 only.
# SSH reaches A through its public IP and B through A as a jump host (ssh -J); the
# host cannot reach B directly (B's group admits only A's network), and removing B's
# route back to A breaks the path.
set -u
. "$(dirname "$0")/awscli_lib.sh" awscli_peering_test
KEY=$W/key.pem
A_REGION=us-east-1 B_REGION=us-west-2
SSH_CONFIG=$W/ssh_config
A_INSTANCE="" B_INSTANCE="" A_PUBLIC="" B_PUBLIC="" B_PRIVATE="" PCX="" B_RTB="" A_RTB=""

# in_a/in_b run the CLI in one region.
in_a() { awsx --region "$A_REGION" "$@"; }
in_b() { awsx --region "$B_REGION" "$@"; }

ssh_to() { ssh -F "$SSH_CONFIG" "$@"; }

# wait_running REGION ID: polls until the instance runs (60 s at most).
wait_running() {
	local region=$1 id=$2 got
	for _ in $(seq 300); do
		got=$(awsx --region "$region" ec2 describe-instances --instance-ids "$id" --query 'Reservations[0].Instances[0].State.Name' --output text)
		[[ $got == running ]] && return 0
		sleep 0.2
	done
	fail "$id is '$got', not running, after 60 s"
}

# public_network REGION CIDR SUBNET NAME: a VPC with an internet gateway and a
# subnet whose route table sends 0.0.0.0/0 to it; prints "vpc subnet rtb".
public_network() {
	local region=$1 cidr=$2 subnet_cidr=$3 vpc subnet igw rtb
	vpc=$(awsx --region "$region" ec2 create-vpc --cidr-block "$cidr" --query Vpc.VpcId --output text) || return 1
	subnet=$(awsx --region "$region" ec2 create-subnet --vpc-id "$vpc" --cidr-block "$subnet_cidr" --query Subnet.SubnetId --output text) || return 1
	awsx --region "$region" ec2 modify-subnet-attribute --subnet-id "$subnet" --map-public-ip-on-launch || return 1
	igw=$(awsx --region "$region" ec2 create-internet-gateway --query InternetGateway.InternetGatewayId --output text) || return 1
	awsx --region "$region" ec2 attach-internet-gateway --internet-gateway-id "$igw" --vpc-id "$vpc" || return 1
	rtb=$(awsx --region "$region" ec2 create-route-table --vpc-id "$vpc" --query RouteTable.RouteTableId --output text) || return 1
	awsx --region "$region" ec2 associate-route-table --route-table-id "$rtb" --subnet-id "$subnet" >/dev/null || return 1
	awsx --region "$region" ec2 create-route --route-table-id "$rtb" --destination-cidr-block 0.0.0.0/0 --gateway-id "$igw" >/dev/null || return 1
	echo "$vpc $subnet $rtb"
}

# ssh_group_in REGION VPC NAME CIDR: a group that lets SSH in from CIDR.
ssh_group_in() {
	local region=$1 vpc=$2 name=$3 cidr=$4 id
	id=$(awsx --region "$region" ec2 create-security-group --vpc-id "$vpc" --group-name "$name" --description "SSH from $cidr" --query GroupId --output text) || return 1
	awsx --region "$region" ec2 authorize-security-group-ingress --group-id "$id" --protocol tcp --port 22 --cidr "$cidr" >/dev/null || return 1
	echo "$id"
}

# minimal_ami REGION: the minimal image's ID in REGION (strato's base images are
# registered in every region), built first if needed.
minimal_ami() {
	local region=$1 ami
	ami=$(awsx --region "$region" ec2 describe-images --owners amazon --filters 'Name=name,Values=strato-minimal-*' --query 'Images[0].ImageId' --output text)
	if [[ $ami != ami-* ]]; then
		"$STRATO_BIN" image build --data-dir "$STRATO_DATA_DIR" minimal >"$W/build.log" 2>&1 || return 1
		ami=$(awsx --region "$region" ec2 describe-images --owners amazon --filters 'Name=name,Values=strato-minimal-*' --query 'Images[0].ImageId' --output text)
	fi
	[[ $ami == ami-* ]] && echo "$ami"
}

test_two_vpcs_in_two_regions() {
	local a b a_vpc a_subnet b_vpc b_subnet a_group b_group a_ami b_ami
	a=$(public_network "$A_REGION" 10.0.0.0/16 10.0.1.0/24) || fail "VPC A: $(head -c 300 "$ERR")" || return 1
	b=$(public_network "$B_REGION" 10.1.0.0/16 10.1.1.0/24) || fail "VPC B: $(head -c 300 "$ERR")" || return 1
	read -r a_vpc a_subnet A_RTB <<<"$a"
	read -r b_vpc b_subnet B_RTB <<<"$b"
	a_group=$(ssh_group_in "$A_REGION" "$a_vpc" ssh-anywhere 0.0.0.0/0) || fail "group A: $(head -c 300 "$ERR")" || return 1
	b_group=$(ssh_group_in "$B_REGION" "$b_vpc" ssh-from-a 10.0.0.0/16) || fail "group B: $(head -c 300 "$ERR")" || return 1

	in_a ec2 delete-key-pair --key-name peering-key >/dev/null
	in_b ec2 delete-key-pair --key-name peering-key >/dev/null
	in_a ec2 create-key-pair --key-name peering-key --query KeyMaterial --output text >"$KEY" || fail "create-key-pair" || return 1
	chmod 600 "$KEY"
	ssh-keygen -y -f "$KEY" >"$W/key.pub" || fail "ssh-keygen -y" || return 1
	in_b ec2 import-key-pair --key-name peering-key --public-key-material "fileb://$W/key.pub" >/dev/null || fail "import-key-pair: $(head -c 300 "$ERR")" || return 1
	cat >"$SSH_CONFIG" <<EOF
Host *
	User ec2-user
	IdentityFile $KEY
	IdentitiesOnly yes
	StrictHostKeyChecking no
	UserKnownHostsFile /dev/null
	LogLevel ERROR
	ConnectTimeout 5
	BatchMode yes
EOF

	a_ami=$(minimal_ami "$A_REGION") || fail "no minimal image in $A_REGION: $(tail -3 "$W/build.log")" || return 1
	b_ami=$(minimal_ami "$B_REGION") || fail "no minimal image in $B_REGION" || return 1
	A_INSTANCE=$(in_a ec2 run-instances --image-id "$a_ami" --instance-type t3.micro --key-name peering-key \
		--subnet-id "$a_subnet" --security-group-ids "$a_group" --query 'Instances[0].InstanceId' --output text) || fail "run A: $(head -c 300 "$ERR")" || return 1
	B_INSTANCE=$(in_b ec2 run-instances --image-id "$b_ami" --instance-type t3.micro --key-name peering-key \
		--subnet-id "$b_subnet" --security-group-ids "$b_group" --query 'Instances[0].InstanceId' --output text) || fail "run B: $(head -c 300 "$ERR")" || return 1
	wait_running "$A_REGION" "$A_INSTANCE" || return 1
	wait_running "$B_REGION" "$B_INSTANCE" || return 1
	A_PUBLIC=$(in_a ec2 describe-instances --instance-ids "$A_INSTANCE" --query 'Reservations[0].Instances[0].PublicIpAddress' --output text)
	read -r B_PUBLIC B_PRIVATE <<<"$(in_b ec2 describe-instances --instance-ids "$B_INSTANCE" --query 'Reservations[0].Instances[0].[PublicIpAddress,PrivateIpAddress]' --output text)"
	[[ $A_PUBLIC =~ ^198\.1[89]\. && $B_PUBLIC =~ ^198\.1[89]\. && $B_PRIVATE == 10.1.1.* ]] ||
		fail "addresses: A public '$A_PUBLIC', B public '$B_PUBLIC', B private '$B_PRIVATE'" || return 1

	PCX=$(in_a ec2 create-vpc-peering-connection --vpc-id "$a_vpc" --peer-vpc-id "$b_vpc" --peer-region "$B_REGION" \
		--query VpcPeeringConnection.VpcPeeringConnectionId --output text) || fail "create-vpc-peering-connection: $(head -c 300 "$ERR")" || return 1
	local state
	for _ in $(seq 50); do
		state=$(in_b ec2 describe-vpc-peering-connections --vpc-peering-connection-ids "$PCX" --query 'VpcPeeringConnections[0].Status.Code' --output text)
		[[ $state == pending-acceptance ]] && break
		sleep 0.2
	done
	[[ $state == pending-acceptance ]] || fail "the peering is '$state' in $B_REGION" || return 1
	in_b ec2 accept-vpc-peering-connection --vpc-peering-connection-id "$PCX" >/dev/null || fail "accept in $B_REGION: $(head -c 300 "$ERR")" || return 1
	in_a ec2 create-route --route-table-id "$A_RTB" --destination-cidr-block 10.1.0.0/16 --vpc-peering-connection-id "$PCX" >/dev/null ||
		fail "route in A: $(head -c 300 "$ERR")" || return 1
	in_b ec2 create-route --route-table-id "$B_RTB" --destination-cidr-block 10.0.0.0/16 --vpc-peering-connection-id "$PCX" >/dev/null ||
		fail "route in B: $(head -c 300 "$ERR")"
}

test_ssh_to_a_public_ip() {
	local out
	for _ in $(seq 150); do
		out=$(ssh_to "$A_PUBLIC" hostname 2>&1) && break
		sleep 0.2
	done
	[[ $out == ip-10-0-1-* ]] || fail "SSH to A at $A_PUBLIC: $out"
}

test_ssh_jump_through_a_to_b() {
	local out
	for _ in $(seq 50); do
		out=$(ssh_to -J "$A_PUBLIC" "$B_PRIVATE" hostname 2>&1) && break
		sleep 0.2
	done
	[[ $out == "ip-${B_PRIVATE//./-}" ]] || fail "ssh -J $A_PUBLIC $B_PRIVATE: $out"
}

test_host_cannot_reach_b_directly() {
	# B has a public address, but its group admits SSH from 10.0.0.0/16 only.
	local out
	if out=$(ssh_to -o ConnectTimeout=3 "$B_PUBLIC" hostname 2>&1); then
		fail "the host reached B at $B_PUBLIC directly: $out"
	fi
}

test_removing_a_route_breaks_it() {
	local out
	in_b ec2 delete-route --route-table-id "$B_RTB" --destination-cidr-block 10.0.0.0/16 || fail "delete-route: $(head -c 300 "$ERR")" || return 1
	sleep 1
	if out=$(timeout 30 ssh -F "$SSH_CONFIG" -J "$A_PUBLIC" "$B_PRIVATE" hostname 2>&1); then
		fail "ssh -J still reaches B without B's route back: $out" || return 1
	fi
	# Put back, it works again: the route alone made the difference.
	in_b ec2 create-route --route-table-id "$B_RTB" --destination-cidr-block 10.0.0.0/16 --vpc-peering-connection-id "$PCX" >/dev/null ||
		fail "route in B again: $(head -c 300 "$ERR")" || return 1
	for _ in $(seq 50); do
		out=$(ssh_to -J "$A_PUBLIC" "$B_PRIVATE" hostname 2>&1) && return 0
		sleep 0.2
	done
	fail "ssh -J after the route is back: $out"
}

test_cleanup() {
	[[ -n $A_INSTANCE ]] && in_a ec2 terminate-instances --instance-ids "$A_INSTANCE" >/dev/null
	[[ -n $B_INSTANCE ]] && in_b ec2 terminate-instances --instance-ids "$B_INSTANCE" >/dev/null
	return 0
}

check test_two_vpcs_in_two_regions
if [[ -n $A_PUBLIC && -n $B_PRIVATE ]]; then
	check test_ssh_to_a_public_ip
	check test_ssh_jump_through_a_to_b
	check test_host_cannot_reach_b_directly
	check test_removing_a_route_breaks_it
fi
check test_cleanup
summary awscli_peering_test
