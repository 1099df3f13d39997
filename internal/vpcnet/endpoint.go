package vpcnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// Gateway VPC endpoints (S3, DynamoDB) are routes to the service's prefix list whose target
// is the endpoint: such packets keep their private source and never pass the internet
// gateway. One "services" namespace per installation (<Prefix>-svc) stands for the AWS
// services' networks: every address of a prefix list some route points at is local there
// (so a listener on 0.0.0.0 answers them all), it forwards nothing, and it is linked to
// each router that has an endpoint route by a veth pair ("v" + the VPC ID's last 12
// characters there, alias the VPC ID; "vpce" in the router).
//
// VPCs may overlap, so the way back is not chosen by destination: the services namespace
// marks each connection with the link it came in by and routes its replies by that mark
// (one rule and one table per link). What is approximated: one namespace stands for every
// service of every region, the endpoint's policy document is not enforced, and a prefix
// list's addresses stay local there until the namespace goes.

const routerEndpointLink = "vpce"

// The two ends of each endpoint link, as for the uplink: /32s, routes onlink.
var (
	serviceSideAddr    = netip.MustParseAddr("169.254.0.1")
	routerEndpointAddr = netip.MustParseAddr("169.254.0.2")
)

const (
	serviceRulePriority = 100
	serviceTableBase    = 0x20000 // + the link's index
)

func (n *Network) servicesNamespace() string { return n.nsPath("svc") }
func (n *Network) servicesTable() string     { return n.opts.Prefix + "-svc" }

func serviceLink(vpcID string) string { return "v" + idSuffix(vpcID) }

// isServiceLink tells the services namespace's links to routers from the rest.
func isServiceLink(l netlink.Link) bool {
	_, veth := l.(*netlink.Veth)
	return veth && strings.HasPrefix(l.Attrs().Name, "v")
}

// endpointDestinations are the destinations the policy routes to gateway endpoints.
func endpointDestinations(policy *netpolicy.VPC) []netip.Prefix {
	var out []netip.Prefix
	for _, rt := range policy.RouteTables {
		for _, r := range rt.Routes {
			if r.Target == netpolicy.TargetEndpoint && r.Destination.Addr().Is4() {
				out = append(out, r.Destination.Masked())
			}
		}
	}
	return out
}

