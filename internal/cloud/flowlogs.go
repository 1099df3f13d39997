package cloud

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/flowlog"
	"strato/internal/netpolicy"
	"strato/internal/store"
)

// KindFlowLog is the resource type of VPC flow logs (IDs fl-…).
const KindFlowLog = "vpc-flow-log"

func init() {
	// Here rather than in kinds.go, so the flow log's ID is taggable like any other.
	resourceKinds["fl"] = KindFlowLog
	// A flow log goes with the resource it logs, as on AWS.
	vpcDeleted = append(vpcDeleted, func(tx store.Tx, s Scope, v *VPC) error {
		return removeFlowLogsOf(tx, s, v.ID, v.ID)
	})
	subnetDeleted = append(subnetDeleted, func(tx store.Tx, s Scope, sn *Subnet) error {
		return removeFlowLogsOf(tx, s, sn.VpcID, sn.ID)
	})
}

// FlowLogDir is where flow logs whose destination is CloudWatch Logs write their
// records until strato has a CloudWatch Logs service: a log group is a directory
// under it (its name's slashes make subdirectories), each interface's log stream
// a file "<interface-id>-all" in it, one record per line. Empty: such flow logs
// are kept but write nothing. `strato serve --flow-log-dir` sets it.
var FlowLogDir string

// Flow log limits and values, as on AWS.
const (
	// MaxFlowLogsPerResource: a VPC, a subnet or an interface has at most two
	// (a quota AWS does not raise).
	MaxFlowLogsPerResource = 2
	// MaxFlowLogResources is how many resources one CreateFlowLogs may name.
	MaxFlowLogResources = 1000

	FlowLogDestinationCloudWatch = "cloud-watch-logs"
	FlowLogDestinationS3         = "s3"
	FlowLogDestinationFirehose   = "kinesis-data-firehose"

	DefaultFlowLogInterval = 600
)

