package vpcnet

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"strato/internal/netpolicy"
)

// The verdict cache. Most packets a router forwards belong to connections whose earlier
// packets the filter has judged already, and what it decides for a packet of an
// established connection depends only on what is the same for every packet of that
// connection going the same way (addresses, ports, protocol, the links routing picks) and
// on the table. So once a packet of an established connection has passed every stage, the
// forward chain records that in the connection's conntrack mark, per direction, and
// while the table stays the same, later packets of the connection pass on one rule.
//
// The mark is generation<<2 | 2 (original direction passed) | 1 (reply passed); a packet
// of an established connection whose mark is this table's generation with both bits
// passes at once. Every render of the table takes a new generation, so a policy change
// (ACLs are stateless: a reply that an edited ACL denies is denied at once) makes every
// connection's next packet in each direction pass the stages again. The generation is
// kept in the forward chain itself (a comment on its jump to transit): a render reads
// the last one and adds one. A table without one (new, or written by an older strato)
// starts above every mark its router's conntrack holds.
//
// What the cache does not cover, so always runs: anti-spoofing (prerouting), related
// packets (ICMP errors: their protocol and addresses are not the connection's), new
// connections, untracked packets (appliance routes) and the flow-log chain. It is off in
// a VPC with an interface whose source/destination check is off: such an interface may
// send a packet as another interface's connection, and the cache does not know which
// link a packet came by.

// cacheGenerationLimit bounds the generation, which takes the mark's upper 30 bits. A
// router that reaches it (a billion renders) renders without the cache from then on.
const cacheGenerationLimit = 1 << 30

// Bits of the conntrack mark under the generation.
const (
	cachedOriginal uint32 = 2
	cachedReply    uint32 = 1
)

// cacheCommentPrefix starts the comment that holds a table's generation.
const cacheCommentPrefix = "verdict cache generation "

// verdictCache is what a VPC table's render knows of the cache: its generation, and
// whether the forward chain uses it.
type verdictCache struct {
	generation uint32
	on         bool
}

// hit matches packets the cache lets pass.
func (v verdictCache) hit() []expr.Any {
	return append(matchCtState(expr.CtStateBitESTABLISHED),
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK},
		// conntrack's mark is in host order
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: nativeUint32(v.generation<<2 | cachedOriginal | cachedReply)},
	)
}

// stores are the rules that record, for a packet of an established connection that has
// passed every stage before them, that its direction passed: added to the mark when it
// holds this generation already, replacing it otherwise.
func (v verdictCache) stores() [][]expr.Any {
	var rules [][]expr.Any
	for _, dir := range []struct {
		ct  byte
		bit uint32
	}{{ctDirOriginal, cachedOriginal}, {ctDirReply, cachedReply}} {
		known := slices.Concat(matchCtState(expr.CtStateBitESTABLISHED), matchCtDirection(dir.ct))
		rules = append(rules,
			slices.Concat(known, []expr.Any{
				// The mark is read once: read again after the compare, it could hold what
				// another CPU stored meanwhile, under a newer table.
				&expr.Ct{Register: 1, Key: expr.CtKeyMARK},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 2, Len: 4,
					Mask: nativeUint32(^(cachedOriginal | cachedReply)), Xor: nativeUint32(0)},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 2, Data: nativeUint32(v.generation << 2)},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
					Mask: nativeUint32(^dir.bit), Xor: nativeUint32(dir.bit)},
				&expr.Ct{Register: 1, Key: expr.CtKeyMARK, SourceRegister: true},
			}),
			slices.Concat(known, []expr.Any{
				&expr.Immediate{Register: 1, Data: nativeUint32(v.generation<<2 | dir.bit)},
				&expr.Ct{Register: 1, Key: expr.CtKeyMARK, SourceRegister: true},
			}))
	}
	return rules
}

// userData is the forward chain's record of the generation: a comment, as nft shows it.
func (v verdictCache) userData() []byte {
	comment := cacheCommentPrefix + strconv.FormatUint(uint64(v.generation), 10)
	// nftnl's rule user data: type 0 (comment), length, the string with its NUL.
	return append([]byte{0, byte(len(comment) + 1)}, append([]byte(comment), 0)...)
}

