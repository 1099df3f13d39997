package vpcnet

import "strato/internal/netpolicy"

// applyFlowLogs starts or updates the VPC's flow log readers. (Not done yet: issue 6.)
func (n *Network) applyFlowLogs(router string, policy *netpolicy.VPC) error {
	return nil
}

// stopFlowLogs stops the flow log readers of one VPC, or all when vpcID is nil.
func (n *Network) stopFlowLogs(vpcID *string) {}
