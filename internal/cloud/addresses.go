package cloud

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"strato/internal/store"
)

// Address is an Elastic IP address: a public address of the installation's pool,
// allocated to an account in a Region, mapped to at most one private address of
// a network interface.
type Address struct {
	AllocationID       string `json:"allocationId"`
	PublicIP           string `json:"publicIp"`
	OwnerID            string `json:"ownerId"`
	Region             string `json:"region"`
	NetworkBorderGroup string `json:"networkBorderGroup"`
	// The association, when mapped.
	AssociationID           string `json:"associationId,omitempty"`
	NetworkInterfaceID      string `json:"networkInterfaceId,omitempty"`
	NetworkInterfaceOwnerID string `json:"networkInterfaceOwnerId,omitempty"`
	PrivateIP               string `json:"privateIp,omitempty"`
	InstanceID              string `json:"instanceId,omitempty"`
	// VpcID is the VPC of the interface it is mapped to (that VPC's internet
	// gateway cannot be detached meanwhile).
	VpcID string `json:"vpcId,omitempty"`
	// PTRRecord is the reverse DNS name set with ModifyAddressAttribute, or "".
	PTRRecord string    `json:"ptrRecord,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// Domain is always "vpc": EC2-Classic is retired.
func (a *Address) Domain() string { return "vpc" }

// PublicIPv4Pool is "amazon": the installation's own pool.
func (a *Address) PublicIPv4Pool() string { return "amazon" }

// DefaultPTRRecord is the reverse DNS name AWS gives a public address.
func DefaultPTRRecord(region, ip string) string {
	host := "ec2-" + strings.ReplaceAll(ip, ".", "-")
	if region == "us-east-1" {
		return host + ".compute-1.amazonaws.com"
	}
	return host + "." + region + ".compute.amazonaws.com"
}

var addresses = docKind[Address]{
	kind: KindElasticIP,
	id:   func(a *Address) string { return a.AllocationID },
	// Public addresses are unique in the whole installation; in the scope the
	// name lets DescribeAddresses find them by PublicIp.
	name:   func(a *Address) string { return a.PublicIP },
	parent: func(a *Address) string { return a.NetworkInterfaceID },
	tags:   func(a *Address) *map[string]string { return &a.Tags },
}

// Quota names for Elastic IP addresses.
const QuotaElasticIPs = "elastic-ips-per-region"

func init() {
	quotaDefs[QuotaElasticIPs] = QuotaDef{
		Name:        QuotaElasticIPs,
		Description: "EC2-VPC Elastic IPs",
		Default:     5,
		Code:        "AddressLimitExceeded",
		Message:     "The maximum number of addresses has been reached (%d).",
	}
	publicAddressUsers = append(publicAddressUsers, func(tx store.Tx, s Scope, vpcID string) (bool, error) {
		all, err := addresses.load(tx, s, nil, nil)
		for _, a := range all {
			if a.VpcID == vpcID {
				return true, err
			}
		}
		return false, err
	})
}

// addressByIP reads an address by its public IP (InvalidAddress.NotFound).
func addressByIP(tx store.Tx, s Scope, ip string) (Address, error) {
	a, err := addresses.getByName(tx, s, ip)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return a, errorf("InvalidAddress.NotFound", "Address '%s' not found.", ip)
	}
	return a, err
}

// addressOf reads an address by allocation ID or, when none is given, public IP.
func addressOf(tx store.Tx, s Scope, allocationID, publicIP string) (Address, error) {
	switch {
	case allocationID != "":
		return addresses.get(tx, s, allocationID)
	case publicIP != "":
		return addressByIP(tx, s, publicIP)
	}
	return Address{}, errorf("MissingParameter", "Either public IP or allocation id must be specified")
}

// AllocateRequest is what AllocateAddress asks for.
type AllocateRequest struct {
	// Address asks for one address of the pool ("" for any).
	Address            string
	NetworkBorderGroup string
	Tags               []Tag
}

// AllocateAddress takes an address from the public pool for the caller's Region.
func (c *Cloud) AllocateAddress(ctx context.Context, s Scope, req AllocateRequest) (Address, error) {
	if err := ValidateTags(req.Tags); err != nil {
		return Address{}, err
	}
	if req.NetworkBorderGroup != "" && req.NetworkBorderGroup != s.Region {
		return Address{}, errorf("InvalidParameterValue", "The network border group '%s' is not valid in this Region; use %s.", req.NetworkBorderGroup, s.Region)
	}
	a := Address{AllocationID: NewID("eipalloc"), OwnerID: s.Account, Region: s.Region, NetworkBorderGroup: s.Region, CreatedAt: c.clock.Now()}
	err := c.update(ctx, func(tx store.Tx) error {
		if err := checkCount(tx, s, KindElasticIP, QuotaElasticIPs); err != nil {
			return err
		}
		pp, err := loadPublicPool(tx)
		if err != nil {
			return err
		}
		if req.Address != "" {
			ip, err := netip.ParseAddr(req.Address)
			if err != nil || !ip.Is4() {
				return errorf("InvalidParameterValue", "Value (%s) for parameter address is invalid. Expected a valid IPv4 address.", req.Address)
			}
			if err := pp.Take(ip); err != nil {
				return err
			}
			a.PublicIP = ip.String()
		} else {
			ip, err := pp.TakeAny()
			if err != nil {
				return err
			}
			a.PublicIP = ip.String()
		}
		if err := savePublicPool(tx, pp); err != nil {
			return err
		}
		return addresses.insert(tx, s, &a, a.CreatedAt, req.Tags)
	})
	a.Tags = tagMap(req.Tags)
	return a, err
}

// ReleaseAddress returns an unassociated address to the public pool.
func (c *Cloud) ReleaseAddress(ctx context.Context, s Scope, allocationID, publicIP, borderGroup string) error {
	if borderGroup != "" && borderGroup != s.Region {
		return errorf("InvalidParameterValue", "The network border group '%s' is not valid in this Region; use %s.", borderGroup, s.Region)
	}
	return c.update(ctx, func(tx store.Tx) error {
		a, err := addressOf(tx, s, allocationID, publicIP)
		if err != nil {
			return err
		}
		if a.AssociationID != "" {
			return errorf("InvalidIPAddress.InUse", "Address %s (%s) is in use; disassociate it first.", a.PublicIP, a.AllocationID)
		}
		pp, err := loadPublicPool(tx)
		if err != nil {
			return err
		}
		if err := pp.Release(netip.MustParseAddr(a.PublicIP)); err != nil {
			return err
		}
		if err := savePublicPool(tx, pp); err != nil {
			return err
		}
		return addresses.remove(tx, s, a.AllocationID)
	})
}

// primaryInterfaceOf gives the primary network interface of an instance
// (NotFoundError when there is no such instance). The instances' file replaces
// it; until instances exist none is found, which is the true answer.
var primaryInterfaceOf = func(tx store.Tx, s Scope, instanceID string) (string, error) {
	return "", &NotFoundError{Kind: KindInstance, ID: instanceID}
}

// AssociateRequest is what AssociateAddress asks for.
type AssociateRequest struct {
	AllocationID, PublicIP string
	// One of InstanceID (its primary interface) and NetworkInterfaceID.
	InstanceID, NetworkInterfaceID string
	// PrivateIP is one of the interface's addresses (its primary when "").
	PrivateIP          string
	AllowReassociation bool
}

// AssociateAddress maps an Elastic IP to a private address of an interface in a
// VPC with an internet gateway, and returns the association ID.
func (c *Cloud) AssociateAddress(ctx context.Context, s Scope, req AssociateRequest) (string, error) {
	switch {
	case req.InstanceID == "" && req.NetworkInterfaceID == "":
		return "", errorf("MissingParameter", "Either an instance ID or a network interface ID must be specified.")
	case req.InstanceID != "" && req.NetworkInterfaceID != "":
		return "", errorf("InvalidParameterCombination", "You may specify an instance ID or a network interface ID, but not both.")
	}
	var assocID string
	var vpcIDs []string
	err := c.update(ctx, func(tx store.Tx) error {
		a, err := addressOf(tx, s, req.AllocationID, req.PublicIP)
		if err != nil {
			return err
		}
		vpcIDs = []string{a.VpcID}
		eniID := req.NetworkInterfaceID
		if req.InstanceID != "" {
			if eniID, err = primaryInterfaceOf(tx, s, req.InstanceID); err != nil {
				return err
			}
		}
		n, err := networkInterfaces.get(tx, s, eniID)
		if err != nil {
			return err
		}
		if err := n.userChangeable(); err != nil {
			return err
		}
		if a.AssociationID != "" && !req.AllowReassociation {
			return errorf("Resource.AlreadyAssociated", "resource %s is already associated with associate-id %s", a.AllocationID, a.AssociationID)
		}
		if a.AssociationID != "" {
			// An address a NAT gateway (or another managed resource) holds stays
			// with it for its lifetime, reassociation or not.
			current, err := networkInterfaces.get(tx, s, a.NetworkInterfaceID)
			if err != nil {
				return err
			}
			if current.RequesterManaged {
				return errorf("OperationNotPermitted", "Address %s is in use by %s and cannot be moved.", a.AllocationID, current.ManagedBy)
			}
		}
		if err := requireInternetGateway(tx, s, n.VpcID); err != nil {
			return err
		}
		vpcIDs = append(vpcIDs, n.VpcID)
		assocID, err = bindAddress(tx, s, &a, &n, req.PrivateIP, req.InstanceID)
		return err
	})
	if err == nil {
		c.networkChanged(s, vpcIDs...)
	}
	return assocID, err
}

// requireInternetGateway fails with Gateway.NotAttached when the VPC has none.
func requireInternetGateway(tx store.Tx, s Scope, vpcID string) error {
	g, err := gatewayOfVPC(tx, s, vpcID)
	if err != nil {
		return err
	}
	if g == nil {
		return errorf("Gateway.NotAttached", "Network %s is not attached to any internet gateway", vpcID)
	}
	return nil
}

// bindAddress maps an address to a private address of an interface inside the
// caller's transaction, moving it from where it was mapped and replacing the
// address mapped there before; both documents are written.
func bindAddress(tx store.Tx, s Scope, a *Address, n *NetworkInterface, privateIP, instanceID string) (string, error) {
	i := 0
	if privateIP != "" {
		i = -1
		for j, x := range n.PrivateIPs {
			if x.Address == privateIP {
				i = j
			}
		}
		if i < 0 {
			return "", errorf("InvalidParameterValue", "The private IP address %s is not assigned to network interface %s.", privateIP, n.ID)
		}
	}
	if a.AssociationID != "" {
		if err := unbindAddress(tx, s, a); err != nil {
			return "", err
		}
		// unbindAddress may have rewritten this very interface.
		fresh, err := networkInterfaces.get(tx, s, n.ID)
		if err != nil {
			return "", err
		}
		*n = fresh
	}
	if old := n.PrivateIPs[i].Association; old != nil {
		if err := dropAssociation(tx, s, old); err != nil {
			return "", err
		}
	}
	a.AssociationID = NewID("eipassoc")
	a.NetworkInterfaceID, a.NetworkInterfaceOwnerID, a.PrivateIP = n.ID, n.OwnerID, n.PrivateIPs[i].Address
	a.InstanceID, a.VpcID = instanceID, n.VpcID
	if instanceID == "" && n.Attachment != nil {
		a.InstanceID = n.Attachment.InstanceID
	}
	dns, err := publicDNSName(tx, s, n.VpcID, a.PublicIP)
	if err != nil {
		return "", err
	}
	n.PrivateIPs[i].Association = &AddressAssociation{PublicIP: a.PublicIP, IPOwnerID: a.OwnerID, AllocationID: a.AllocationID, AssociationID: a.AssociationID, PublicDNSName: dns}
	if err := networkInterfaces.update(tx, s, n); err != nil {
		return "", err
	}
	return a.AssociationID, addresses.update(tx, s, a)
}

// unbindAddress removes an address's mapping from the interface and the address
// (both written).
func unbindAddress(tx store.Tx, s Scope, a *Address) error {
	n, err := networkInterfaces.get(tx, s, a.NetworkInterfaceID)
	var nf *NotFoundError
	if err != nil && !errors.As(err, &nf) {
		return err
	}
	if err == nil {
		for i := range n.PrivateIPs {
			if as := n.PrivateIPs[i].Association; as != nil && as.AllocationID == a.AllocationID {
				n.PrivateIPs[i].Association = nil
			}
		}
		// An instance whose public address the Elastic IP replaced may get a
		// new one.
		if err := reassignAfterElasticIP(tx, s, &n); err != nil {
			return err
		}
		if err := networkInterfaces.update(tx, s, &n); err != nil {
			return err
		}
	}
	clearAssociation(a)
	return addresses.update(tx, s, a)
}

func clearAssociation(a *Address) {
	a.AssociationID, a.NetworkInterfaceID, a.NetworkInterfaceOwnerID, a.PrivateIP, a.InstanceID, a.VpcID = "", "", "", "", "", ""
}

// dropAssociation clears the address side of a mapping whose interface side the
// caller is removing (an interface deleted, an address unassigned, an Elastic
// IP replacing a public address assigned with an instance, which goes back to
// the pool).
func dropAssociation(tx store.Tx, s Scope, as *AddressAssociation) error {
	switch {
	case as == nil:
		return nil
	case as.IsAutoAssigned():
		return releasePublicIP(tx, as.PublicIP)
	}
	a, err := addresses.get(tx, s, as.AllocationID)
	if err != nil {
		return err
	}
	clearAssociation(&a)
	return addresses.update(tx, s, &a)
}

// DisassociateAddress removes a mapping, by association ID or public IP.
func (c *Cloud) DisassociateAddress(ctx context.Context, s Scope, associationID, publicIP string) error {
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		var a Address
		var err error
		if associationID != "" {
			a, err = addressByAssociation(tx, s, associationID)
		} else {
			a, err = addressOf(tx, s, "", publicIP)
		}
		if err != nil {
			return err
		}
		if a.AssociationID == "" {
			return errorf("InvalidAssociationID.NotFound", "The association for address %s does not exist", a.PublicIP)
		}
		n, err := networkInterfaces.get(tx, s, a.NetworkInterfaceID)
		if err == nil && n.RequesterManaged {
			return errorf("OperationNotPermitted", "Address %s is in use by %s; delete that instead.", a.PublicIP, n.ManagedBy)
		}
		vpcID = a.VpcID
		return unbindAddress(tx, s, &a)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

func addressByAssociation(tx store.Tx, s Scope, associationID string) (Address, error) {
	all, err := addresses.load(tx, s, nil, nil)
	if err != nil {
		return Address{}, err
	}
	for _, a := range all {
		if a.AssociationID == associationID {
			return a, nil
		}
	}
	return Address{}, errorf("InvalidAssociationID.NotFound", "The association ID '%s' does not exist", associationID)
}
