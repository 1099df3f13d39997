package cloud

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"maps"
	"slices"
	"strings"
	"time"

	"strato/internal/store"
)

// EndpointSubnet is one subnet of an interface endpoint with the network
// interface the endpoint holds in it.
type EndpointSubnet struct {
	SubnetID    string `json:"subnetId"`
	Zone        string `json:"zone"`
	InterfaceID string `json:"interfaceId"`
}

// SubnetIDs are the endpoint's subnets, in the order they were added.
func (e *VPCEndpoint) SubnetIDs() []string {
	out := make([]string, 0, len(e.Subnets))
	for _, sn := range e.Subnets {
		out = append(out, sn.SubnetID)
	}
	return out
}

// NetworkInterfaceIDs are the endpoint's interfaces, one per subnet.
func (e *VPCEndpoint) NetworkInterfaceIDs() []string {
	out := make([]string, 0, len(e.Subnets))
	for _, sn := range e.Subnets {
		out = append(out, sn.InterfaceID)
	}
	return out
}

// IPAddressType is always "ipv4": strato's endpoint services offer no other.
func (e *VPCEndpoint) IPAddressType() string { return "ipv4" }

// DNSEntry is a DNS name of an interface endpoint and the hosted zone holding it.
type DNSEntry struct {
	Name, HostedZoneID string
}

// DNSEntries are the names an interface endpoint answers for, as AWS lists them:
// the regional name, one name per zone of its subnets, then the service's own
// name when private DNS is enabled.
func (e *VPCEndpoint) DNSEntries() []DNSEntry {
	if e.Type != EndpointInterface {
		return nil
	}
	parts := strings.SplitN(e.ServiceName, ".", 4)
	region, service := parts[2], parts[3]
	base := service + "." + region + ".vpce.amazonaws.com"
	// S3's names take the bucket in front, so AWS gives them as wildcards.
	wildcard := ""
	if service == "s3" {
		wildcard = "*."
	}
	zone := hostedZoneID("vpce/" + region)
	out := []DNSEntry{{Name: wildcard + e.ID + "-" + e.DNSSuffix + "." + base, HostedZoneID: zone}}
	for _, sn := range e.Subnets {
		out = append(out, DNSEntry{Name: wildcard + e.ID + "-" + e.DNSSuffix + "-" + sn.Zone + "." + base, HostedZoneID: zone})
	}
	if e.PrivateDNSEnabled && !e.PrivateDNSOnlyForInboundResolver {
		private := hostedZoneID("private/" + e.ID)
		out = append(out, DNSEntry{Name: service + "." + region + ".amazonaws.com", HostedZoneID: private})
		if wildcard != "" {
			out = append(out, DNSEntry{Name: "*." + service + "." + region + ".amazonaws.com", HostedZoneID: private})
		}
	}
	return out
}

// hostedZoneID is a stable Route 53-style hosted zone ID (Z and 13 upper-case
// letters and digits) for a name.
func hostedZoneID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "Z" + base32.StdEncoding.EncodeToString(sum[:])[:13]
}

// newDNSSuffix is the random part AWS puts after an endpoint's ID in its names.
func newDNSSuffix() string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [8]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b[:])
}

// Quota names for interface endpoints.
const QuotaInterfaceEndpoints = "interface-vpc-endpoints-per-vpc"

func init() {
	quotaDefs[QuotaInterfaceEndpoints] = QuotaDef{
		Name:        QuotaInterfaceEndpoints,
		Description: "Interface and Gateway Load Balancer endpoints per VPC",
		Default:     50,
		Code:        "VpcEndpointLimitExceeded",
		Message:     "The maximum number of interface VPC endpoints in this VPC has been reached (%d).",
	}
	// An endpoint keeps its groups even without subnets (and so without
	// interfaces that would keep them).
	securityGroupUsers = append(securityGroupUsers, func(tx store.Tx, s Scope, groupID string) (bool, error) {
		all, err := vpcEndpoints.load(tx, s, nil, nil)
		for _, e := range all {
			if slices.ContainsFunc(e.Groups, func(g InterfaceGroup) bool { return g.ID == groupID }) {
				return true, err
			}
		}
		return false, err
	})
}

// checkAddressTypes checks an endpoint's IpAddressType and DnsRecordIpType:
// strato's services are IPv4 only, as DescribeVpcEndpointServices says.
func checkAddressTypes(serviceName, ipType, recordType string) error {
	switch ipType {
	case "", "ipv4":
	case "dualstack", "ipv6":
		return errorf("InvalidParameter", "The VPC endpoint service %s does not support the IP address type %s; it supports ipv4 only.", serviceName, ipType)
	default:
		return errorf("InvalidParameterValue", "Value (%s) for parameter IpAddressType is invalid. Valid values are: ipv4, dualstack, ipv6", ipType)
	}
	switch recordType {
	case "", "ipv4", "service-defined":
	case "dualstack", "ipv6":
		return errorf("InvalidParameter", "The VPC endpoint service %s does not support the DNS record IP type %s; it supports ipv4 only.", serviceName, recordType)
	default:
		return errorf("InvalidParameterValue", "Value (%s) for parameter DnsOptions.DnsRecordIpType is invalid. Valid values are: ipv4, dualstack, ipv6, service-defined", recordType)
	}
	return nil
}