// FlowLog captures the IP traffic of a VPC's, a subnet's or one interface's
// network interfaces. It cannot be changed once made (only tagged or deleted).
type FlowLog struct {
	ID         string `json:"id"`
	OwnerID    string `json:"ownerId"`
	ResourceID string `json:"resourceId"`
	// VpcID is the VPC of the resource: the flow log is part of its policy.
	VpcID                    string    `json:"vpcId"`
	TrafficType              string    `json:"trafficType"`
	DestinationType          string    `json:"destinationType"`
	Destination              string    `json:"destination"` // the log group's ARN
	LogGroupName             string    `json:"logGroupName,omitempty"`
	DeliverLogsPermissionArn string    `json:"deliverLogsPermissionArn,omitempty"`
	DeliverCrossAccountRole  string    `json:"deliverCrossAccountRole,omitempty"`
	Format                   string    `json:"format"`
	MaxAggregationInterval   int       `json:"maxAggregationInterval"`
	CreatedAt                time.Time `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

var flowLogs = docKind[FlowLog]{
	kind:   KindFlowLog,
	id:     func(f *FlowLog) string { return f.ID },
	parent: func(f *FlowLog) string { return f.VpcID },
	tags:   func(f *FlowLog) *map[string]string { return &f.Tags },
}

// FlowLogRequest is what CreateFlowLogs asks for.
type FlowLogRequest struct {
	ResourceType             string // VPC, Subnet or NetworkInterface
	ResourceIDs              []string
	TrafficType              string // ACCEPT, REJECT or ALL
	DestinationType          string // "" is cloud-watch-logs
	Destination              string // a log group's ARN, or ""
	LogGroupName             string
	DeliverLogsPermissionArn string
	DeliverCrossAccountRole  string
	Format                   string // "" is the default format
	MaxAggregationInterval   int    // 0 is 600
	Tags                     []Tag
}

// FlowLogFailure is one resource (CreateFlowLogs) or flow log (DeleteFlowLogs)
// the request could not act on; AWS reports these beside the successes.
type FlowLogFailure struct {
	ID string `json:"id"`
	// Missing is the kind of resource ID names when it does not exist (the API
	// gives that kind's NotFound code); otherwise Code and Message say why.
	Missing string `json:"missing,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Err is the failure as an error.
func (f FlowLogFailure) Err() error {
	if f.Missing != "" {
		return &NotFoundError{Kind: f.Missing, ID: f.ID}
	}
	return errorf(f.Code, "%s", f.Message)
}

// CreatedFlowLogs is CreateFlowLogs' answer.
type CreatedFlowLogs struct {
	IDs          []string         `json:"ids"`
	Unsuccessful []FlowLogFailure `json:"unsuccessful"`
}

var flowLogResourceKinds = map[string]string{"VPC": KindVPC, "Subnet": KindSubnet, "NetworkInterface": KindNetworkInterface}

var (
	logGroupNamePattern = regexp.MustCompile(`^[-._/#A-Za-z0-9]{1,512}$`)
	logGroupARNPattern  = regexp.MustCompile(`^arn:aws[-a-z]*:logs:[a-z0-9-]+:\d{12}:log-group:([-._/#A-Za-z0-9]{1,512})(:\*)?$`)
	roleARNPattern      = regexp.MustCompile(`^arn:aws[-a-z]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
)

// checkFlowLogRequest validates what applies to the whole request and fills in
// the defaults (the log group's name and ARN, the format, the interval).
func checkFlowLogRequest(s Scope, req *FlowLogRequest) error {
	switch req.ResourceType {
	case "VPC", "Subnet", "NetworkInterface":
	case "TransitGateway", "TransitGatewayAttachment":
		return errorf("UnsupportedOperation", "strato has no transit gateways: flow logs of resource type %s are not supported.", req.ResourceType)
	case "":
		return errorf("MissingParameter", "The request must contain the parameter ResourceType")
	default:
		return errorf("InvalidParameterValue", "Value (%s) for parameter ResourceType is invalid. Valid values: VPC, Subnet, NetworkInterface, TransitGateway, TransitGatewayAttachment", req.ResourceType)
	}
	switch n := len(req.ResourceIDs); {
	case n == 0:
		return errorf("MissingParameter", "The request must contain the parameter ResourceId")
	case n > MaxFlowLogResources:
		return errorf("InvalidParameter", "Too many resources: at most %d may be given, %d were.", MaxFlowLogResources, n)
	}
	switch req.TrafficType {
	case netpolicy.TrafficAccept, netpolicy.TrafficReject, netpolicy.TrafficAll:
	case "":
		return errorf("MissingParameter", "The request must contain the parameter TrafficType")
	default:
		return errorf("InvalidParameterValue", "Value (%s) for parameter TrafficType is invalid. Valid values: ACCEPT, REJECT, ALL", req.TrafficType)
	}
	switch req.MaxAggregationInterval {
	case 0:
		req.MaxAggregationInterval = DefaultFlowLogInterval
	case 60, 600:
	default:
		return errorf("InvalidParameterValue", "Value (%d) for parameter MaxAggregationInterval is invalid. Valid values: 60, 600", req.MaxAggregationInterval)
	}
	if _, err := flowlog.ParseFormat(req.Format); err != nil {
		return errorf("InvalidParameter", "LogFormat %q is invalid: %v", req.Format, err)
	}
	if req.Format == "" {
		req.Format = flowlog.DefaultFormat
	}
	if req.DestinationType == "" {
		req.DestinationType = FlowLogDestinationCloudWatch
	}
	switch req.DestinationType {
	case FlowLogDestinationCloudWatch:
	case FlowLogDestinationS3, FlowLogDestinationFirehose:
		return errorf("UnsupportedOperation", "strato has no %s service yet: flow logs can be published to cloud-watch-logs only (records are written to files under the operator's flow log directory).", req.DestinationType)
	default:
		return errorf("InvalidParameterValue", "Value (%s) for parameter LogDestinationType is invalid. Valid values: cloud-watch-logs, s3, kinesis-data-firehose", req.DestinationType)
	}
	switch {
	case req.LogGroupName != "" && req.Destination != "":
		return errorf("InvalidParameter", "Please only provide LogGroupName or only provide LogDestination.")
	case req.LogGroupName == "" && req.Destination == "":
		return errorf("InvalidParameter", "LogDestination or LogGroupName must be provided for flow logs published to CloudWatch Logs.")
	case req.Destination != "":
		m := logGroupARNPattern.FindStringSubmatch(req.Destination)
		if m == nil {
			return errorf("InvalidParameter", "LogDestination %s is not the ARN of a CloudWatch Logs log group (arn:aws:logs:REGION:ACCOUNT:log-group:NAME).", req.Destination)
		}
		req.LogGroupName = m[1]
	case !logGroupNamePattern.MatchString(req.LogGroupName):
		return errorf("InvalidParameter", "LogGroupName %q is invalid: 1 to 512 of a-z, A-Z, 0-9, '_', '-', '/', '.', '#'.", req.LogGroupName)
	default:
		req.Destination = fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", s.Region, s.Account, req.LogGroupName)
	}
	switch {
	case req.DeliverLogsPermissionArn == "":
		return errorf("InvalidParameter", "DeliverLogsPermissionArn is required for flow logs published to CloudWatch Logs.")
	case !roleARNPattern.MatchString(req.DeliverLogsPermissionArn):
		return errorf("InvalidParameter", "DeliverLogsPermissionArn %s is not the ARN of an IAM role.", req.DeliverLogsPermissionArn)
	case req.DeliverCrossAccountRole != "" && !roleARNPattern.MatchString(req.DeliverCrossAccountRole):
		return errorf("InvalidParameter", "DeliverCrossAccountRole %s is not the ARN of an IAM role.", req.DeliverCrossAccountRole)
	}
	return ValidateTags(req.Tags)
}

// CreateFlowLogs makes a flow log on each resource named; a resource that is
// missing, already has a flow log to the same destination or has its two is
// reported in the answer, as on AWS, and the others get theirs. A repeated
// client token returns the first answer.
func (c *Cloud) CreateFlowLogs(ctx context.Context, s Scope, token string, req FlowLogRequest) (CreatedFlowLogs, error) {
	if err := checkFlowLogRequest(s, &req); err != nil {
		return CreatedFlowLogs{}, err
	}
	var changed []string
	out, err := Idempotent(ctx, c, s, "CreateFlowLogs", token, req, func(tx store.Tx) (CreatedFlowLogs, error) {
		changed = nil
		out := CreatedFlowLogs{IDs: []string{}, Unsuccessful: []FlowLogFailure{}}
		for _, id := range req.ResourceIDs {
			f, failure, err := createFlowLog(tx, s, c.clock.Now(), id, req)
			switch {
			case err != nil:
				return out, err
			case failure != nil:
				out.Unsuccessful = append(out.Unsuccessful, *failure)
			default:
				out.IDs = append(out.IDs, f.ID)
				changed = append(changed, f.VpcID)
			}
		}
		return out, nil
	})
	if err == nil {
		c.networkChanged(s, changed...)
	}
	return out, err
}

func createFlowLog(tx store.Tx, s Scope, now time.Time, resourceID string, req FlowLogRequest) (FlowLog, *FlowLogFailure, error) {
	kind := flowLogResourceKinds[req.ResourceType]
	vpcID, err := vpcOfResource(tx, s, kind, resourceID)
	if isNotFound(err) {
		return FlowLog{}, &FlowLogFailure{ID: resourceID, Missing: kind}, nil
	}
	if err != nil {
		return FlowLog{}, nil, err
	}
	existing, err := liveFlowLogs(tx, s, vpcID)
	if err != nil {
		return FlowLog{}, nil, err
	}
	count := 0
	for _, f := range existing {
		if f.ResourceID != resourceID {
			continue
		}
		if f.DestinationType == req.DestinationType && f.LogGroupName == req.LogGroupName {
			return FlowLog{}, &FlowLogFailure{ID: resourceID, Code: "FlowLogAlreadyExists",
				Message: "Error. There is an existing Flow Log with the same configuration and log destination."}, nil
		}
		count++
	}
	if count >= MaxFlowLogsPerResource {
		return FlowLog{}, &FlowLogFailure{ID: resourceID, Code: "FlowLogsLimitExceeded",
			Message: fmt.Sprintf("You've reached the limit on the number of flow logs you can create for %s (%d).", resourceID, MaxFlowLogsPerResource)}, nil
	}
	f := FlowLog{
		ID: NewID("fl"), OwnerID: s.Account, ResourceID: resourceID, VpcID: vpcID, TrafficType: req.TrafficType,
		DestinationType: req.DestinationType, Destination: req.Destination, LogGroupName: req.LogGroupName,
		DeliverLogsPermissionArn: req.DeliverLogsPermissionArn, DeliverCrossAccountRole: req.DeliverCrossAccountRole,
		Format: req.Format, MaxAggregationInterval: req.MaxAggregationInterval, CreatedAt: now,
	}
	if err := flowLogs.insert(tx, s, &f, now, req.Tags); err != nil {
		return FlowLog{}, nil, err
	}
	return f, nil, nil
}

// vpcOfResource is the VPC of a VPC, subnet or network interface; NotFoundError
// when it does not exist (or the ID names another kind).
func vpcOfResource(tx store.Tx, s Scope, kind, id string) (string, error) {
	switch kind {
	case KindVPC:
		v, err := vpcs.get(tx, s, id)
		return v.ID, err
	case KindSubnet:
		sn, err := subnets.get(tx, s, id)
		return sn.VpcID, err
	case KindNetworkInterface:
		n, err := networkInterfaces.get(tx, s, id)
		return n.VpcID, err
	}
	return "", &NotFoundError{Kind: kind, ID: id}
}

// flowLogLives reports whether the resource a flow log logs still exists: a flow
// log is deleted with its resource (an interface's flow logs are swept lazily,
// since interfaces are deleted in many places).
func flowLogLives(tx store.Tx, s Scope, f FlowLog) (bool, error) {
	kind := KindVPC
	switch {
	case ValidID("subnet", f.ResourceID):
		kind = KindSubnet
	case ValidID("eni", f.ResourceID):
		kind = KindNetworkInterface
	}
	_, err := vpcOfResource(tx, s, kind, f.ResourceID)
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// liveFlowLogs are a VPC's flow logs whose resources exist (all the account's
// when vpcID is "").
func liveFlowLogs(tx store.Tx, s Scope, vpcID string) ([]FlowLog, error) {
	var all []FlowLog
	var err error
	if vpcID == "" {
		all, err = flowLogs.load(tx, s, nil, nil)
	} else {
		all, err = flowLogs.children(tx, s, vpcID)
	}
	if err != nil {
		return nil, err
	}
	live := all[:0]
	for _, f := range all {
		ok, err := flowLogLives(tx, s, f)
		if err != nil {
			return nil, err
		}
		if ok {
			live = append(live, f)
		}
	}
	return live, nil
}

// removeFlowLogsOf deletes the flow logs of a resource of a VPC being deleted.
func removeFlowLogsOf(tx store.Tx, s Scope, vpcID, resourceID string) error {
	all, err := flowLogs.children(tx, s, vpcID)
	if err != nil {
		return err
	}
	for _, f := range all {
		if f.ResourceID == resourceID || resourceID == vpcID {
			if err := flowLogs.remove(tx, s, f.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeleteFlowLogs deletes flow logs; IDs that name none are reported in the
// answer, as on AWS, and the others deleted. Records already written stay.
func (c *Cloud) DeleteFlowLogs(ctx context.Context, s Scope, ids []string) ([]FlowLogFailure, error) {
	if len(ids) == 0 {
		return nil, errorf("MissingParameter", "The request must contain the parameter FlowLogId")
	}
	var failed []FlowLogFailure
	var changed []string
	err := c.update(ctx, func(tx store.Tx) error {
		failed, changed = []FlowLogFailure{}, nil
		for _, id := range ids {
			f, err := flowLogs.get(tx, s, id)
			live := err == nil
			if live {
				live, err = flowLogLives(tx, s, f)
			}
			if err != nil && !isNotFound(err) {
				return err
			}
			if err == nil && f.ID != "" {
				// A flow log whose resource is gone is gone too: swept here.
				if err := flowLogs.remove(tx, s, f.ID); err != nil {
					return err
				}
			}
			if !live {
				failed = append(failed, FlowLogFailure{ID: id, Code: "InvalidFlowLogId.NotFound",
					Message: fmt.Sprintf("These flow log ids in the input list are not found: [TotalCount: 1] %s", id)})
				continue
			}
			changed = append(changed, f.VpcID)
		}
		return nil
	})
	if err == nil {
		c.networkChanged(s, changed...)
	}
	return failed, err
}

// Flow log states: strato writes records at once, so every flow log is active
// and delivering.
const (
	FlowLogActive         = "ACTIVE"
	FlowLogDeliverSuccess = "SUCCESS"
)

var flowLogFields = filter.Fields[FlowLog]{
	"deliver-log-status":   func(f FlowLog) []string { return []string{FlowLogDeliverSuccess} },
	"flow-log-id":          func(f FlowLog) []string { return []string{f.ID} },
	"log-destination-type": func(f FlowLog) []string { return []string{f.DestinationType} },
	"log-group-name":       func(f FlowLog) []string { return []string{f.LogGroupName} },
	"resource-id":          func(f FlowLog) []string { return []string{f.ResourceID} },
	"traffic-type":         func(f FlowLog) []string { return []string{f.TrafficType} },
}

// DescribeFlowLogs lists the flow logs with the IDs given (IDs that name none
// are left out, as on AWS) or all, filtered and paginated (MaxResults 1..1000).
func (c *Cloud) DescribeFlowLogs(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]FlowLog, string, error) {
	m, err := filter.Compile(filters, flowLogFields, func(f FlowLog) map[string]string { return f.Tags })
	if err != nil {
		return nil, "", err
	}
	var list []FlowLog
	if err := c.view(ctx, func(tx store.Tx) error {
		list, err = liveFlowLogs(tx, s, "")
		return err
	}); err != nil {
		return nil, "", err
	}
	if len(ids) > 0 {
		list = slices.DeleteFunc(list, func(f FlowLog) bool { return !slices.Contains(ids, f.ID) })
	}
	out := m.Filter(list)
	id := func(f FlowLog) string { return f.ID }
	sortByUniqueKey(out, id)
	return PageOf(c, s, "DescribeFlowLogs", filters, page, 1, 1000, out, id)
}

// flowLogsOfVPC is the flow log part of a VPC's policy: one entry per flow log
// and interface it covers (the VPC's, its subnet's or its own), with the file
// that interface's log stream is written to. interfaces are the policy's.
func flowLogsOfVPC(tx store.Tx, s Scope, vpcID string, interfaces []netpolicy.Interface) ([]netpolicy.FlowLog, error) {
	all, err := liveFlowLogs(tx, s, vpcID)
	if err != nil {
		return nil, err
	}
	var out []netpolicy.FlowLog
	for _, f := range all {
		for _, n := range interfaces {
			if f.ResourceID != vpcID && f.ResourceID != n.SubnetID && f.ResourceID != n.ID {
				continue
			}
			out = append(out, netpolicy.FlowLog{
				ID: f.ID, ResourceID: n.ID, TrafficType: f.TrafficType, Destination: logStreamPath(f.LogGroupName, n.ID),
				Format: f.Format, AggregationInterval: f.MaxAggregationInterval,
			})
		}
	}
	return out, nil
}

// logStreamPath is the file of an interface's log stream in a log group, or ""
// when the operator gave no flow log directory.
func logStreamPath(group, interfaceID string) string {
	if FlowLogDir == "" {
		return ""
	}
	// Cleaned as an absolute path first, so no name leads out of the directory.
	return filepath.Join(FlowLogDir, filepath.Clean("/"+group), interfaceID+"-all")
}
