// Package flowlog turns logged packets into VPC Flow Logs records: it aggregates
// packets into flows (per interface, 5-tuple and action) over an aggregation
// interval and writes one record per flow in a flow log's format, with the field
// meanings AWS documents. It knows nothing of netlink or the control plane.
package flowlog

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultFormat is the record format of a flow log created without LogFormat: the
// version 2 fields, in AWS's order.
const DefaultFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

// fieldVersions are the fields a format may name, with the VPC Flow Logs version
// that introduced each: a custom format's records carry the highest version of
// the fields it names.
var fieldVersions = map[string]int{
	"version": 2, "account-id": 2, "interface-id": 2, "srcaddr": 2, "dstaddr": 2, "srcport": 2, "dstport": 2,
	"protocol": 2, "packets": 2, "bytes": 2, "start": 2, "end": 2, "action": 2, "log-status": 2,
	"vpc-id": 3, "subnet-id": 3, "instance-id": 3, "tcp-flags": 3, "type": 3, "pkt-srcaddr": 3, "pkt-dstaddr": 3,
	"region": 4, "az-id": 4, "sublocation-type": 4, "sublocation-id": 4,
	"pkt-src-aws-service": 5, "pkt-dst-aws-service": 5, "flow-direction": 5, "traffic-path": 5,
	"ecs-cluster-arn": 7, "ecs-cluster-name": 7, "ecs-container-instance-arn": 7, "ecs-container-instance-id": 7,
	"ecs-container-id": 7, "ecs-second-container-id": 7, "ecs-service-name": 7, "ecs-task-definition-arn": 7,
	"ecs-task-arn": 7, "ecs-task-id": 7,
	"reject-reason": 8,
}

// Format is a parsed record format: the fields of a record, in order.
type Format struct {
	fields  []string
	version int
}

// ParseFormat reads a record format: one or more ${field} separated by single
// spaces, each a field AWS defines. "" is the default format.
func ParseFormat(s string) (Format, error) {
	if s == "" {
		s = DefaultFormat
	}
	var f Format
	var unknown []string
	for _, tok := range strings.Split(s, " ") {
		name, ok := strings.CutPrefix(tok, "${")
		if ok {
			name, ok = strings.CutSuffix(name, "}")
		}
		if !ok || name == "" {
			return Format{}, fmt.Errorf("%q is not a ${field}; fields are separated by single spaces", tok)
		}
		v, known := fieldVersions[name]
		if !known {
			unknown = append(unknown, name)
			continue
		}
		f.fields = append(f.fields, name)
		f.version = max(f.version, v)
	}
	if len(unknown) > 0 {
		return Format{}, fmt.Errorf("unknown fields: %s", strings.Join(unknown, ", "))
	}
	return f, nil
}

// Version is the VPC Flow Logs version of the format's records.
func (f Format) Version() int { return f.version }

// Interface is what a record says about the interface whose traffic it is.
type Interface struct {
	ID         string
	AccountID  string
	VPCID      string
	SubnetID   string
	InstanceID string // "" when none (a NAT gateway's interface)
	Region     string
}

// Record formats one flow of iface as a line (without the newline).
func (f Format) Record(iface Interface, fl Flow) string {
	var b strings.Builder
	for i, name := range f.fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.value(name, iface, fl))
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (f Format) value(name string, iface Interface, fl Flow) string {
	switch name {
	case "version":
		return strconv.Itoa(f.version)
	case "account-id":
		return orDash(iface.AccountID)
	case "interface-id":
		return iface.ID
	case "srcaddr":
		return fl.SrcAddr.String()
	case "dstaddr":
		return fl.DstAddr.String()
	case "pkt-srcaddr":
		return fl.Src.String()
	case "pkt-dstaddr":
		return fl.Dst.String()
	case "srcport":
		return strconv.Itoa(int(fl.SrcPort))
	case "dstport":
		return strconv.Itoa(int(fl.DstPort))
	case "protocol":
		return strconv.Itoa(int(fl.Protocol))
	case "packets":
		return strconv.FormatUint(fl.Packets, 10)
	case "bytes":
		return strconv.FormatUint(fl.Bytes, 10)
	case "start":
		return strconv.FormatInt(fl.Start.Unix(), 10)
	case "end":
		return strconv.FormatInt(fl.End.Unix(), 10)
	case "action":
		return fl.Action
	case "log-status":
		return "OK"
	case "vpc-id":
		return orDash(iface.VPCID)
	case "subnet-id":
		return orDash(iface.SubnetID)
	case "instance-id":
		return orDash(iface.InstanceID)
	case "tcp-flags":
		return strconv.Itoa(int(fl.TCPFlags))
	case "type":
		if fl.Src.Is6() && !fl.Src.Is4In6() {
			return "IPv6"
		}
		return "IPv4"
	case "region":
		return orDash(iface.Region)
	case "flow-direction":
		if fl.Ingress {
			return "ingress"
		}
		return "egress"
	}
	// Fields of services strato does not have (zones' IDs, sublocations, AWS
	// service ranges, ECS, traffic paths, reject reasons) do not apply: AWS
	// writes '-' for a field that does not apply.
	return "-"
}
