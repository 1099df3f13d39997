package ec2

import (
	"regexp"
	"strings"
	"testing"

	"strato/internal/awsapi"
)

const flowLogRole = "arn:aws:iam::123456789012:role/flow-logs"

var flowLogIDPattern = regexp.MustCompile(`fl-[0-9a-f]{17}`)

// createFlowLog makes a flow log to a log group and returns its ID.
func createFlowLog(t *testing.T, d *awsapi.EC2, resourceType, resourceID, traffic, group string, params ...string) string {
	t.Helper()
	args := append([]string{"ResourceType", resourceType, "ResourceId.1", resourceID, "TrafficType", traffic,
		"LogGroupName", group, "DeliverLogsPermissionArn", flowLogRole}, params...)
	body, err := callEC2(t, d, "CreateFlowLogs", args...)
	if err != nil {
		t.Fatal(err)
	}
	id := flowLogIDPattern.FindString(body)
	if id == "" {
		t.Fatalf("no flow log made: %s", body)
	}
	return id
}

func TestCreateFlowLogsValidation(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	base := func(extra ...string) []string {
		return append([]string{"ResourceType", "VPC", "ResourceId.1", vpc, "TrafficType", "ALL", "DeliverLogsPermissionArn", flowLogRole}, extra...)
	}
	runCases(t, d, []apiCase{
		{"no resource type", "CreateFlowLogs", []string{"ResourceId.1", vpc, "TrafficType", "ALL", "LogGroupName", "g", "DeliverLogsPermissionArn", flowLogRole}, "MissingParameter", ""},
		{"unknown resource type", "CreateFlowLogs", []string{"ResourceType", "Bucket", "ResourceId.1", vpc, "TrafficType", "ALL", "LogGroupName", "g", "DeliverLogsPermissionArn", flowLogRole}, "InvalidParameterValue", ""},
		{"transit gateways", "CreateFlowLogs", []string{"ResourceType", "TransitGateway", "ResourceId.1", "tgw-0123456789abcdef0", "LogGroupName", "g", "DeliverLogsPermissionArn", flowLogRole}, "UnsupportedOperation", ""},
		{"no traffic type", "CreateFlowLogs", []string{"ResourceType", "VPC", "ResourceId.1", vpc, "LogGroupName", "g", "DeliverLogsPermissionArn", flowLogRole}, "MissingParameter", ""},
		{"bad traffic type", "CreateFlowLogs", []string{"ResourceType", "VPC", "ResourceId.1", vpc, "TrafficType", "SOME", "LogGroupName", "g", "DeliverLogsPermissionArn", flowLogRole}, "InvalidParameterValue", ""},
		{"no destination", "CreateFlowLogs", base(), "InvalidParameter", ""},
		{"group and ARN", "CreateFlowLogs", base("LogGroupName", "g", "LogDestination", "arn:aws:logs:us-east-1:123456789012:log-group:g"), "InvalidParameter", ""},
		{"bad group ARN", "CreateFlowLogs", base("LogDestination", "arn:aws:s3:::bucket"), "InvalidParameter", ""},
		{"bad group name", "CreateFlowLogs", base("LogGroupName", "no spaces"), "InvalidParameter", ""},
		{"no role", "CreateFlowLogs", []string{"ResourceType", "VPC", "ResourceId.1", vpc, "TrafficType", "ALL", "LogGroupName", "g"}, "InvalidParameter", ""},
		{"bad role", "CreateFlowLogs", []string{"ResourceType", "VPC", "ResourceId.1", vpc, "TrafficType", "ALL", "LogGroupName", "g", "DeliverLogsPermissionArn", "role"}, "InvalidParameter", ""},
		{"s3", "CreateFlowLogs", base("LogDestinationType", "s3", "LogDestination", "arn:aws:s3:::bucket"), "UnsupportedOperation", ""},
		{"firehose", "CreateFlowLogs", base("LogDestinationType", "kinesis-data-firehose", "LogDestination", "arn:aws:firehose:us-east-1:123456789012:deliverystream/x"), "UnsupportedOperation", ""},
		{"unknown destination type", "CreateFlowLogs", base("LogDestinationType", "ftp", "LogGroupName", "g"), "InvalidParameterValue", ""},
		{"interval", "CreateFlowLogs", base("LogGroupName", "g", "MaxAggregationInterval", "300"), "InvalidParameterValue", ""},
		{"unknown field", "CreateFlowLogs", base("LogGroupName", "g", "LogFormat", "${srcaddr} ${colour}"), "InvalidParameter", ""},
		{"malformed format", "CreateFlowLogs", base("LogGroupName", "g", "LogFormat", "srcaddr,dstaddr"), "InvalidParameter", ""},
		{"s3 options to logs", "CreateFlowLogs", base("LogGroupName", "g", "DestinationOptions.FileFormat", "parquet"), "InvalidParameter", ""},
		{"wrong tag type", "CreateFlowLogs", base("LogGroupName", "g", "TagSpecification.1.ResourceType", "vpc", "TagSpecification.1.Tag.1.Key", "k"), "InvalidParameterValue", ""},
		{"dry run", "CreateFlowLogs", base("LogGroupName", "g", "DryRun", "true"), "DryRunOperation", ""},
		{"nothing made", "DescribeFlowLogs", nil, "", "<flowLogSet/>"},
		{"delete nothing", "DeleteFlowLogs", nil, "MissingParameter", ""},
	})
}

