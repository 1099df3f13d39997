package vpcnet

import "strato/internal/netpolicy"

// applyDNS starts or updates the VPC's resolver. (Not done yet: issue 6.)
func (n *Network) applyDNS(router string, policy *netpolicy.VPC) error {
	return nil
}

// stopDNS stops the resolver of one VPC, or every resolver when vpcID is nil.
func (n *Network) stopDNS(vpcID *string) {}
