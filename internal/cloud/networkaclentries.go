package cloud

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"strato/internal/store"
)

// ACLEntry is one numbered rule of a network ACL. Rules are evaluated from the
// lowest number up; the first that matches a packet decides.
type ACLEntry struct {
	RuleNumber int32 `json:"ruleNumber"`
	Egress     bool  `json:"egress"`
	// Protocol is "-1" (all) or a protocol number in decimal, as AWS stores it.
	Protocol   string `json:"protocol"`
	RuleAction string `json:"ruleAction"` // allow or deny
	// Exactly one of CIDR and IPv6CIDR is set.
	CIDR     string `json:"cidr,omitempty"`
	IPv6CIDR string `json:"ipv6Cidr,omitempty"`
	// PortRange is set for TCP and UDP rules, ICMP for ICMP and ICMPv6 rules.
	PortRange *ACLPortRange `json:"portRange,omitempty"`
	ICMP      *ACLICMP      `json:"icmp,omitempty"`
}

// ACLPortRange is an inclusive range of TCP or UDP ports.
type ACLPortRange struct {
	From int32 `json:"from"`
	To   int32 `json:"to"`
}

// ACLICMP is an ICMP type and code; -1 means any.
type ACLICMP struct {
	Type int32 `json:"type"`
	Code int32 `json:"code"`
}

// Protocol numbers with a meaning of their own in ACL rules.
const (
	aclProtocolAll    = "-1"
	aclProtocolICMP   = "1"
	aclProtocolTCP    = "6"
	aclProtocolUDP    = "17"
	aclProtocolICMPv6 = "58"
)

// aclProtocolNames are the names AWS accepts for protocols, by number.
var aclProtocolNames = map[string]string{
	aclProtocolICMP: "icmp", aclProtocolTCP: "tcp", aclProtocolUDP: "udp", aclProtocolICMPv6: "icmpv6",
}

func sortedACLRules(rules []ACLEntry) []ACLEntry {
	out := slices.Clone(rules)
	slices.SortFunc(out, func(a, b ACLEntry) int { return int(a.RuleNumber - b.RuleNumber) })
	return out
}

// ACLEntryRequest is what CreateNetworkAclEntry and ReplaceNetworkAclEntry ask for.
type ACLEntryRequest struct {
	RuleNumber int32
	Egress     bool
	Protocol   string
	RuleAction string
	CIDR       string
	IPv6CIDR   string
	PortRange  *ACLPortRange
	ICMP       *ACLICMP
}

// checkACLRuleNumber refuses numbers outside 1..32766 (32767 is the fixed rule).
func checkACLRuleNumber(n int32) error {
	if n < 1 || n >= ACLDefaultRuleNumber {
		return errorf("InvalidParameterValue", "Value (%d) for parameter ruleNumber is invalid. Rule numbers must be between 1 and 32766.", n)
	}
	return nil
}

// aclEntry validates a request as AWS does and returns the rule as stored.
func aclEntry(req ACLEntryRequest) (ACLEntry, error) {
	if err := checkACLRuleNumber(req.RuleNumber); err != nil {
		return ACLEntry{}, err
	}
	e := ACLEntry{RuleNumber: req.RuleNumber, Egress: req.Egress}
	switch strings.ToLower(req.RuleAction) {
	case "allow", "deny":
		e.RuleAction = strings.ToLower(req.RuleAction)
	default:
		return ACLEntry{}, errorf("InvalidParameterValue", "Value (%s) for parameter ruleAction is invalid. Valid values are: allow, deny", req.RuleAction)
	}
	proto, err := aclProtocol(req.Protocol)
	if err != nil {
		return ACLEntry{}, err
	}
	e.Protocol = proto
	switch {
	case req.CIDR != "" && req.IPv6CIDR != "":
		return ACLEntry{}, errorf("InvalidParameterCombination", "Only one of cidrBlock and ipv6CidrBlock may be specified.")
	case req.CIDR != "":
		p, err := netip.ParsePrefix(req.CIDR)
		if err != nil || !p.Addr().Is4() {
			return ACLEntry{}, errorf("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", req.CIDR)
		}
		e.CIDR = p.Masked().String()
	case req.IPv6CIDR != "":
		p, err := netip.ParsePrefix(req.IPv6CIDR)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
			return ACLEntry{}, errorf("InvalidParameterValue", "Value (%s) for parameter ipv6CidrBlock is invalid. This is not a valid IPv6 CIDR block.", req.IPv6CIDR)
		}
		e.IPv6CIDR = p.Masked().String()
	default:
		return ACLEntry{}, errorf("MissingParameter", "Either cidrBlock or ipv6CidrBlock must be specified.")
	}
	switch {
	case proto == aclProtocolTCP || proto == aclProtocolUDP:
		if req.PortRange == nil {
			return ACLEntry{}, errorf("MissingParameter", "The request must contain the parameter portRange")
		}
		r := *req.PortRange
		if r.From < 0 || r.From > 65535 || r.To < 0 || r.To > 65535 || r.From > r.To {
			return ACLEntry{}, errorf("InvalidParameterValue", "Invalid port range %d-%d: ports are 0 to 65535, from no greater than to.", r.From, r.To)
		}
		e.PortRange = &r
	// ICMPv6 over an IPv4 block allows every type and code, whatever is given.
	case proto == aclProtocolICMP || proto == aclProtocolICMPv6 && e.IPv6CIDR != "":
		if req.ICMP == nil {
			return ACLEntry{}, errorf("MissingParameter", "The request must contain the parameter icmpTypeCode")
		}
		t := *req.ICMP
		if t.Type < -1 || t.Type > 255 || t.Code < -1 || t.Code > 255 {
			return ACLEntry{}, errorf("InvalidParameterValue", "Invalid ICMP type %d or code %d: each is -1 (all) or 0 to 255.", t.Type, t.Code)
		}
		e.ICMP = &t
	}
	return e, nil
}