// buildInterfaceEndpoint gives a new interface endpoint its security groups,
// DNS settings and an interface in each subnet.
func buildInterfaceEndpoint(tx store.Tx, s Scope, e *VPCEndpoint, req EndpointRequest) error {
	if len(req.RouteTableIDs) > 0 {
		return errorf("InvalidParameter", "Route tables are supported only for gateway endpoints.")
	}
	siblings, err := vpcEndpoints.children(tx, s, e.VpcID)
	if err != nil {
		return err
	}
	interfaces := slices.DeleteFunc(siblings, func(o VPCEndpoint) bool { return o.Type != EndpointInterface || o.ID == e.ID })
	if err := checkQuota(tx, s.Account, QuotaInterfaceEndpoints, len(interfaces)); err != nil {
		return err
	}
	if e.Groups, err = groupRefs(tx, s, e.VpcID, req.SecurityGroupIDs); err != nil {
		return err
	}
	if err := addEndpointSubnets(tx, s, e, e.CreatedAt, withConfiguredSubnets(req.SubnetIDs, req.SubnetIPs), req.SubnetIPs); err != nil {
		return err
	}
	// Private DNS is on unless turned off, for AWS services.
	enable := req.PrivateDNSEnabled == nil || *req.PrivateDNSEnabled
	return setPrivateDNS(tx, s, e, enable, req.DNS.PrivateDNSOnlyForInboundResolver)
}

