#!/usr/bin/env bash
# Script test: a three-tier VPC built and torn down with Debian's aws CLI, the way
# users' shell scripts do it, against a running strato (see run.sh for the
# environment). Checks run in order and share the IDs they make.
set -u
. "$(dirname "$0")/awscli_lib.sh" awscli_vpc

# id CMD...: runs an awsx call whose --query yields one ID, and prints it.
id() {
	local out
	out=$(awsx "$@" --output text) || { echo "exit $?: $(head -c 300 "$ERR")" >&2; return 1; }
	[[ -n $out && $out != None ]] || { echo "no ID from: $*" >&2; return 1; }
	echo "$out"
}

# refused CODE CMD...: the call must fail with CODE.
refused() {
	local code=$1; shift
	awsx "$@" >/dev/null
	expect_error $? "$code" || fail "$* → $WHY"
}

declare -A SUBNET
VPC="" PEER="" IGW="" PUBLIC_RT="" PRIVATE_RT="" NAT="" NAT_ALLOC="" EIP_ALLOC="" EIP_ASSOC=""
WEB_SG="" APP_SG="" DB_SG="" DB_ACL="" APP_ENI="" WEB_ENI="" PCX=""

test_default_vpc() {
	local vpc out
	vpc=$(id ec2 describe-account-attributes --attribute-names default-vpc --query 'AccountAttributes[0].AttributeValues[0].AttributeValue') || fail "no default-vpc attribute" || return 1
	[[ $vpc == vpc-* ]] || fail "default-vpc is $vpc" || return 1
	out=$(awsx ec2 describe-vpcs --filters Name=is-default,Values=true --query 'Vpcs[].[VpcId,CidrBlock]' --output text)
	[[ $out == "$vpc"$'\t'172.31.0.0/16 ]] || fail "default VPC described as '$out'" || return 1
	out=$(awsx ec2 describe-subnets --filters Name=vpc-id,Values="$vpc" Name=default-for-az,Values=true --query 'length(Subnets[?MapPublicIpOnLaunch])')
	[[ $out == 6 ]] || fail "$out default subnets mapping public IPs, want one per us-east-1 zone" || return 1
	out=$(awsx ec2 describe-route-tables --filters Name=vpc-id,Values="$vpc" Name=association.main,Values=true \
		--query 'RouteTables[0].Routes[?DestinationCidrBlock==`0.0.0.0/0`].GatewayId' --output text)
	[[ $out == igw-* ]] || fail "main route table's default route goes to '$out'" || return 1
	out=$(awsx ec2 describe-security-groups --filters Name=vpc-id,Values="$vpc" Name=group-name,Values=default --query 'length(SecurityGroups)')
	[[ $out == 1 ]] || fail "$out default security groups" || return 1
	out=$(awsx ec2 describe-network-acls --filters Name=vpc-id,Values="$vpc" Name=default,Values=true --query 'length(NetworkAcls[0].Associations)')
	[[ $out == 6 ]] || fail "default ACL has $out subnet associations, want 6"
}