// generationOf reads a generation back from a rule's user data.
func generationOf(userData []byte) (uint32, bool) {
	if len(userData) < 3 || userData[0] != 0 || int(userData[1]) != len(userData)-2 {
		return 0, false
	}
	comment := strings.TrimSuffix(string(userData[2:]), "\x00")
	digits, ok := strings.CutPrefix(comment, cacheCommentPrefix)
	if !ok {
		return 0, false
	}
	g, err := strconv.ParseUint(digits, 10, 32)
	return uint32(g), err == nil
}

// renewVerdictCache gives the VPC's table a new generation, rewriting its forward chain
// alone (in one transaction). SetVPC calls it once the routes are in place: the table is
// rendered before them, and a connection that passed it meanwhile was judged with the
// routes before, where the next hop (a NAT gateway's checks) or the link may differ.
func (n *Network) renewVerdictCache(router, vpcID string, policy *netpolicy.VPC) error {
	return withNftables(router, func(c *nftables.Conn) error {
		table := n.vpcNftTable(vpcID)
		cache, err := nextVerdictCache(c, router, table, policy)
		if err != nil {
			return err
		}
		forward := &nftables.Chain{Name: chainForward, Table: table}
		c.FlushChain(forward)
		r := &renderer{c: c, table: table, sgOut: &nftables.Set{Table: table, Name: mapSGOut}}
		r.forwardRules(forward, cache)
		if r.err != nil {
			return r.err
		}
		return c.Flush()
	})
}

// nextVerdictCache is the cache of a VPC table about to be rendered: the generation after
// the table's current one, on where the policy allows.
func nextVerdictCache(c *nftables.Conn, router string, table *nftables.Table, policy *netpolicy.VPC) (verdictCache, error) {
	last, err := lastCacheGeneration(c, router, table)
	if err != nil {
		return verdictCache{}, err
	}
	v := verdictCache{generation: min(last+1, cacheGenerationLimit-1)}
	v.on = policy != nil && last+1 < cacheGenerationLimit && !anySourceDestCheckOff(policy)
	return v, nil
}

// lastCacheGeneration is the generation of the VPC's table as it is, or, for a table
// without one, the highest generation among its router's conntrack marks.
func lastCacheGeneration(c *nftables.Conn, router string, table *nftables.Table) (uint32, error) {
	last, found, err := tableCacheGeneration(c, table)
	if err != nil || found {
		return last, err
	}
	err = withHandle(router, func(h *netlink.Handle) error {
		for _, family := range []netlink.InetFamily{unix.AF_INET, unix.AF_INET6} {
			flows, err := wholeConntrackTable(h, family)
			if err != nil {
				return fmt.Errorf("conntrack marks: %w", err)
			}
			for _, f := range flows {
				last = max(last, f.Mark>>2)
			}
		}
		return nil
	})
	return last, err
}

// tableCacheGeneration is the generation the table's forward chain records; found is
// false when there is no table, no forward chain or no generation in it.
func tableCacheGeneration(c *nftables.Conn, table *nftables.Table) (gen uint32, found bool, err error) {
	rules, err := c.GetRules(table, &nftables.Chain{Name: chainForward, Table: table})
	if errors.Is(err, unix.ENOENT) {
		return 0, false, nil
	}
	if err != nil {
		// Not a guess from the marks: the table's rules mark connections meanwhile.
		return 0, false, fmt.Errorf("reading the verdict cache's generation: %w", err)
	}
	for _, r := range rules {
		if g, ok := generationOf(r.UserData); ok {
			return g, true, nil
		}
	}
	return 0, false, nil
}

// wholeConntrackTable lists a family's conntrack entries, dumping again when the kernel
// says the table changed during the dump (a partial list could miss the highest mark).
func wholeConntrackTable(h *netlink.Handle, family netlink.InetFamily) ([]*netlink.ConntrackFlow, error) {
	for attempt := 1; ; attempt++ {
		flows, err := h.ConntrackTableList(netlink.ConntrackTable, family)
		if !errors.Is(err, netlink.ErrDumpInterrupted) || attempt == 5 {
			return flows, err
		}
	}
}

// anySourceDestCheckOff says whether an interface of the policy may send from addresses
// not its own.
func anySourceDestCheckOff(policy *netpolicy.VPC) bool {
	for _, iface := range policy.Interfaces {
		if iface.Kind != netpolicy.InterfaceNATGateway && !iface.SourceDestCheck {
			return true
		}
	}
	return false
}
