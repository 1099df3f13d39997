package vpcnet

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// A NAT gateway is a namespace of its own ("<Prefix>-nat-…" in the run directory) with
// its interface plugged like an instance's: eth0 with the NAT gateway's private address
// in its subnet, default route via the subnet's gateway. It forwards what the VPC's
// instances send it back out of eth0 (one-armed), rewriting the source to its own private
// address, and lets only replies back in. The router then maps that private address to
// the NAT gateway's Elastic IP 1:1 at the uplink (policy.Public has it), and routes it by
// the NAT gateway's subnet's route table — which must send 0.0.0.0/0 to the internet
// gateway for it to work, as on AWS.
//
// Its loopback's alias is the VPC's ID, so that the namespaces of a VPC's NAT gateways
// are found again from the kernel alone.

func (n *Network) natNamespace(natID string) string { return n.nsPath(natID) }
func (n *Network) natTable() string                 { return n.opts.Prefix + "-nat" }

// natLink is a NAT gateway's interface inside its namespace.
const natLink = "eth0"

// ensureNATGateways makes (or checks) the namespace of every NAT gateway of the policy.
// It reports whether an interface link was made in the router.
func (n *Network) ensureNATGateways(router string, policy *netpolicy.VPC) (bool, error) {
	links, err := routerLinks(router)
	if err != nil {
		return false, err
	}
	made := false
	for _, nat := range policy.NATGateways {
		if err := validateID("nat", nat.ID); err != nil {
			return made, err
		}
		p, err := natPlug(policy, nat)
		if err != nil {
			n.log.Warn("vpcnet: NAT gateway left out", "nat", nat.ID, "vpc", policy.ID, "err", err)
			continue
		}
		p.Netns = n.natNamespace(nat.ID)
		if err := n.ensureNATGateway(router, policy, nat, p); err != nil {
			return made, fmt.Errorf("%s: %w", nat.ID, err)
		}
		made = made || !links[eniLink(p.InterfaceID)]
	}
	return made, nil
}

// natPlug is how a NAT gateway's interface is plugged (Netns aside).
func natPlug(policy *netpolicy.VPC, nat netpolicy.NATGateway) (Plug, error) {
	iface, ok := interfaceOf(policy, nat.InterfaceID)
	if !ok {
		return Plug{}, fmt.Errorf("its interface %s is not in the policy", nat.InterfaceID)
	}
	subnetID := iface.SubnetID
	if subnetID == "" {
		subnetID = nat.SubnetID
	}
	subnet, ok := subnetOf(policy, subnetID)
	if !ok {
		return Plug{}, fmt.Errorf("its subnet %s is not in the policy", subnetID)
	}
	addrs := iface.Addresses
	if !slices.Contains(addrs, nat.PrivateIP) {
		addrs = append([]netip.Addr{nat.PrivateIP}, addrs...)
	}
	return Plug{
		VpcID:       policy.ID,
		InterfaceID: iface.ID,
		MAC:         stableMAC(iface.ID).String(),
		PrivateIPs:  addrs,
		Subnet:      subnet.CIDR.Masked(),
		Gateway:     subnetGateway(subnet.CIDR),
	}, nil
}

func (n *Network) ensureNATGateway(router string, policy *netpolicy.VPC, nat netpolicy.NATGateway, p Plug) error {
	if err := ensureNamespace(p.Netns); err != nil {
		return err
	}
	if err := withHandle(p.Netns, func(h *netlink.Handle) error {
		lo, err := h.LinkByName("lo")
		if err != nil {
			return err
		}
		return h.LinkSetAlias(lo, policy.ID)
	}); err != nil {
		return err
	}
	// No ICMP redirects: it sends what it forwards back out of the link it came in by.
	// "default" before eth0 exists, eth0's own after (the kernel ORs all and the link's).
	sysctls := map[string]string{
		"ipv4.ip_forward":                  "1",
		"ipv4.conf.all.send_redirects":     "0",
		"ipv4.conf.default.send_redirects": "0",
		"ipv4.conf.all.rp_filter":          "0",
		"ipv4.conf.default.rp_filter":      "0",
	}
	if err := setSysctls(p.Netns, sysctls); err != nil {
		return err
	}
	mac, err := p.validate(true)
	if err != nil {
		return err
	}
	if _, err := wireInterface(router, eniLink(p.InterfaceID), p, mac); err != nil {
		return err
	}
	if err := setSysctls(p.Netns, map[string]string{
		"ipv4.conf." + natLink + ".send_redirects": "0",
		"ipv4.conf." + natLink + ".rp_filter":      "0",
	}); err != nil {
		return err
	}
	return n.writeNATTable(p.Netns, policy.CIDRs, nat.PrivateIP)
}

