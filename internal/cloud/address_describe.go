package cloud

import (
	"context"
	"errors"
	"strings"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

var addressFields = filter.Fields[Address]{
	"allocation-id":              func(a Address) []string { return []string{a.AllocationID} },
	"association-id":             func(a Address) []string { return stringValue(a.AssociationID) },
	"domain":                     func(a Address) []string { return []string{a.Domain()} },
	"instance-id":                func(a Address) []string { return stringValue(a.InstanceID) },
	"network-border-group":       func(a Address) []string { return []string{a.NetworkBorderGroup} },
	"network-interface-id":       func(a Address) []string { return stringValue(a.NetworkInterfaceID) },
	"network-interface-owner-id": func(a Address) []string { return stringValue(a.NetworkInterfaceOwnerID) },
	"private-ip-address":         func(a Address) []string { return stringValue(a.PrivateIP) },
	"public-ip":                  func(a Address) []string { return []string{a.PublicIP} },
	"public-ipv4-pool":           func(a Address) []string { return []string{a.PublicIPv4Pool()} },
}

// DescribeAddresses lists Elastic IPs by allocation ID and public IP (each must
// exist) or all, filtered; AWS does not paginate it.
func (c *Cloud) DescribeAddresses(ctx context.Context, s Scope, allocationIDs, publicIPs []string, filters []filter.Filter) ([]Address, error) {
	m, err := filter.Compile(filters, addressFields, func(a Address) map[string]string { return a.Tags })
	if err != nil {
		return nil, err
	}
	var list []Address
	err = c.view(ctx, func(tx store.Tx) error {
		list, err = addresses.load(tx, s, allocationIDs, publicIPs)
		var nf *NotFoundError
		if errors.As(err, &nf) && nf.ByName {
			return errorf("InvalidAddress.NotFound", "Address '%s' not found.", nf.ID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := m.Filter(list)
	sortByUniqueKey(out, func(a Address) string { return a.AllocationID })
	return out, nil
}

// PTR is the reverse DNS name an address answers with.
func (a *Address) PTR() string {
	if a.PTRRecord != "" {
		return a.PTRRecord
	}
	return DefaultPTRRecord(a.Region, a.PublicIP)
}

// DescribeAddressesAttribute lists the reverse DNS names of addresses by
// allocation ID or all, paginated (MaxResults 1..1000).
func (c *Cloud) DescribeAddressesAttribute(ctx context.Context, s Scope, allocationIDs []string, page Page) ([]Address, string, error) {
	var list []Address
	err := c.view(ctx, func(tx store.Tx) error {
		var err error
		list, err = addresses.load(tx, s, allocationIDs, nil)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	id := func(a Address) string { return a.AllocationID }
	sortByUniqueKey(list, id)
	return PageOf(c, s, "DescribeAddressesAttribute", nil, page, 1, 1000, list, id)
}

// SetAddressDomainName sets (domain "" resets) an address's reverse DNS name.
func (c *Cloud) SetAddressDomainName(ctx context.Context, s Scope, allocationID, domain string) (Address, error) {
	domain = strings.TrimSuffix(domain, ".")
	if domain != "" && !validDomainName(domain) {
		return Address{}, errorf("InvalidParameterValue", "Value (%s) for parameter domainName is invalid.", domain)
	}
	var a Address
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		if a, err = addresses.get(tx, s, allocationID); err != nil {
			return err
		}
		a.PTRRecord = ""
		if domain != "" {
			a.PTRRecord = domain + "."
		}
		return addresses.update(tx, s, &a)
	})
	return a, err
}

// validDomainName checks a fully qualified name: labels of 1..63 letters, digits
// and hyphens, not starting or ending with a hyphen, at least two labels, at most
// 253 characters.
func validDomainName(name string) bool {
	labels := strings.Split(name, ".")
	if len(name) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