func TestFlowLogsLifecycle(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	eni, _ := createENI(t, d, subnet)
	vpcLog := createFlowLog(t, d, "VPC", vpc, "ALL", "/strato/vpc",
		"TagSpecification.1.ResourceType", "vpc-flow-log", "TagSpecification.1.Tag.1.Key", "team", "TagSpecification.1.Tag.1.Value", "net")
	body, err := callEC2(t, d, "CreateFlowLogs", "ResourceType", "NetworkInterface", "ResourceId.1", eni, "ResourceId.2", "eni-0123456789abcdef0",
		"TrafficType", "REJECT", "LogDestination", "arn:aws:logs:us-east-1:123456789012:log-group:rejects:*", "DeliverLogsPermissionArn", flowLogRole,
		"LogFormat", "${interface-id} ${action} ${flow-direction}", "MaxAggregationInterval", "60")
	if err != nil {
		t.Fatal(err)
	}
	eniLog := flowLogIDPattern.FindString(body)
	for _, want := range []string{"<resourceId>eni-0123456789abcdef0</resourceId>", "<code>InvalidNetworkInterfaceID.NotFound</code>"} {
		if eniLog == "" || !strings.Contains(body, want) {
			t.Errorf("a missing interface is reported, the other gets its flow log; lacks %s: %s", want, body)
		}
	}
	subnetLog := createFlowLog(t, d, "Subnet", subnet, "ACCEPT", "/strato/vpc")
	runCases(t, d, []apiCase{
		{"same resource and destination", "CreateFlowLogs", []string{"ResourceType", "VPC", "ResourceId.1", vpc, "TrafficType", "REJECT", "LogGroupName", "/strato/vpc", "DeliverLogsPermissionArn", flowLogRole}, "", "<code>FlowLogAlreadyExists</code>"},
		{"second of the VPC", "CreateFlowLogs", []string{"ResourceType", "VPC", "ResourceId.1", vpc, "TrafficType", "REJECT", "LogGroupName", "second", "DeliverLogsPermissionArn", flowLogRole}, "", "<flowLogIdSet><item>fl-"},
		{"third of the VPC", "CreateFlowLogs", []string{"ResourceType", "VPC", "ResourceId.1", vpc, "TrafficType", "REJECT", "LogGroupName", "third", "DeliverLogsPermissionArn", flowLogRole}, "", "<code>FlowLogsLimitExceeded</code>"},
		{"wrong kind of ID", "CreateFlowLogs", []string{"ResourceType", "Subnet", "ResourceId.1", vpc, "TrafficType", "ALL", "LogGroupName", "g", "DeliverLogsPermissionArn", flowLogRole}, "", "<code>InvalidSubnetID.NotFound</code>"},
		{"all four", "DescribeFlowLogs", nil, "", "<logFormat>${version} ${account-id} ${interface-id}"},
		{"by ID", "DescribeFlowLogs", []string{"FlowLogId.1", eniLog}, "", "<logFormat>${interface-id} ${action} ${flow-direction}</logFormat>"},
		{"an unknown ID is left out", "DescribeFlowLogs", []string{"FlowLogId.1", "fl-0123456789abcdef0"}, "", "<flowLogSet/>"},
		{"group from the ARN", "DescribeFlowLogs", []string{"Filter.1.Name", "log-group-name", "Filter.1.Value.1", "rejects"}, "", eniLog},
		{"ARN from the group", "DescribeFlowLogs", []string{"FlowLogId.1", vpcLog}, "", "<logDestination>arn:aws:logs:us-east-1:123456789012:log-group:/strato/vpc</logDestination>"},
		{"by resource", "DescribeFlowLogs", []string{"Filter.1.Name", "resource-id", "Filter.1.Value.1", subnet}, "", subnetLog},
		{"by traffic type", "DescribeFlowLogs", []string{"Filter.1.Name", "traffic-type", "Filter.1.Value.1", "ACCEPT"}, "", subnetLog},
		{"by destination type", "DescribeFlowLogs", []string{"Filter.1.Name", "log-destination-type", "Filter.1.Value.1", "s3"}, "", "<flowLogSet/>"},
		{"by status", "DescribeFlowLogs", []string{"Filter.1.Name", "deliver-log-status", "Filter.1.Value.1", "SUCCESS", "Filter.2.Name", "flow-log-id", "Filter.2.Value.1", vpcLog}, "", "<deliverLogsStatus>SUCCESS</deliverLogsStatus>"},
		{"by tag", "DescribeFlowLogs", []string{"Filter.1.Name", "tag:team", "Filter.1.Value.1", "net"}, "", vpcLog},
		{"interval", "DescribeFlowLogs", []string{"FlowLogId.1", eniLog}, "", "<maxAggregationInterval>60</maxAggregationInterval>"},
		{"default interval", "DescribeFlowLogs", []string{"FlowLogId.1", subnetLog}, "", "<maxAggregationInterval>600</maxAggregationInterval>"},
		{"unknown filter", "DescribeFlowLogs", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "x"}, "InvalidParameterValue", ""},
		{"taggable", "CreateTags", []string{"ResourceId.1", subnetLog, "Tag.1.Key", "k", "Tag.1.Value", "v"}, "", "<return>true</return>"},
		{"tag shown", "DescribeFlowLogs", []string{"Filter.1.Name", "tag-key", "Filter.1.Value.1", "k"}, "", subnetLog},
	})
	// Pagination: four flow logs, two per page.
	first, err := callEC2(t, d, "DescribeFlowLogs", "MaxResults", "2")
	next := regexp.MustCompile(`<nextToken>([^<]+)</nextToken>`).FindStringSubmatch(first)
	if err != nil || next == nil || len(flowLogIDPattern.FindAllString(first, -1)) != 2 {
		t.Fatalf("first page: %v %s", err, first)
	}
	second, err := callEC2(t, d, "DescribeFlowLogs", "MaxResults", "2", "NextToken", next[1])
	if err != nil || len(flowLogIDPattern.FindAllString(second, -1)) != 2 || strings.Contains(second, "<nextToken>") {
		t.Fatalf("second page: %v %s", err, second)
	}
	runCases(t, d, []apiCase{
		{"delete one and a missing one", "DeleteFlowLogs", []string{"FlowLogId.1", eniLog, "FlowLogId.2", "fl-0123456789abcdef0"}, "", "<code>InvalidFlowLogId.NotFound</code>"},
		{"deleted", "DescribeFlowLogs", []string{"FlowLogId.1", eniLog}, "", "<flowLogSet/>"},
		{"deleted again", "DeleteFlowLogs", []string{"FlowLogId.1", eniLog}, "", "<resourceId>" + eniLog + "</resourceId>"},
		{"clean delete", "DeleteFlowLogs", []string{"FlowLogId.1", subnetLog}, "", "<unsuccessful/>"},
	})
}