// writeNATTable renders a NAT gateway's table: it forwards new connections only from the
// VPC's addresses, and replies; it rewrites what it forwards to its own private address;
// it drops connections to itself silently (an Elastic IP of a NAT gateway answers nothing).
func (n *Network) writeNATTable(ns string, vpcCIDRs []netip.Prefix, self netip.Addr) error {
	return withNftables(ns, func(c *nftables.Conn) error {
		table := &nftables.Table{Name: n.natTable(), Family: nftables.TableFamilyIPv4}
		c.AddTable(table)
		c.DelTable(table)
		c.AddTable(table)
		drop := nftables.ChainPolicyDrop
		forward := c.AddChain(&nftables.Chain{Name: chainForward, Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
		c.AddRule(&nftables.Rule{Table: table, Chain: forward, Exprs: slices.Concat(
			matchCtState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED),
			[]expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}})})
		for _, cidr := range vpcCIDRs {
			if !cidr.Addr().Is4() {
				continue
			}
			c.AddRule(&nftables.Rule{Table: table, Chain: forward, Exprs: slices.Concat(
				matchIfname(expr.MetaKeyIIFNAME, natLink), matchIfname(expr.MetaKeyOIFNAME, natLink),
				matchCtState(expr.CtStateBitNEW), matchPrefix(offsetSaddr, cidr),
				[]expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}})})
		}
		input := c.AddChain(&nftables.Chain{Name: "input", Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter})
		c.AddRule(&nftables.Rule{Table: table, Chain: input, Exprs: slices.Concat(
			matchCtState(expr.CtStateBitNEW), []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}})})
		snat := c.AddChain(&nftables.Chain{Name: chainSNAT, Table: table, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
		c.AddRule(&nftables.Rule{Table: table, Chain: snat, Exprs: slices.Concat(
			matchIfname(expr.MetaKeyOIFNAME, natLink),
			[]expr.Any{
				loadAddr(offsetSaddr),
				&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: self.AsSlice()},
				&expr.Immediate{Register: 1, Data: self.AsSlice()},
				&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1},
			})})
		return c.Flush()
	})
}

// matchCtState matches packets whose conntrack state is one of bits.
func matchCtState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		// conntrack's state is in host order
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: nativeUint32(bits), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

// stableMAC is a locally administered unicast MAC derived from an ID.
func stableMAC(id string) net.HardwareAddr {
	h := fnv.New64a()
	h.Write([]byte(id))
	sum := h.Sum64()
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 0}
	for i := 1; i < 6; i++ {
		mac[i] = byte(sum >> (8 * i))
	}
	return mac
}

// removeStaleNATGateways removes the namespaces of the VPC's NAT gateways the policy no
// longer lists.
func (n *Network) removeStaleNATGateways(policy *netpolicy.VPC) error {
	keep := map[string]bool{}
	for _, nat := range policy.NATGateways {
		keep[nat.ID] = true
	}
	return n.removeNATGatewaysOf(policy.ID, keep)
}

// removeNATGatewaysOf removes the namespaces of a VPC's NAT gateways but those in keep.
// The interface goes first (its router end with it), then the namespace.
func (n *Network) removeNATGatewaysOf(vpcID string, keep map[string]bool) error {
	entries, err := os.ReadDir(n.opts.RunDir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	var errs []error
	for _, e := range entries {
		natID, ok := strings.CutPrefix(e.Name(), n.opts.Prefix+"-")
		if !ok || !strings.HasPrefix(natID, "nat-") || keep[natID] {
			continue
		}
		ns := n.natNamespace(natID)
		if ok, err := isNamespaceFile(ns); err != nil || !ok {
			errs = append(errs, err)
			continue
		}
		owner := ""
		if err := withHandle(ns, func(h *netlink.Handle) error {
			lo, err := h.LinkByName("lo")
			if err != nil {
				return err
			}
			owner = lo.Attrs().Alias
			return nil
		}); err != nil {
			errs = append(errs, err)
			continue
		}
		if owner != vpcID {
			continue
		}
		errs = append(errs, deleteLinkIn(ns, natLink), removeNamespace(ns))
	}
	return errors.Join(errs...)
}