test_build_network() {
	VPC=$(id ec2 create-vpc --cidr-block 10.0.0.0/16 --tag-specifications 'ResourceType=vpc,Tags=[{Key=Name,Value=three-tier}]' --query Vpc.VpcId) || fail "create-vpc" || return 1
	local spec name cidr zone
	for spec in public-a:10.0.0.0/24:us-east-1a public-b:10.0.1.0/24:us-east-1b app-a:10.0.10.0/24:us-east-1a \
		app-b:10.0.11.0/24:us-east-1b db-a:10.0.20.0/24:us-east-1a db-b:10.0.21.0/24:us-east-1b; do
		IFS=: read -r name cidr zone <<<"$spec"
		SUBNET[$name]=$(id ec2 create-subnet --vpc-id "$VPC" --cidr-block "$cidr" --availability-zone "$zone" \
			--tag-specifications "ResourceType=subnet,Tags=[{Key=Name,Value=$name}]" --query Subnet.SubnetId) || fail "create-subnet $name" || return 1
	done
	refused InvalidSubnet.Conflict ec2 create-subnet --vpc-id "$VPC" --cidr-block 10.0.0.128/25 || return 1
	refused InvalidSubnet.Range ec2 create-subnet --vpc-id "$VPC" --cidr-block 10.9.0.0/24 || return 1
	IGW=$(id ec2 create-internet-gateway --query InternetGateway.InternetGatewayId) || fail "create-internet-gateway" || return 1
	awsx ec2 attach-internet-gateway --internet-gateway-id "$IGW" --vpc-id "$VPC" || fail "attach: $(head -c 300 "$ERR")" || return 1
	PUBLIC_RT=$(id ec2 create-route-table --vpc-id "$VPC" --query RouteTable.RouteTableId) || fail "create-route-table" || return 1
	awsx ec2 create-route --route-table-id "$PUBLIC_RT" --destination-cidr-block 0.0.0.0/0 --gateway-id "$IGW" >/dev/null || fail "create-route: $(head -c 300 "$ERR")" || return 1
	refused RouteAlreadyExists ec2 create-route --route-table-id "$PUBLIC_RT" --destination-cidr-block 0.0.0.0/0 --gateway-id "$IGW" || return 1
	for name in public-a public-b; do
		awsx ec2 associate-route-table --route-table-id "$PUBLIC_RT" --subnet-id "${SUBNET[$name]}" >/dev/null || fail "associate $name" || return 1
		awsx ec2 modify-subnet-attribute --subnet-id "${SUBNET[$name]}" --map-public-ip-on-launch || fail "map public IPs" || return 1
	done
	NAT_ALLOC=$(id ec2 allocate-address --domain vpc --query AllocationId) || fail "allocate-address" || return 1
	NAT=$(id ec2 create-nat-gateway --subnet-id "${SUBNET[public-a]}" --allocation-id "$NAT_ALLOC" --query NatGateway.NatGatewayId) || fail "create-nat-gateway" || return 1
	awsx ec2 wait nat-gateway-available --nat-gateway-ids "$NAT" || fail "NAT gateway never available: $(head -c 300 "$ERR")" || return 1
	PRIVATE_RT=$(id ec2 create-route-table --vpc-id "$VPC" --query RouteTable.RouteTableId) || fail "create-route-table" || return 1
	awsx ec2 create-route --route-table-id "$PRIVATE_RT" --destination-cidr-block 0.0.0.0/0 --nat-gateway-id "$NAT" >/dev/null || fail "route to NAT: $(head -c 300 "$ERR")" || return 1
	for name in app-a app-b db-a db-b; do
		awsx ec2 associate-route-table --route-table-id "$PRIVATE_RT" --subnet-id "${SUBNET[$name]}" >/dev/null || fail "associate $name" || return 1
	done
	local out
	out=$(awsx ec2 describe-route-tables --filters Name=association.subnet-id,Values="${SUBNET[db-a]}" --query 'RouteTables[0].Routes[?NatGatewayId].State' --output text)
	[[ $out == active ]] || fail "db-a's route to the NAT gateway is '$out'"
}

test_security_groups() {
	WEB_SG=$(id ec2 create-security-group --group-name web --description "web tier" --vpc-id "$VPC" --query GroupId) || fail "web" || return 1
	APP_SG=$(id ec2 create-security-group --group-name app --description "app tier" --vpc-id "$VPC" --query GroupId) || fail "app" || return 1
	DB_SG=$(id ec2 create-security-group --group-name db --description "db tier" --vpc-id "$VPC" --query GroupId) || fail "db" || return 1
	refused InvalidGroup.Duplicate ec2 create-security-group --group-name web --description again --vpc-id "$VPC" || return 1
	awsx ec2 authorize-security-group-ingress --group-id "$WEB_SG" --protocol tcp --port 443 --cidr 0.0.0.0/0 >/dev/null || fail "web rule: $(head -c 300 "$ERR")" || return 1
	awsx ec2 authorize-security-group-ingress --group-id "$APP_SG" --protocol tcp --port 8080 --source-group "$WEB_SG" >/dev/null || fail "app rule: $(head -c 300 "$ERR")" || return 1
	awsx ec2 authorize-security-group-ingress --group-id "$DB_SG" --ip-permissions "IpProtocol=tcp,FromPort=5432,ToPort=5432,UserIdGroupPairs=[{GroupId=$APP_SG}]" >/dev/null || fail "db rule: $(head -c 300 "$ERR")" || return 1
	refused InvalidPermission.Duplicate ec2 authorize-security-group-ingress --group-id "$DB_SG" --protocol tcp --port 5432 --source-group "$APP_SG" || return 1
	local out
	out=$(awsx ec2 describe-security-groups --group-ids "$DB_SG" --query 'SecurityGroups[0].IpPermissions[0].[FromPort,UserIdGroupPairs[0].GroupId]' --output text)
	[[ $out == 5432$'\t'"$APP_SG" ]] || fail "db group's rule: '$out'" || return 1
	out=$(awsx ec2 describe-security-group-rules --filters Name=group-id,Values="$APP_SG" --query 'SecurityGroupRules[?!IsEgress].SecurityGroupRuleId' --output text)
	[[ $out == sgr-* ]] || fail "app group's rule ID: '$out'"
}

