package ec2

import (
	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

// permissions turns request IpPermissions into control-plane permissions.
func permissions(in []ec2api.IpPermission) []cloud.Permission {
	out := make([]cloud.Permission, len(in))
	for i, p := range in {
		perm := cloud.Permission{Protocol: deref(p.IpProtocol), FromPort: p.FromPort, ToPort: p.ToPort}
		for _, r := range p.IpRanges {
			perm.IPv4 = append(perm.IPv4, cloud.PeerRange{ID: deref(r.CidrIp), Description: deref(r.Description)})
		}
		for _, r := range p.Ipv6Ranges {
			perm.IPv6 = append(perm.IPv6, cloud.PeerRange{ID: deref(r.CidrIpv6), Description: deref(r.Description)})
		}
		for _, r := range p.PrefixListIds {
			perm.PrefixLists = append(perm.PrefixLists, cloud.PeerRange{ID: deref(r.PrefixListId), Description: deref(r.Description)})
		}
		for _, g := range p.UserIdGroupPairs {
			perm.Groups = append(perm.Groups, cloud.PeerGroup{ID: deref(g.GroupId), Name: deref(g.GroupName), UserID: deref(g.UserId), Description: deref(g.Description)})
		}
		out[i] = perm
	}
	return out
}

// legacyPermission is the rule the flat parameters of AuthorizeSecurityGroupIngress
// and RevokeSecurityGroupIngress name, if any: a protocol, ports and one IPv4
// range; or a source group by name, which stands for all of TCP, UDP and ICMP.
type legacyPermission struct {
	CidrIp, IpProtocol                                  *string
	FromPort, ToPort                                    *int32
	SourceSecurityGroupName, SourceSecurityGroupOwnerId *string
}

func (l legacyPermission) given() bool {
	return l.CidrIp != nil || l.IpProtocol != nil || l.FromPort != nil || l.ToPort != nil || l.SourceSecurityGroupName != nil || l.SourceSecurityGroupOwnerId != nil
}

func (l legacyPermission) permissions() ([]cloud.Permission, error) {
	if !l.given() {
		return nil, nil
	}
	if l.SourceSecurityGroupName == nil {
		if l.SourceSecurityGroupOwnerId != nil {
			return nil, missing("SourceSecurityGroupName")
		}
		perm := cloud.Permission{Protocol: deref(l.IpProtocol), FromPort: l.FromPort, ToPort: l.ToPort}
		if l.CidrIp != nil {
			perm.IPv4 = []cloud.PeerRange{{ID: *l.CidrIp}}
		}
		return []cloud.Permission{perm}, nil
	}
	if l.CidrIp != nil || l.IpProtocol != nil || l.FromPort != nil || l.ToPort != nil {
		return nil, awsapi.Errorf("InvalidParameterCombination", "The parameter sourceSecurityGroupName cannot be used with the parameters cidrIp, ipProtocol, fromPort or toPort; use IpPermissions instead.")
	}
	source := []cloud.PeerGroup{{Name: *l.SourceSecurityGroupName, UserID: deref(l.SourceSecurityGroupOwnerId)}}
	all, allICMP := int32(65535), int32(-1)
	zero := int32(0)
	return []cloud.Permission{
		{Protocol: "tcp", FromPort: &zero, ToPort: &all, Groups: source},
		{Protocol: "udp", FromPort: &zero, ToPort: &all, Groups: source},
		{Protocol: "icmp", FromPort: &allICMP, ToPort: &allICMP, Groups: source},
	}, nil
}

// hasPorts says whether AWS shows a permission's ports: not for all protocols (-1)
// nor for protocols without ports.
func hasPorts(protocol string) bool {
	switch protocol {
	case "tcp", "udp", "icmp", "icmpv6":
		return true
	}
	return false
}

// apiPermissions groups rules as AWS shows them: one IpPermission per protocol and
// port range, with every peer of those rules in it, in the order they first appear.
func apiPermissions(rules []cloud.SecurityGroupRule) []ec2api.IpPermission {
	out := []ec2api.IpPermission{}
	index := map[[3]any]int{}
	for _, r := range rules {
		k := [3]any{r.Protocol, r.FromPort, r.ToPort}
		i, ok := index[k]
		if !ok {
			p := ec2api.IpPermission{IpProtocol: ptr(r.Protocol), IpRanges: []ec2api.IpRange{}, Ipv6Ranges: []ec2api.Ipv6Range{}, PrefixListIds: []ec2api.PrefixListId{}, UserIdGroupPairs: []ec2api.UserIdGroupPair{}}
			if hasPorts(r.Protocol) {
				p.FromPort, p.ToPort = ptr(r.FromPort), ptr(r.ToPort)
			}
			i = len(out)
			index[k] = i
			out = append(out, p)
		}
		p := &out[i]
		desc := optional(r.Description)
		switch {
		case r.CIDRv4 != "":
			p.IpRanges = append(p.IpRanges, ec2api.IpRange{CidrIp: ptr(r.CIDRv4), Description: desc})
		case r.CIDRv6 != "":
			p.Ipv6Ranges = append(p.Ipv6Ranges, ec2api.Ipv6Range{CidrIpv6: ptr(r.CIDRv6), Description: desc})
		case r.PrefixListID != "":
			p.PrefixListIds = append(p.PrefixListIds, ec2api.PrefixListId{PrefixListId: ptr(r.PrefixListID), Description: desc})
		case r.Ref != nil:
			pair := ec2api.UserIdGroupPair{GroupId: ptr(r.Ref.GroupID), UserId: ptr(r.Ref.UserID), Description: desc}
			if r.Ref.VpcID != "" {
				pair.VpcId, pair.PeeringStatus = ptr(r.Ref.VpcID), ptr("active")
			}
			p.UserIdGroupPairs = append(p.UserIdGroupPairs, pair)
		}
	}
	return out
}

func apiSecurityGroup(g cloud.SecurityGroup) ec2api.SecurityGroup {
	return ec2api.SecurityGroup{
		GroupId: ptr(g.ID), GroupName: ptr(g.Name), Description: ptr(g.Description), OwnerId: ptr(g.OwnerID), VpcId: ptr(g.VpcID),
		IpPermissions: apiPermissions(g.Ingress), IpPermissionsEgress: apiPermissions(g.Egress), Tags: apiTags(g.Tags),
	}
}

func apiSecurityGroupRule(r cloud.SecurityGroupRule) ec2api.SecurityGroupRule {
	out := ec2api.SecurityGroupRule{
		SecurityGroupRuleId: ptr(r.ID), GroupId: ptr(r.GroupID), GroupOwnerId: ptr(r.GroupOwnerID), IsEgress: ptr(r.Egress),
		IpProtocol: ptr(r.Protocol), FromPort: ptr(r.FromPort), ToPort: ptr(r.ToPort),
		CidrIpv4: optional(r.CIDRv4), CidrIpv6: optional(r.CIDRv6), PrefixListId: optional(r.PrefixListID),
		Description: optional(r.Description), Tags: apiTags(r.Tags),
	}
	if r.Ref != nil {
		out.ReferencedGroupInfo = &ec2api.ReferencedSecurityGroup{GroupId: ptr(r.Ref.GroupID), UserId: ptr(r.Ref.UserID), VpcId: optional(r.Ref.VpcID)}
		if r.Ref.VpcID != "" {
			out.ReferencedGroupInfo.PeeringStatus = ptr("active")
		}
	}
	return out
}

func apiSecurityGroupRules(rules []cloud.SecurityGroupRule) []ec2api.SecurityGroupRule {
	out := make([]ec2api.SecurityGroupRule, len(rules))
	for i, r := range rules {
		out[i] = apiSecurityGroupRule(r)
	}
	return out
}