// withConfiguredSubnets adds the subnets of SubnetConfigurations missing from
// the subnet IDs, in name order.
func withConfiguredSubnets(ids []string, ips map[string]string) []string {
	out := slices.Clone(ids)
	for _, id := range slices.Sorted(maps.Keys(ips)) {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// addEndpointSubnets makes the endpoint's interface in each subnet (at the
// address ips names, if any): one subnet per zone, in the endpoint's VPC.
func addEndpointSubnets(tx store.Tx, s Scope, e *VPCEndpoint, now time.Time, ids []string, ips map[string]string) error {
	for _, id := range ids {
		sn, err := subnets.get(tx, s, id)
		if err != nil {
			return err
		}
		if sn.VpcID != e.VpcID {
			return errorf("InvalidParameter", "Subnet %s and VPC %s belong to different networks.", id, e.VpcID)
		}
		if slices.ContainsFunc(e.Subnets, func(o EndpointSubnet) bool { return o.Zone == sn.AvailabilityZone }) {
			return errorf("DuplicateSubnetsInSameZone", "Found another VPC endpoint subnet in the availability zone of %s. VPC endpoint subnets should be in different availability zones supported by the VPC endpoint service.", id)
		}
		n, err := createInterface(tx, s, now, InterfaceRequest{
			SubnetID: id, PrimaryIP: ips[id], Description: "VPC Endpoint Interface " + e.ID, Groups: groupIDs(e.Groups),
			InterfaceType: InterfaceTypeVPCEndpoint, RequesterManaged: true, ManagedBy: e.ID,
		})
		if err != nil {
			return err
		}
		e.Subnets = append(e.Subnets, EndpointSubnet{SubnetID: id, Zone: sn.AvailabilityZone, InterfaceID: n.ID})
	}
	return nil
}

// removeEndpointSubnets deletes the endpoint's interfaces in the subnets, which
// must be its own.
func removeEndpointSubnets(tx store.Tx, s Scope, e *VPCEndpoint, ids []string) error {
	for _, id := range ids {
		i := slices.IndexFunc(e.Subnets, func(o EndpointSubnet) bool { return o.SubnetID == id })
		if i < 0 {
			return errorf("InvalidParameter", "Subnet %s is not a subnet of VPC endpoint %s.", id, e.ID)
		}
		if err := deleteInterface(tx, s, e.Subnets[i].InterfaceID); err != nil {
			return err
		}
		e.Subnets = slices.Delete(e.Subnets, i, i+1)
	}
	return nil
}

func groupIDs(groups []InterfaceGroup) []string {
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		out = append(out, g.ID)
	}
	return out
}

// changeEndpointGroups removes and adds security groups of an endpoint and of
// every interface it holds; one group at least must remain.
func changeEndpointGroups(tx store.Tx, s Scope, e *VPCEndpoint, add, remove []string) error {
	ids := groupIDs(e.Groups)
	for _, id := range remove {
		if !slices.Contains(ids, id) {
			return errorf("InvalidParameter", "Security group %s is not associated with VPC endpoint %s.", id, e.ID)
		}
		ids = slices.DeleteFunc(ids, func(g string) bool { return g == id })
	}
	ids = append(ids, add...)
	if len(ids) == 0 {
		return errorf("InvalidParameter", "A VPC endpoint must keep at least one security group.")
	}
	groups, err := groupRefs(tx, s, e.VpcID, ids)
	if err != nil {
		return err
	}
	e.Groups = groups
	for _, sn := range e.Subnets {
		n, err := networkInterfaces.get(tx, s, sn.InterfaceID)
		if err != nil {
			return err
		}
		n.Groups = groups
		if err := networkInterfaces.update(tx, s, &n); err != nil {
			return err
		}
	}
	return nil
}

// setPrivateDNS turns private DNS on or off. On, it needs the VPC's DNS support
// and DNS hostnames, and no other endpoint of the VPC answering for the same
// name. Inbound-only private DNS (nil: AWS's default, on for services that also
// have gateway endpoints) needs a gateway endpoint of the service in the VPC.
func setPrivateDNS(tx store.Tx, s Scope, e *VPCEndpoint, enable bool, inboundOnly *bool) error {
	region := strings.SplitN(e.ServiceName, ".", 4)[2]
	_, gwErr := endpointService(region, e.ServiceName, EndpointGateway)
	hasGateway := gwErr == nil
	if enable && !e.PrivateDNSEnabled {
		v, err := vpcs.get(tx, s, e.VpcID)
		if err != nil {
			return err
		}
		if !v.EnableDNSSupport || !v.EnableDNSHostnames {
			return errorf("InvalidParameter", "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for %s", e.VpcID)
		}
		others, err := vpcEndpoints.children(tx, s, e.VpcID)
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.ID != e.ID && o.Type == EndpointInterface && o.ServiceName == e.ServiceName && o.PrivateDNSEnabled {
				return errorf("InvalidParameter", "private-dns-enabled cannot be set because there is already a conflicting DNS domain for %s in the VPC %s", strings.TrimPrefix(e.ServiceName, "com.amazonaws."+region+".")+"."+region+".amazonaws.com", e.VpcID)
			}
		}
		if inboundOnly == nil {
			inboundOnly = &hasGateway
		}
	}
	e.PrivateDNSEnabled = enable
	if inboundOnly != nil {
		e.PrivateDNSOnlyForInboundResolver = *inboundOnly
	}
	if !enable {
		if inboundOnly != nil && *inboundOnly {
			return errorf("InvalidParameter", "PrivateDnsOnlyForInboundResolverEndpoint can be set only when private DNS is enabled.")
		}
		e.PrivateDNSOnlyForInboundResolver = false
		return nil
	}
	if !e.PrivateDNSOnlyForInboundResolver {
		return nil
	}
	if !hasGateway {
		return errorf("InvalidParameter", "PrivateDnsOnlyForInboundResolverEndpoint is supported only for services with both gateway and interface endpoints; %s has no gateway endpoint.", e.ServiceName)
	}
	siblings, err := vpcEndpoints.children(tx, s, e.VpcID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(siblings, func(o VPCEndpoint) bool { return o.Type == EndpointGateway && o.ServiceName == e.ServiceName }) {
		return errorf("InvalidParameter", "To set PrivateDnsOnlyForInboundResolverEndpoint to true, the VPC %s must have a Gateway endpoint for the service.", e.VpcID)
	}
	return nil
}

// modifyInterfaceEndpoint applies ModifyVpcEndpoint's interface changes:
// subnets removed before subnets added (so a subnet can be swapped for another
// of its zone), then security groups, then DNS.
func (c *Cloud) modifyInterfaceEndpoint(tx store.Tx, s Scope, e *VPCEndpoint, ch EndpointChange) error {
	for id := range ch.SubnetIPs {
		if slices.Contains(e.SubnetIDs(), id) && !slices.Contains(ch.RemoveSubnetIDs, id) {
			return errorf("InvalidParameter", "strato cannot change the address of the interface of VPC endpoint %s in subnet %s; remove the subnet and add it again.", e.ID, id)
		}
	}
	if err := removeEndpointSubnets(tx, s, e, ch.RemoveSubnetIDs); err != nil {
		return err
	}
	if len(ch.AddGroupIDs)+len(ch.RemoveGroupIDs) > 0 {
		if err := changeEndpointGroups(tx, s, e, ch.AddGroupIDs, ch.RemoveGroupIDs); err != nil {
			return err
		}
	}
	// New interfaces get the endpoint's groups as just changed.
	if err := addEndpointSubnets(tx, s, e, c.clock.Now(), withConfiguredSubnets(ch.AddSubnetIDs, ch.SubnetIPs), ch.SubnetIPs); err != nil {
		return err
	}
	if ch.PrivateDNSEnabled != nil || ch.DNS.PrivateDNSOnlyForInboundResolver != nil {
		enable := e.PrivateDNSEnabled
		if ch.PrivateDNSEnabled != nil {
			enable = *ch.PrivateDNSEnabled
		}
		return setPrivateDNS(tx, s, e, enable, ch.DNS.PrivateDNSOnlyForInboundResolver)
	}
	return nil
}