test_network_acls() {
	DB_ACL=$(id ec2 create-network-acl --vpc-id "$VPC" --query NetworkAcl.NetworkAclId) || fail "create-network-acl" || return 1
	awsx ec2 create-network-acl-entry --network-acl-id "$DB_ACL" --ingress --rule-number 100 --protocol tcp --port-range From=5432,To=5432 \
		--cidr-block 10.0.10.0/23 --rule-action allow || fail "ingress entry: $(head -c 300 "$ERR")" || return 1
	awsx ec2 create-network-acl-entry --network-acl-id "$DB_ACL" --egress --rule-number 100 --protocol tcp --port-range From=1024,To=65535 \
		--cidr-block 10.0.10.0/23 --rule-action allow || fail "egress entry: $(head -c 300 "$ERR")" || return 1
	refused NetworkAclEntryAlreadyExists ec2 create-network-acl-entry --network-acl-id "$DB_ACL" --egress --rule-number 100 --protocol -1 \
		--cidr-block 0.0.0.0/0 --rule-action deny || return 1
	local name assoc
	for name in db-a db-b; do
		assoc=$(id ec2 describe-network-acls --filters Name=association.subnet-id,Values="${SUBNET[$name]}" \
			--query "NetworkAcls[0].Associations[?SubnetId=='${SUBNET[$name]}'].NetworkAclAssociationId") || fail "no ACL association for $name" || return 1
		awsx ec2 replace-network-acl-association --association-id "$assoc" --network-acl-id "$DB_ACL" >/dev/null || fail "replace: $(head -c 300 "$ERR")" || return 1
	done
	local n
	n=$(awsx ec2 describe-network-acls --network-acl-ids "$DB_ACL" --query 'length(NetworkAcls[0].Associations)')
	[[ $n == 2 ]] || fail "db ACL has $n associations"
}

test_interfaces_and_addresses() {
	local before after
	before=$(awsx ec2 describe-subnets --subnet-ids "${SUBNET[app-a]}" --query 'Subnets[0].AvailableIpAddressCount')
	APP_ENI=$(id ec2 create-network-interface --subnet-id "${SUBNET[app-a]}" --groups "$APP_SG" --ipv4-prefix-count 1 \
		--query NetworkInterface.NetworkInterfaceId) || fail "create-network-interface: $(head -c 300 "$ERR")" || return 1
	after=$(awsx ec2 describe-subnets --subnet-ids "${SUBNET[app-a]}" --query 'Subnets[0].AvailableIpAddressCount')
	((after == before - 17)) || fail "free addresses $before → $after after an interface with a /28" || return 1
	local prefix
	prefix=$(awsx ec2 describe-network-interfaces --network-interface-ids "$APP_ENI" --query 'NetworkInterfaces[0].Ipv4Prefixes[0].Ipv4Prefix' --output text)
	[[ $prefix == 10.0.10.*/28 ]] || fail "prefix '$prefix'" || return 1
	WEB_ENI=$(id ec2 create-network-interface --subnet-id "${SUBNET[public-a]}" --groups "$WEB_SG" --query NetworkInterface.NetworkInterfaceId) || fail "web interface" || return 1
	EIP_ALLOC=$(id ec2 allocate-address --domain vpc --query AllocationId) || fail "allocate-address" || return 1
	EIP_ASSOC=$(id ec2 associate-address --allocation-id "$EIP_ALLOC" --network-interface-id "$WEB_ENI" --query AssociationId) || fail "associate-address" || return 1
	local ip
	ip=$(awsx ec2 describe-addresses --allocation-ids "$EIP_ALLOC" --query 'Addresses[0].[NetworkInterfaceId,PublicIp]' --output text)
	[[ $ip == "$WEB_ENI"$'\t'198.1[89].* ]] || fail "address '$ip'"
}

