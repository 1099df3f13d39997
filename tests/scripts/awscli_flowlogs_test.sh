#!/usr/bin/env bash
# Script test: VPC Flow Logs through Debian's aws CLI, API level (the records
# themselves need the real dataplane: internal/vpcnet's TestFlowLogRecordsFromNFLOG).
# Checks run in order and share the IDs they make.
set -u
. "$(dirname "$0")/awscli_lib.sh" awscli_flowlogs

ROLE=arn:aws:iam::123456789012:role/flow-logs
VPC="" SUBNET="" ENI="" VPC_LOG="" ENI_LOG=""

# q CMD...: runs an awsx call with --output text and prints the answer.
q() { awsx "$@" --output text || { echo "exit $?: $(head -c 300 "$ERR")" >&2; return 1; }; }

# refused CODE CMD...: the call must fail with CODE.
refused() {
	local code=$1; shift
	awsx "$@" >/dev/null
	expect_error $? "$code" || fail "$* → $WHY"
}

test_create() {
	VPC=$(q ec2 create-vpc --cidr-block 10.20.0.0/16 --query Vpc.VpcId) || fail "create-vpc" || return 1
	SUBNET=$(q ec2 create-subnet --vpc-id "$VPC" --cidr-block 10.20.1.0/24 --query Subnet.SubnetId) || fail "create-subnet" || return 1
	ENI=$(q ec2 create-network-interface --subnet-id "$SUBNET" --query NetworkInterface.NetworkInterfaceId) || fail "create-network-interface" || return 1
	VPC_LOG=$(q ec2 create-flow-logs --resource-type VPC --resource-ids "$VPC" --traffic-type ALL \
		--log-group-name /strato/flows --deliver-logs-permission-arn "$ROLE" \
		--tag-specifications 'ResourceType=vpc-flow-log,Tags=[{Key=Name,Value=all}]' --query 'FlowLogIds[0]') || fail "create VPC flow log" || return 1
	[[ $VPC_LOG == fl-* ]] || fail "VPC flow log ID '$VPC_LOG'" || return 1
	local out
	out=$(q ec2 create-flow-logs --resource-type NetworkInterface --resource-ids "$ENI" eni-0123456789abcdef0 --traffic-type REJECT \
		--log-destination-type cloud-watch-logs --log-destination arn:aws:logs:us-east-1:123456789012:log-group:rejects \
		--deliver-logs-permission-arn "$ROLE" --log-format '${interface-id} ${srcaddr} ${dstaddr} ${action}' --max-aggregation-interval 60 \
		--query '[FlowLogIds[0], Unsuccessful[0].ResourceId, Unsuccessful[0].Error.Code]') || fail "create ENI flow log" || return 1
	read -r ENI_LOG missing code <<<"$out"
	[[ $ENI_LOG == fl-* && $missing == eni-0123456789abcdef0 && $code == InvalidNetworkInterfaceID.NotFound ]] ||
		fail "one made and one missing interface reported, got '$out'"
}

test_refusals() {
	local out
	out=$(q ec2 create-flow-logs --resource-type VPC --resource-ids "$VPC" --traffic-type REJECT --log-group-name /strato/flows \
		--deliver-logs-permission-arn "$ROLE" --query 'Unsuccessful[0].Error.Code') || return 1
	[[ $out == FlowLogAlreadyExists ]] || fail "same destination again: '$out'" || return 1
	q ec2 create-flow-logs --resource-type VPC --resource-ids "$VPC" --traffic-type ACCEPT --log-group-name second \
		--deliver-logs-permission-arn "$ROLE" >/dev/null || fail "second flow log of the VPC" || return 1
	out=$(q ec2 create-flow-logs --resource-type VPC --resource-ids "$VPC" --traffic-type ACCEPT --log-group-name third \
		--deliver-logs-permission-arn "$ROLE" --query 'Unsuccessful[0].Error.Code') || return 1
	[[ $out == FlowLogsLimitExceeded ]] || fail "third flow log of the VPC: '$out'" || return 1
	refused UnsupportedOperation ec2 create-flow-logs --resource-type VPC --resource-ids "$VPC" --traffic-type ALL \
		--log-destination-type s3 --log-destination arn:aws:s3:::bucket || return 1
	refused InvalidParameter ec2 create-flow-logs --resource-type Subnet --resource-ids "$SUBNET" --traffic-type ALL \
		--log-group-name g --deliver-logs-permission-arn "$ROLE" --log-format '${srcaddr} ${colour}' || return 1
	refused InvalidParameterValue ec2 create-flow-logs --resource-type Subnet --resource-ids "$SUBNET" --traffic-type ALL \
		--log-group-name g --deliver-logs-permission-arn "$ROLE" --max-aggregation-interval 120 || return 1
	refused InvalidParameter ec2 create-flow-logs --resource-type Subnet --resource-ids "$SUBNET" --traffic-type ALL --log-group-name g
}

