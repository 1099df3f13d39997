package vpcnet

import (
	"github.com/google/nftables"

	"strato/internal/netpolicy"
)

// applyRouting makes the router's routes what the VPC's route tables say.
// (Not done yet: issue 6 fills this in.)
func (n *Network) applyRouting(router string, policy *netpolicy.VPC) error {
	return nil
}

// addRoutingChains adds the rules routing needs to the VPC's table.
func addRoutingChains(c *nftables.Conn, table *nftables.Table, st vpcTableState) error {
	return nil
}

// removeRouting removes what routing made for a VPC outside its router namespace.
func (n *Network) removeRouting(vpcID string) error {
	return nil
}
