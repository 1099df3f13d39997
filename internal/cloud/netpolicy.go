package cloud

import (
	"strato/internal/netpolicy"
	"strato/internal/store"
)

// vpcPolicy is a VPC's whole network policy as the store has it, for the
// dataplane.
func vpcPolicy(tx store.Tx, s Scope, vpcID string) (netpolicy.VPC, error) {
	policy := netpolicy.VPC{ID: vpcID, AccountID: s.Account, Region: s.Region}
	public, err := publicMappings(tx, s, vpcID)
	if err != nil {
		return policy, err
	}
	policy.Public = public
	return policy, nil
}