test_describe() {
	local out
	out=$(q ec2 describe-flow-logs --filter Name=resource-id,Values="$VPC" Name=traffic-type,Values=ALL \
		--query 'FlowLogs[].[FlowLogId,LogGroupName,FlowLogStatus,DeliverLogsStatus,MaxAggregationInterval]') || return 1
	[[ $out == "$VPC_LOG"$'\t'/strato/flows$'\t'ACTIVE$'\t'SUCCESS$'\t'600 ]] || fail "VPC flow log described as '$out'" || return 1
	out=$(q ec2 describe-flow-logs --flow-log-ids "$ENI_LOG" --query 'FlowLogs[0].[LogFormat,LogGroupName,MaxAggregationInterval]') || return 1
	[[ $out == '${interface-id} ${srcaddr} ${dstaddr} ${action}'$'\t'rejects$'\t'60 ]] || fail "ENI flow log described as '$out'" || return 1
	out=$(q ec2 describe-flow-logs --filter Name=tag:Name,Values=all --query 'FlowLogs[].FlowLogId') || return 1
	[[ $out == "$VPC_LOG" ]] || fail "by tag: '$out'" || return 1
	out=$(q ec2 describe-flow-logs --query 'length(FlowLogs)') || return 1
	[[ $out == 3 ]] || fail "$out flow logs, want 3" || return 1
	# The CLI pages through all of them two at a time.
	out=$(q ec2 describe-flow-logs --page-size 2 --query 'FlowLogs[].FlowLogId') || return 1
	[[ $(wc -w <<<"$out") == 3 ]] || fail "paged: '$out', want 3 flow logs"
}

test_delete() {
	local out
	out=$(q ec2 delete-flow-logs --flow-log-ids "$ENI_LOG" fl-0123456789abcdef0 --query 'Unsuccessful[].[ResourceId,Error.Code]') || return 1
	[[ $out == fl-0123456789abcdef0$'\t'InvalidFlowLogId.NotFound ]] || fail "delete with a missing ID: '$out'" || return 1
	out=$(q ec2 describe-flow-logs --flow-log-ids "$ENI_LOG" --query 'length(FlowLogs)') || return 1
	[[ $out == 0 ]] || fail "deleted flow log still listed" || return 1
	awsx ec2 delete-network-interface --network-interface-id "$ENI" || fail "delete ENI: $(head -c 300 "$ERR")" || return 1
	awsx ec2 delete-subnet --subnet-id "$SUBNET" || fail "delete subnet: $(head -c 300 "$ERR")" || return 1
	# Flow logs do not keep their VPC, and go with it.
	awsx ec2 delete-vpc --vpc-id "$VPC" || fail "delete VPC with flow logs: $(head -c 300 "$ERR")" || return 1
	out=$(q ec2 describe-flow-logs --query 'length(FlowLogs)') || return 1
	[[ $out == 0 ]] || fail "$out flow logs left after their VPC went"
}

CHECKS=(
	test_create
	test_refusals
	test_describe
	test_delete
)
for c in "${CHECKS[@]}"; do check "$c"; done
summary awscli_flowlogs