// aclProtocol turns a protocol as given (-1, all, a number 0..255, or tcp, udp,
// icmp, icmpv6) into the number AWS stores.
func aclProtocol(p string) (string, error) {
	lower := strings.ToLower(p)
	if lower == "-1" || lower == "all" {
		return aclProtocolAll, nil
	}
	for number, name := range aclProtocolNames {
		if lower == name {
			return number, nil
		}
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 255 {
		return "", errorf("InvalidParameterValue", "Invalid value '%s' for protocol. Valid values are -1, tcp, udp, icmp, icmpv6 or a protocol number from 0 to 255.", p)
	}
	return strconv.Itoa(n), nil
}

// findACLRule returns the index of the rule with the number and direction, or -1.
func findACLRule(acl *NetworkACL, number int32, egress bool) int {
	return slices.IndexFunc(acl.Rules, func(r ACLEntry) bool { return r.RuleNumber == number && r.Egress == egress })
}

func aclEntryNotFound(acl *NetworkACL, number int32, egress bool) error {
	direction := "ingress"
	if egress {
		direction = "egress"
	}
	return errorf("InvalidNetworkAclEntry.NotFound", "The network acl entry identified by %d (%s) does not exist in network acl %s", number, direction, acl.ID)
}

// CreateNetworkACLEntry adds a rule; a rule with the same number and direction must
// not exist.
func (c *Cloud) CreateNetworkACLEntry(ctx context.Context, s Scope, aclID string, req ACLEntryRequest) error {
	e, err := aclEntry(req)
	if err != nil {
		return err
	}
	var vpcID string
	err = c.update(ctx, func(tx store.Tx) error {
		acl, err := networkACLs.get(tx, s, aclID)
		if err != nil {
			return err
		}
		vpcID = acl.VpcID
		if findACLRule(&acl, e.RuleNumber, e.Egress) >= 0 {
			return errorf("NetworkAclEntryAlreadyExists", "The network acl entry identified by %d already exists.", e.RuleNumber)
		}
		// The quota counts one direction of one address family, the fixed deny
		// rule included.
		same := 1
		for _, r := range acl.Rules {
			if r.Egress == e.Egress && (r.IPv6CIDR != "") == (e.IPv6CIDR != "") {
				same++
			}
		}
		if err := checkQuota(tx, s.Account, QuotaACLRules, same); err != nil {
			return err
		}
		acl.Rules = append(acl.Rules, e)
		return networkACLs.update(tx, s, &acl)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

// ReplaceNetworkACLEntry replaces an existing rule with the same number and direction.
func (c *Cloud) ReplaceNetworkACLEntry(ctx context.Context, s Scope, aclID string, req ACLEntryRequest) error {
	e, err := aclEntry(req)
	if err != nil {
		return err
	}
	var vpcID string
	err = c.update(ctx, func(tx store.Tx) error {
		acl, err := networkACLs.get(tx, s, aclID)
		if err != nil {
			return err
		}
		vpcID = acl.VpcID
		i := findACLRule(&acl, e.RuleNumber, e.Egress)
		if i < 0 {
			return aclEntryNotFound(&acl, e.RuleNumber, e.Egress)
		}
		acl.Rules[i] = e
		return networkACLs.update(tx, s, &acl)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

// DeleteNetworkACLEntry removes a rule.
func (c *Cloud) DeleteNetworkACLEntry(ctx context.Context, s Scope, aclID string, number int32, egress bool) error {
	if err := checkACLRuleNumber(number); err != nil {
		return err
	}
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		acl, err := networkACLs.get(tx, s, aclID)
		if err != nil {
			return err
		}
		vpcID = acl.VpcID
		i := findACLRule(&acl, number, egress)
		if i < 0 {
			return aclEntryNotFound(&acl, number, egress)
		}
		acl.Rules = slices.Delete(acl.Rules, i, i+1)
		return networkACLs.update(tx, s, &acl)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}
