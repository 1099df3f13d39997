package cloud

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// DHCPOptions is a set of DHCP options a VPC's instances are given. A VPC has one
// set or "default" (none: Amazon's DNS and nothing else).
type DHCPOptions struct {
	ID      string `json:"id"`
	OwnerID string `json:"ownerId"`
	// Configurations are ordered by key.
	Configurations []DHCPConfiguration `json:"configurations"`
	// RegionDefault marks the set strato makes for a scope's default VPC.
	RegionDefault bool      `json:"regionDefault,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// DHCPConfiguration is one option and its values.
type DHCPConfiguration struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

var dhcpOptionSets = docKind[DHCPOptions]{
	kind: KindDHCPOptions,
	id:   func(d *DHCPOptions) string { return d.ID },
	tags: func(d *DHCPOptions) *map[string]string { return &d.Tags },
}

// Quota names for DHCP options sets.
const QuotaDHCPOptions = "dhcp-options-sets-per-region"

func init() {
	quotaDefs[QuotaDHCPOptions] = QuotaDef{
		Name:        QuotaDHCPOptions,
		Description: "DHCP option sets per Region",
		Default:     1000,
		Code:        "DhcpOptionsLimitExceeded",
		Message:     "You have reached the limit of %d DHCP option sets in this Region.",
	}
}

// The options AWS accepts, with how many values each takes and how each value is
// checked.
var dhcpOptionRules = map[string]struct {
	max   int
	check func(string) bool
}{
	"domain-name":          {1, func(v string) bool { return v != "" && len(v) <= 255 }},
	"domain-name-servers":  {4, func(v string) bool { return v == AmazonProvidedDNS || isIP(v) }},
	"ntp-servers":          {4, isIP},
	"netbios-name-servers": {4, isIP},
	"netbios-node-type":    {1, func(v string) bool { return v == "1" || v == "2" || v == "4" || v == "8" }},
	"ipv6-address-preferred-lease-time": {1, func(v string) bool {
		n, err := strconv.ParseInt(v, 10, 64)
		return err == nil && n >= 140 && n <= 2147483647
	}},
}

// AmazonProvidedDNS names the VPC's own resolver among domain-name-servers.
const AmazonProvidedDNS = "AmazonProvidedDNS"

func isIP(v string) bool {
	_, err := netip.ParseAddr(v)
	return err == nil
}

// validateDHCPConfigurations checks options as AWS does and orders them by key.
func validateDHCPConfigurations(in []DHCPConfiguration) ([]DHCPConfiguration, error) {
	if len(in) == 0 {
		return nil, errorf("MissingParameter", "The request must contain the parameter dhcpConfiguration")
	}
	seen := map[string]bool{}
	out := make([]DHCPConfiguration, 0, len(in))
	for _, c := range in {
		rule, ok := dhcpOptionRules[c.Key]
		if !ok {
			return nil, errorf("InvalidParameterValue", "Value (%s) for parameter name is invalid. Unknown DHCP option", c.Key)
		}
		if seen[c.Key] {
			return nil, errorf("InvalidParameterValue", "The DHCP option %s is specified more than once.", c.Key)
		}
		seen[c.Key] = true
		if len(c.Values) == 0 {
			return nil, errorf("InvalidParameterValue", "Value for parameter %s is missing.", c.Key)
		}
		if len(c.Values) > rule.max {
			return nil, errorf("InvalidParameterValue", "The DHCP option %s takes at most %d values.", c.Key, rule.max)
		}
		for _, v := range c.Values {
			if !rule.check(v) {
				return nil, errorf("InvalidParameterValue", "Value (%s) for parameter %s is invalid.", v, c.Key)
			}
		}
		out = append(out, DHCPConfiguration{Key: c.Key, Values: slices.Clone(c.Values)})
	}
	slices.SortFunc(out, func(a, b DHCPConfiguration) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return out, nil
}

// CreateDHCPOptions makes a DHCP options set.
func (c *Cloud) CreateDHCPOptions(ctx context.Context, s Scope, configs []DHCPConfiguration, tags []Tag) (DHCPOptions, error) {
	configs, err := validateDHCPConfigurations(configs)
	if err != nil {
		return DHCPOptions{}, err
	}
	if err := ValidateTags(tags); err != nil {
		return DHCPOptions{}, err
	}
	d := DHCPOptions{ID: NewID("dopt"), OwnerID: s.Account, Configurations: configs, CreatedAt: c.clock.Now()}
	err = c.update(ctx, func(tx store.Tx) error {
		if err := checkCount(tx, s, KindDHCPOptions, QuotaDHCPOptions); err != nil {
			return err
		}
		return dhcpOptionSets.insert(tx, s, &d, d.CreatedAt, tags)
	})
	d.Tags = tagMap(tags)
	return d, err
}

// defaultDHCPOptions finds or makes the scope's default set, the one AWS gives a
// default VPC: the Region's internal domain and Amazon's DNS.
func defaultDHCPOptions(tx store.Tx, s Scope, now time.Time) (DHCPOptions, error) {
	rows, err := tx.ListResources(s, KindDHCPOptions)
	if err != nil {
		return DHCPOptions{}, err
	}
	for _, r := range rows {
		d, err := dhcpOptionSets.decode(r)
		if err != nil || d.RegionDefault {
			return d, err
		}
	}
	domain := regionDomain(s.Region)
	d := DHCPOptions{
		ID: NewID("dopt"), OwnerID: s.Account, RegionDefault: true, CreatedAt: now,
		Configurations: []DHCPConfiguration{{Key: "domain-name", Values: []string{domain}}, {Key: "domain-name-servers", Values: []string{AmazonProvidedDNS}}},
	}
	return d, dhcpOptionSets.insert(tx, s, &d, d.CreatedAt, nil)
}

// AssociateDHCPOptions gives a VPC a set, or "default" for none.
func (c *Cloud) AssociateDHCPOptions(ctx context.Context, s Scope, dhcpOptionsID, vpcID string) error {
	err := c.update(ctx, func(tx store.Tx) error {
		if dhcpOptionsID != "default" {
			if _, err := dhcpOptionSets.get(tx, s, dhcpOptionsID); err != nil {
				return err
			}
		}
		v, err := vpcs.get(tx, s, vpcID)
		if err != nil {
			return err
		}
		v.DHCPOptionsID = dhcpOptionsID
		return vpcs.update(tx, s, &v)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

// DeleteDHCPOptions deletes a set no VPC uses.
func (c *Cloud) DeleteDHCPOptions(ctx context.Context, s Scope, id string) error {
	return c.update(ctx, func(tx store.Tx) error {
		if _, err := dhcpOptionSets.get(tx, s, id); err != nil {
			return err
		}
		rows, err := tx.ListResources(s, KindVPC)
		if err != nil {
			return err
		}
		for _, r := range rows {
			v, err := vpcs.decode(r)
			if err != nil {
				return err
			}
			if v.DHCPOptionsID == id {
				return errorf("DependencyViolation", "The dhcpOptions '%s' has dependencies and cannot be deleted.", id)
			}
		}
		return dhcpOptionSets.remove(tx, s, id)
	})
}

var dhcpOptionsFields = filter.Fields[DHCPOptions]{
	"dhcp-options-id": func(d DHCPOptions) []string { return []string{d.ID} },
	"key": func(d DHCPOptions) []string {
		out := make([]string, len(d.Configurations))
		for i, c := range d.Configurations {
			out[i] = c.Key
		}
		return out
	},
	"value": func(d DHCPOptions) []string {
		var out []string
		for _, c := range d.Configurations {
			out = append(out, c.Values...)
		}
		return out
	},
	"owner-id": func(d DHCPOptions) []string { return []string{d.OwnerID} },
}

// DescribeDHCPOptions lists sets by ID (each must exist) or all, filtered and
// paginated (MaxResults 5..1000), ordered by ID.
func (c *Cloud) DescribeDHCPOptions(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]DHCPOptions, string, error) {
	return describe(ctx, c, s, dhcpOptionSets, "DescribeDhcpOptions", dhcpOptionsFields, ids, filters, page, 5, 1000)
}