// ensureEndpointLink links the router to the services namespace when one of its route
// tables has an endpoint route, and unlinks it when none has.
func (n *Network) ensureEndpointLink(router string, policy *netpolicy.VPC) error {
	dests := endpointDestinations(policy)
	if len(dests) == 0 {
		return n.removeEndpointLink(policy.ID)
	}
	svc := n.servicesNamespace()
	if err := ensureNamespace(svc); err != nil {
		return err
	}
	if err := setSysctls(svc, map[string]string{
		"ipv4.ip_forward":             "0",
		"ipv4.conf.all.rp_filter":     "0",
		"ipv4.conf.default.rp_filter": "0",
	}); err != nil {
		return err
	}
	name := serviceLink(policy.ID)
	if err := withHandle(svc, func(h *netlink.Handle) error {
		return ensureVethPair(h, name, policy.ID, router, routerEndpointLink)
	}); err != nil {
		return err
	}
	if err := withHandle(svc, func(h *netlink.Handle) error {
		link, err := h.LinkByName(name)
		if err != nil {
			return err
		}
		if err := h.LinkSetAlias(link, policy.ID); err != nil {
			return err
		}
		if err := h.AddrReplace(link, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(serviceSideAddr, 32))}); err != nil {
			return err
		}
		if err := h.LinkSetUp(link); err != nil {
			return err
		}
		if err := ensureServiceSink(h); err != nil {
			return err
		}
		lo, err := h.LinkByName("lo")
		if err != nil {
			return err
		}
		for _, dst := range dests {
			if err := h.RouteReplace(&netlink.Route{LinkIndex: lo.Attrs().Index, Dst: ipNet(dst),
				Table: unix.RT_TABLE_LOCAL, Type: unix.RTN_LOCAL, Scope: netlink.SCOPE_HOST}); err != nil {
				return fmt.Errorf("%v local: %w", dst, err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := withHandle(router, func(h *netlink.Handle) error {
		link, err := h.LinkByName(routerEndpointLink)
		if err != nil {
			return err
		}
		if err := h.AddrReplace(link, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(routerEndpointAddr, 32))}); err != nil {
			return err
		}
		return h.LinkSetUp(link)
	}); err != nil {
		return err
	}
	if err := n.writeServicesTable(); err != nil {
		return err
	}
	return syncServiceRoutes(svc)
}

// writeServicesTable marks each new connection with the index of the link it came in by
// and gives the mark to the packets sent back, so the rule of that link routes them.
func (n *Network) writeServicesTable() error {
	return withNftables(n.servicesNamespace(), func(c *nftables.Conn) error {
		table := &nftables.Table{Name: n.servicesTable(), Family: nftables.TableFamilyIPv4}
		c.AddTable(table)
		c.DelTable(table)
		c.AddTable(table)
		in := c.AddChain(&nftables.Chain{Name: "mark", Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityMangle})
		c.AddRule(&nftables.Rule{Table: table, Chain: in, Exprs: append(matchCtState(expr.CtStateBitNEW),
			&expr.Meta{Key: expr.MetaKeyIIF, Register: 1},
			&expr.Ct{Key: expr.CtKeyMARK, Register: 1, SourceRegister: true},
		)})
		out := c.AddChain(&nftables.Chain{Name: "reply", Table: table, Type: nftables.ChainTypeRoute,
			Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityMangle})
		c.AddRule(&nftables.Rule{Table: table, Chain: out, Exprs: []expr.Any{
			&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
			&expr.Meta{Key: expr.MetaKeyMARK, Register: 1, SourceRegister: true},
		}})
		return c.Flush()
	})
}

// syncServiceRoutes gives every link of the services namespace a table (default route back
// into its router) and a rule for the mark of its connections; rules of links gone go.
func syncServiceRoutes(svc string) error {
	return withHandle(svc, func(h *netlink.Handle) error {
		links, err := linkList(h)
		if err != nil {
			return err
		}
		want := map[int]bool{}
		for _, l := range links {
			if !isServiceLink(l) {
				continue
			}
			index := l.Attrs().Index
			want[index] = true
			if err := h.RouteReplace(&netlink.Route{Table: serviceTableBase + index, LinkIndex: index,
				Dst: ipNet(anyIPv4), Gw: net.IP(routerEndpointAddr.AsSlice()),
				Flags: int(netlink.FLAG_ONLINK)}); err != nil {
				return err
			}
		}
		rules, err := h.RuleList(netlink.FAMILY_V4)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
		for _, r := range rules {
			if r.Priority != serviceRulePriority {
				continue
			}
			if index := int(r.Mark); want[index] && r.Table == serviceTableBase+index {
				delete(want, index)
				continue
			}
			if err := h.RuleDel(&r); err != nil && !isNotFound(err) {
				return err
			}
		}
		for index := range want {
			r := netlink.NewRule()
			r.Family = netlink.FAMILY_V4
			r.Priority = serviceRulePriority
			r.Mark = uint32(index)
			r.Table = serviceTableBase + index
			if err := h.RuleAdd(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// serviceSink is a link in the services namespace that the main table's default
// route leads to. A reply's first route lookup is made before the output hook gives it its
// connection's mark (a TCP SYN-ACK's with the listener's mark, 0): it must find some route
// for the packet to reach that hook, whose mark change routes it again, by its mark, to the
// router it came from. What has no mark ends in the sink.
const serviceSink = "sink"

func ensureServiceSink(h *netlink.Handle) error {
	link, err := h.LinkByName(serviceSink)
	if isNotFound(err) {
		// A veth pair whose other end stays down (no dummy links on every kernel): what
		// goes in is dropped.
		if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: serviceSink}, PeerName: serviceSink + "0"}); err != nil {
			return err
		}
		link, err = h.LinkByName(serviceSink)
	}
	if err != nil {
		return err
	}
	if err := h.LinkSetUp(link); err != nil {
		return err
	}
	return h.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(anyIPv4), Scope: netlink.SCOPE_LINK})
}

var anyIPv4 = netip.MustParsePrefix("0.0.0.0/0")

// removeEndpointLink unlinks a VPC's router from the services namespace, and removes that
// namespace once no router is linked.
func (n *Network) removeEndpointLink(vpcID string) error {
	svc := n.servicesNamespace()
	if ok, err := isNamespaceFile(svc); err != nil || !ok {
		return err
	}
	left := 0
	if err := withHandle(svc, func(h *netlink.Handle) error {
		links, err := linkList(h)
		if err != nil {
			return err
		}
		for _, l := range links {
			if !isServiceLink(l) {
				continue
			}
			if l.Attrs().Alias == vpcID {
				if err := h.LinkDel(l); err != nil && !isNotFound(err) {
					return err
				}
				continue
			}
			left++
		}
		return nil
	}); err != nil {
		return err
	}
	if left == 0 {
		return removeNamespace(svc)
	}
	return syncServiceRoutes(svc)
}
