package cloud

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"strato/internal/netpolicy"
	"strato/internal/store"
)

// amazonDNS is the Amazon-provided resolver's address in a VPC: its primary
// block's base + 2.
func amazonDNS(v VPC) (netip.Addr, error) {
	p, err := netip.ParsePrefix(v.CIDRBlocks[0].CIDR)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("VPC %s: unreadable CIDR %q", v.ID, v.CIDRBlocks[0].CIDR)
	}
	return p.Masked().Addr().Next().Next(), nil
}

// policyDNS is what the VPC's resolver answers and what instances are told: the
// DHCP options' domain name and name servers (the Region's default domain and
// the Amazon-provided resolver when the VPC has no options, or the options set
// neither), and the names of every interface address. Private names are the
// ones DescribeInstances and the metadata service show; public names are
// AWS's public DNS names of mapped public addresses, which inside the VPC
// answer the private address.
func policyDNS(tx store.Tx, s Scope, v VPC, enis []NetworkInterface) (netpolicy.DNS, error) {
	dns := netpolicy.DNS{Support: v.EnableDNSSupport, Hostnames: v.EnableDNSHostnames}
	resolver, err := amazonDNS(v)
	if err != nil {
		return dns, err
	}
	var domains, servers []string
	if v.DHCPOptionsID != "" && v.DHCPOptionsID != "default" {
		opts, err := dhcpOptionSets.get(tx, s, v.DHCPOptionsID)
		if err != nil && !isNotFound(err) {
			return dns, err
		}
		for _, c := range opts.Configurations {
			switch c.Key {
			case "domain-name":
				domains = c.Values
			case "domain-name-servers":
				servers = c.Values
			}
		}
	}
	dns.DomainName = regionDomain(s.Region)
	if len(domains) > 0 {
		dns.DomainName = domains[0]
	}
	if len(servers) == 0 {
		servers = []string{AmazonProvidedDNS}
	}
	for _, sv := range servers {
		addr := resolver
		if sv != AmazonProvidedDNS {
			if addr, err = netip.ParseAddr(sv); err != nil {
				return dns, fmt.Errorf("DHCP options %s: unreadable name server %q", v.DHCPOptionsID, sv)
			}
		}
		if !slices.Contains(dns.NameServers, addr) {
			dns.NameServers = append(dns.NameServers, addr)
		}
	}
	for _, n := range enis {
		for _, a := range n.PrivateIPs {
			priv, err := netip.ParseAddr(a.Address)
			if err != nil {
				return dns, fmt.Errorf("interface %s: unreadable address %q", n.ID, a.Address)
			}
			dns.Records = append(dns.Records, netpolicy.DNSRecord{Name: PrivateDNSName(s.Region, a.Address), Addr: priv})
			if dns.Hostnames && a.Association != nil {
				dns.Records = append(dns.Records, netpolicy.DNSRecord{Name: DefaultPTRRecord(s.Region, a.Association.PublicIP), Addr: priv})
			}
		}
	}
	slices.SortFunc(dns.Records, func(a, b netpolicy.DNSRecord) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), a.Addr.Compare(b.Addr))
	})
	return dns, nil
}