func TestFlowLogsGoWithTheirResource(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	eni, _ := createENI(t, d, subnet)
	eniLog := createFlowLog(t, d, "NetworkInterface", eni, "ALL", "g")
	subnetLog := createFlowLog(t, d, "Subnet", subnet, "ALL", "g")
	vpcLog := createFlowLog(t, d, "VPC", vpc, "ALL", "g")
	runCases(t, d, []apiCase{
		{"the flow logs do not keep the interface", "DeleteNetworkInterface", []string{"NetworkInterfaceId", eni}, "", "<return>true</return>"},
		{"interface's gone", "DescribeFlowLogs", []string{"FlowLogId.1", eniLog}, "", "<flowLogSet/>"},
		{"the subnet's stays", "DescribeFlowLogs", []string{"FlowLogId.1", subnetLog}, "", subnetLog},
		{"nor the subnet", "DeleteSubnet", []string{"SubnetId", subnet}, "", "<return>true</return>"},
		{"subnet's gone", "DescribeFlowLogs", nil, "", vpcLog},
		{"nor the VPC", "DeleteVpc", []string{"VpcId", vpc}, "", "<return>true</return>"},
		{"all gone", "DescribeFlowLogs", nil, "", "<flowLogSet/>"},
		{"cannot be deleted", "DeleteFlowLogs", []string{"FlowLogId.1", subnetLog}, "", "<code>InvalidFlowLogId.NotFound</code>"},
	})
}

func TestCreateFlowLogsClientToken(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	args := []string{"ResourceType", "VPC", "ResourceId.1", vpc, "TrafficType", "ALL", "LogGroupName", "g", "DeliverLogsPermissionArn", flowLogRole, "ClientToken", "once"}
	first, err1 := callEC2(t, d, "CreateFlowLogs", args...)
	again, err2 := callEC2(t, d, "CreateFlowLogs", args...)
	if err1 != nil || err2 != nil || flowLogIDPattern.FindString(first) == "" || flowLogIDPattern.FindString(first) != flowLogIDPattern.FindString(again) {
		t.Fatalf("a repeated token answers the first flow log: %s / %s (%v, %v)", first, again, err1, err2)
	}
	if !strings.Contains(again, "<clientToken>once</clientToken>") {
		t.Errorf("the token is echoed: %s", again)
	}
	runCases(t, d, []apiCase{
		{"other parameters", "CreateFlowLogs", append(args[:len(args):len(args)], "MaxAggregationInterval", "60"), "IdempotentParameterMismatch", ""},
		{"one made", "DescribeFlowLogs", nil, "", flowLogIDPattern.FindString(first)},
	})
}
