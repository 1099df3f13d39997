package cloud

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"strato/internal/store"
)

// SecurityGroupRule is one rule of a group: a protocol and port range (or ICMP type
// and code) allowed from (ingress) or to (egress) exactly one peer: an IPv4 or IPv6
// range, a prefix list or another security group.
type SecurityGroupRule struct {
	ID           string `json:"id"`
	GroupID      string `json:"groupId"`
	GroupOwnerID string `json:"groupOwnerId"`
	Egress       bool   `json:"egress"`
	// Protocol is "tcp", "udp", "icmp", "icmpv6", "-1" (all) or another IANA number.
	Protocol string `json:"protocol"`
	// FromPort and ToPort are -1 when the protocol has no ports (or for ICMP, all
	// types or codes).
	FromPort     int32     `json:"fromPort"`
	ToPort       int32     `json:"toPort"`
	CIDRv4       string    `json:"cidrIpv4,omitempty"`
	CIDRv6       string    `json:"cidrIpv6,omitempty"`
	PrefixListID string    `json:"prefixListId,omitempty"`
	Ref          *GroupRef `json:"ref,omitempty"`
	Description  string    `json:"description,omitempty"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// GroupRef is the security group a rule refers to.
type GroupRef struct {
	GroupID   string `json:"groupId"`
	GroupName string `json:"groupName"`
	UserID    string `json:"userId"`
	// VpcID is set when the group is in a peered VPC rather than the rule's own.
	VpcID string `json:"vpcId,omitempty"`
}

// peer says what the rule allows traffic from or to, as one comparable string.
func (r *SecurityGroupRule) peer() string {
	switch {
	case r.CIDRv4 != "":
		return "peer: " + r.CIDRv4
	case r.CIDRv6 != "":
		return "peer: " + r.CIDRv6
	case r.PrefixListID != "":
		return "peer: " + r.PrefixListID
	case r.Ref != nil:
		return "peer: " + r.Ref.GroupID
	}
	return ""
}

// key identifies what a rule allows: two rules with the same key are duplicates.
func (r *SecurityGroupRule) key() string {
	return strconv.FormatBool(r.Egress) + "|" + r.Protocol + "|" + strconv.Itoa(int(r.FromPort)) + "|" + strconv.Itoa(int(r.ToPort)) + "|" + r.peer()
}

// describeRule is a rule as AWS's duplicate and not-found messages spell it.
func (r *SecurityGroupRule) describeRule() string {
	proto := strings.ToUpper(r.Protocol)
	if r.Protocol == "-1" {
		proto = "ALL"
	}
	return r.peer() + ", " + proto + ", from port: " + strconv.Itoa(int(r.FromPort)) + ", to port: " + strconv.Itoa(int(r.ToPort)) + ", ALLOW"
}

// Rules are documents of their own, children of their group (indexed parent): a
// rule has its own ID, tags and Describe call, DescribeSecurityGroups by group ID
// reads only that group's rules with one indexed query, and adding a rule writes
// one small document instead of rewriting a group with up to 120 rules.
var securityGroupRules = docKind[SecurityGroupRule]{
	kind:   KindSecurityGroupRule,
	id:     func(r *SecurityGroupRule) string { return r.ID },
	parent: func(r *SecurityGroupRule) string { return r.GroupID },
	tags:   func(r *SecurityGroupRule) *map[string]string { return &r.Tags },
}

// groupReference records that a rule refers to a group (the parent), so that the
// group's referrers are found without reading every rule: deleting a referenced
// group is refused, and DescribeSecurityGroupReferences lists them. Only
// references within the account are recorded.
type groupReference struct {
	RuleID  string `json:"ruleId"`
	GroupID string `json:"groupId"` // the group whose rule refers
	VpcID   string `json:"vpcId"`   // that group's VPC
	Target  string `json:"target"`  // the group referred to
}

// kindGroupReference is internal to the control plane: no API names it.
const kindGroupReference = "security-group-reference"

var groupReferences = docKind[groupReference]{
	kind:   kindGroupReference,
	id:     func(r *groupReference) string { return r.RuleID },
	parent: func(r *groupReference) string { return r.Target },
	tags:   func(r *groupReference) *map[string]string { return new(map[string]string) },
}

func isNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// insertRule stores a rule and, when it refers to a group of the account, the
// reference; the group is in VPC stores a rule of a group of vpcID.
func insertRule(tx store.Tx, s Scope, vpcID string, r *SecurityGroupRule, at time.Time, tags []Tag) error {
	if err := securityGroupRules.insert(tx, s, r, at, tags); err != nil {
		return err
	}
	return recordReference(tx, s, vpcID, r, at)
}

func recordReference(tx store.Tx, s Scope, vpcID string, r *SecurityGroupRule, at time.Time) error {
	if r.Ref == nil || r.Ref.UserID != s.Account {
		return nil
	}
	return groupReferences.insert(tx, s, &groupReference{RuleID: r.ID, GroupID: r.GroupID, VpcID: vpcID, Target: r.Ref.GroupID}, at, nil)
}

func forgetReference(tx store.Tx, s Scope, r *SecurityGroupRule) error {
	if r.Ref == nil || r.Ref.UserID != s.Account {
		return nil
	}
	if err := groupReferences.remove(tx, s, r.ID); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// removeRule deletes a rule (and its tags) with its reference.
func removeRule(tx store.Tx, s Scope, r *SecurityGroupRule) error {
	if err := forgetReference(tx, s, r); err != nil {
		return err
	}
	return securityGroupRules.remove(tx, s, r.ID)
}

// rulesOf reads a group's rules without their tags (DescribeSecurityGroups shows
// none), in ID order.
func rulesOf(tx store.Tx, s Scope, groupID string) ([]SecurityGroupRule, error) {
	rows, err := tx.ListChildren(s, KindSecurityGroupRule, groupID)
	if err != nil {
		return nil, err
	}
	out := make([]SecurityGroupRule, 0, len(rows))
	for _, row := range rows {
		r, err := securityGroupRules.decode(row)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Permission is one IpPermission of a request: a protocol and ports with the peers
// they apply to. Each peer becomes one rule.
type Permission struct {
	Protocol         string
	FromPort, ToPort *int32
	IPv4, IPv6       []PeerRange
	PrefixLists      []PeerRange
	Groups           []PeerGroup
}

// PeerRange is a CIDR block or prefix list ID with the rule's description.
type PeerRange struct{ ID, Description string }

// PeerGroup is a security group as a peer: by ID, or by name in the default VPC;
// UserID is the owner when it is another account (through VPC peering).
type PeerGroup struct{ ID, Name, UserID, Description string }

// ianaProtocols are the protocol names AWS accepts besides numbers; tcp, udp, icmp
// and icmpv6 are kept as names, the others become their numbers.
var ianaProtocols = map[string]string{
	"tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmpv6", "all": "-1",
	"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6",
	"igmp": "2", "ipv4": "4", "gre": "47", "esp": "50", "ah": "51", "ipv6": "41",
	"ospf": "89", "pim": "103", "vrrp": "112", "sctp": "132",
}

// normalProtocol turns a request's IpProtocol into the form rules keep.
func normalProtocol(p string) (string, error) {
	lower := strings.ToLower(strings.TrimSpace(p))
	if lower == "" {
		return "", errorf("MissingParameter", "The request must contain the parameter ipProtocol")
	}
	if name, ok := ianaProtocols[lower]; ok {
		return name, nil
	}
	n, err := strconv.Atoi(lower)
	if err == nil && n == -1 {
		return "-1", nil
	}
	if err != nil || n < 0 || n > 255 {
		return "", errorf("InvalidParameterValue", "Invalid value '%s' for IP protocol. Unknown protocol.", p)
	}
	return strconv.Itoa(n), nil
}

// normalPorts checks a permission's ports against its protocol and returns what a
// rule keeps: a port range for TCP and UDP, a type and code for ICMP, -1 otherwise
// (AWS ignores ports for other protocols).
func normalPorts(proto string, from, to *int32) (int32, int32, error) {
	switch proto {
	case "tcp", "udp":
		if from == nil || to == nil {
			return 0, 0, errorf("InvalidParameterValue", "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.")
		}
		if *from < 0 || *from > 65535 || *to < 0 || *to > 65535 || *from > *to {
			return 0, 0, errorf("InvalidParameterValue", "Invalid TCP/UDP port range (%d-%d): ports must be 0-65535 and from must not exceed to.", *from, *to)
		}
		return *from, *to, nil
	case "icmp", "icmpv6":
		if from == nil || to == nil {
			return 0, 0, errorf("InvalidParameterValue", "Invalid value 'Must specify both ICMP type and code.' for portRange.")
		}
		if *from < -1 || *from > 255 {
			return 0, 0, errorf("InvalidParameterValue", "Invalid value '%d' for ICMP type: must be -1 (all) or 0-255.", *from)
		}
		if *to < -1 || *to > 255 {
			return 0, 0, errorf("InvalidParameterValue", "Invalid value '%d' for ICMP code: must be -1 (all) or 0-255.", *to)
		}
		if *from == -1 && *to != -1 {
			return 0, 0, errorf("InvalidParameterValue", "Invalid ICMP code %d: all ICMP types (-1) need all codes (-1).", *to)
		}
		return *from, *to, nil
	}
	return -1, -1, nil
}

func validRuleDescription(d string) error {
	if !validGroupText(d) {
		return errorf("InvalidParameterValue", "Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*")
	}
	return nil
}

func parseCIDR(cidr string, v6 bool) (string, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	if err != nil || p.Addr().Is6() != v6 || p.Addr().Is4In6() {
		return "", errorf("InvalidParameterValue", "CIDR block %s is malformed", cidr)
	}
	return p.String(), nil
}

// ruleResolver turns permissions into rules of one group: it validates each peer
// and, with resolveGroups, looks up the groups they name (a revoke matches by ID,
// even when the group referred to is gone).
type ruleResolver struct {
	tx     store.Tx
	s      Scope
	group  SecurityGroup
	egress bool
	// lookup says peers are checked against what exists (prefix lists, groups).
	lookup bool
}

func (rr ruleResolver) rules(perms []Permission) ([]SecurityGroupRule, error) {
	var out []SecurityGroupRule
	for _, p := range perms {
		proto, err := normalProtocol(p.Protocol)
		if err != nil {
			return nil, err
		}
		from, to, err := normalPorts(proto, p.FromPort, p.ToPort)
		if err != nil {
			return nil, err
		}
		base := SecurityGroupRule{GroupID: rr.group.ID, GroupOwnerID: rr.group.OwnerID, Egress: rr.egress, Protocol: proto, FromPort: from, ToPort: to}
		add := func(r SecurityGroupRule, description string) error {
			if err := validRuleDescription(description); err != nil {
				return err
			}
			r.Description = description
			out = append(out, r)
			return nil
		}
		for _, family := range []struct {
			v6     bool
			ranges []PeerRange
			cidr   func(r *SecurityGroupRule) *string
		}{
			{false, p.IPv4, func(r *SecurityGroupRule) *string { return &r.CIDRv4 }},
			{true, p.IPv6, func(r *SecurityGroupRule) *string { return &r.CIDRv6 }},
		} {
			for _, v := range family.ranges {
				r := base
				if *family.cidr(&r), err = parseCIDR(v.ID, family.v6); err != nil {
					return nil, err
				}
				if err := add(r, v.Description); err != nil {
					return nil, err
				}
			}
		}
		for _, v := range p.PrefixLists {
			r := base
			r.PrefixListID = v.ID
			if rr.lookup {
				if _, err := lookupPrefixList(rr.tx, rr.s, v.ID); err != nil {
					return nil, err
				}
			}
			if err := add(r, v.Description); err != nil {
				return nil, err
			}
		}
		for _, v := range p.Groups {
			r := base
			if r.Ref, err = rr.groupRef(v); err != nil {
				return nil, err
			}
			if err := add(r, v.Description); err != nil {
				return nil, err
			}
		}
		if len(p.IPv4)+len(p.IPv6)+len(p.PrefixLists)+len(p.Groups) == 0 {
			return nil, errorf("MissingParameter", "The request must contain a source or destination: ipRanges, ipv6Ranges, prefixListIds or groups")
		}
	}
	return out, nil
}

// groupRef resolves a peer group: in the rule's VPC, or in a peered VPC (of this
// account or, with UserID, another's).
func (rr ruleResolver) groupRef(p PeerGroup) (*GroupRef, error) {
	owner := rr.s
	if p.UserID != "" && p.UserID != rr.s.Account {
		owner = Scope{Account: p.UserID, Region: rr.s.Region}
	}
	var g SecurityGroup
	var err error
	switch {
	case p.ID != "":
		if !rr.lookup {
			return &GroupRef{GroupID: p.ID, UserID: owner.Account}, nil
		}
		g, err = securityGroups.get(rr.tx, owner, p.ID)
	case p.Name != "":
		g, err = groupByName(rr.tx, owner, p.Name)
	default:
		return nil, errorf("MissingParameter", "The request must contain the parameter groupId for each group pair")
	}
	if err != nil {
		return nil, err
	}
	ref := &GroupRef{GroupID: g.ID, GroupName: g.Name, UserID: g.OwnerID}
	if g.VpcID == rr.group.VpcID && owner == rr.s {
		return ref, nil
	}
	peered, err := vpcPeered(rr.tx, rr.s, rr.group.VpcID, g.VpcID)
	if err != nil {
		return nil, err
	}
	if !peered {
		return nil, errorf("InvalidGroup.NotFound", "You have specified two resources that belong to different networks.")
	}
	ref.VpcID = g.VpcID
	return ref, nil
}

// ruleWeights counts a direction's rules as the quota does: separately for IPv4
// and IPv6; a group reference counts for both, a prefix list as its maximum entries.
func ruleWeights(tx store.Tx, s Scope, rules []SecurityGroupRule) (v4, v6 int, err error) {
	for _, r := range rules {
		switch {
		case r.CIDRv4 != "":
			v4++
		case r.CIDRv6 != "":
			v6++
		case r.Ref != nil:
			v4++
			v6++
		case r.PrefixListID != "":
			pl, err := lookupPrefixList(tx, s, r.PrefixListID)
			if isNotFound(err) {
				// A deleted list no longer takes room.
				continue
			}
			if err != nil {
				return 0, 0, err
			}
			v4 += pl.MaxEntries
			v6 += pl.MaxEntries
		}
	}
	return v4, v6, nil
}

// checkRuleQuota fails when a direction's rules exceed the account's rules quota.
func checkRuleQuota(tx store.Tx, s Scope, rules []SecurityGroupRule) error {
	limit, err := quota(tx, s.Account, QuotaRulesPerSecurityGroup)
	if err != nil {
		return err
	}
	v4, v6, err := ruleWeights(tx, s, rules)
	if err != nil {
		return err
	}
	if int64(v4) > limit || int64(v6) > limit {
		def := quotaDefs[QuotaRulesPerSecurityGroup]
		return errorf(def.Code, def.Message, limit)
	}
	return nil
}

// directionOf keeps the rules of one direction.
func directionOf(rules []SecurityGroupRule, egress bool) []SecurityGroupRule {
	var out []SecurityGroupRule
	for _, r := range rules {
		if r.Egress == egress {
			out = append(out, r)
		}
	}
	return out
}