test_peering() {
	PEER=$(id ec2 create-vpc --cidr-block 10.1.0.0/16 --query Vpc.VpcId) || fail "peer VPC" || return 1
	PCX=$(id ec2 create-vpc-peering-connection --vpc-id "$VPC" --peer-vpc-id "$PEER" --query VpcPeeringConnection.VpcPeeringConnectionId) || fail "create peering: $(head -c 300 "$ERR")" || return 1
	awsx ec2 accept-vpc-peering-connection --vpc-peering-connection-id "$PCX" >/dev/null || fail "accept: $(head -c 300 "$ERR")" || return 1
	local state
	state=$(awsx ec2 describe-vpc-peering-connections --vpc-peering-connection-ids "$PCX" --query 'VpcPeeringConnections[0].Status.Code' --output text)
	[[ $state == active ]] || fail "peering is $state" || return 1
	awsx ec2 create-route --route-table-id "$PRIVATE_RT" --destination-cidr-block 10.1.0.0/16 --vpc-peering-connection-id "$PCX" >/dev/null || fail "route to peer: $(head -c 300 "$ERR")"
}

test_wrong_deletion_orders() {
	refused DependencyViolation ec2 delete-vpc --vpc-id "$VPC" || return 1
	refused DependencyViolation ec2 detach-internet-gateway --internet-gateway-id "$IGW" --vpc-id "$VPC" || return 1
	refused DependencyViolation ec2 delete-internet-gateway --internet-gateway-id "$IGW" || return 1
	refused DependencyViolation ec2 delete-subnet --subnet-id "${SUBNET[app-a]}" || return 1
	refused DependencyViolation ec2 delete-subnet --subnet-id "${SUBNET[public-a]}" || return 1
	refused DependencyViolation ec2 delete-security-group --group-id "$APP_SG" || return 1
	refused DependencyViolation ec2 delete-route-table --route-table-id "$PUBLIC_RT" || return 1
	refused DependencyViolation ec2 delete-network-acl --network-acl-id "$DB_ACL" || return 1
	refused InvalidIPAddress.InUse ec2 release-address --allocation-id "$EIP_ALLOC"
}

test_tear_down() {
	awsx ec2 disassociate-address --association-id "$EIP_ASSOC" || fail "disassociate-address" || return 1
	awsx ec2 release-address --allocation-id "$EIP_ALLOC" || fail "release-address" || return 1
	awsx ec2 delete-network-interface --network-interface-id "$APP_ENI" || fail "delete app interface" || return 1
	awsx ec2 delete-network-interface --network-interface-id "$WEB_ENI" || fail "delete web interface" || return 1
	awsx ec2 delete-vpc-peering-connection --vpc-peering-connection-id "$PCX" >/dev/null || fail "delete peering" || return 1
	awsx ec2 delete-nat-gateway --nat-gateway-id "$NAT" >/dev/null || fail "delete NAT" || return 1
	awsx ec2 wait nat-gateway-deleted --nat-gateway-ids "$NAT" || fail "NAT gateway never deleted" || return 1
	awsx ec2 release-address --allocation-id "$NAT_ALLOC" || fail "release NAT address: $(head -c 300 "$ERR")" || return 1
	local g name rt
	for g in "$DB_SG" "$APP_SG" "$WEB_SG"; do
		awsx ec2 delete-security-group --group-id "$g" || fail "delete group $g: $(head -c 300 "$ERR")" || return 1
	done
	for name in "${!SUBNET[@]}"; do
		awsx ec2 delete-subnet --subnet-id "${SUBNET[$name]}" || fail "delete subnet $name: $(head -c 300 "$ERR")" || return 1
	done
	for rt in "$PUBLIC_RT" "$PRIVATE_RT"; do
		awsx ec2 delete-route-table --route-table-id "$rt" || fail "delete route table $rt: $(head -c 300 "$ERR")" || return 1
	done
	awsx ec2 delete-network-acl --network-acl-id "$DB_ACL" || fail "delete ACL: $(head -c 300 "$ERR")" || return 1
	awsx ec2 detach-internet-gateway --internet-gateway-id "$IGW" --vpc-id "$VPC" || fail "detach: $(head -c 300 "$ERR")" || return 1
	awsx ec2 delete-internet-gateway --internet-gateway-id "$IGW" || fail "delete gateway" || return 1
	awsx ec2 delete-vpc --vpc-id "$VPC" || fail "delete VPC: $(head -c 300 "$ERR")" || return 1
	awsx ec2 delete-vpc --vpc-id "$PEER" || fail "delete peer VPC: $(head -c 300 "$ERR")"
}

CHECKS=(
	test_default_vpc
	test_build_network
	test_security_groups
	test_network_acls
	test_interfaces_and_addresses
	test_peering
	test_wrong_deletion_orders
	test_tear_down
)
for c in "${CHECKS[@]}"; do check "$c"; done
summary awscli_vpc
