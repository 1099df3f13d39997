package cloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"time"

	"strato/internal/store"
)

// PrefixList is a named set of CIDR blocks that routes and security group rules
// refer to as one. Customer-managed lists are stored, with every version of their
// entries; AWS-managed lists (the services' address ranges) are computed per Region.
type PrefixList struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	OwnerID       string `json:"ownerId"` // "AWS" for an AWS-managed list
	Region        string `json:"region"`
	AddressFamily string `json:"addressFamily"`
	// MaxEntries is 0 for an AWS-managed list, which has no such limit.
	MaxEntries int `json:"maxEntries"`
	// Version counts changes of the entries; 0 for an AWS-managed list.
	Version int64  `json:"version"`
	State   string `json:"state"`
	// Versions holds the entries of every version: Versions[v-1] for version v.
	Versions  [][]PrefixListEntry `json:"versions"`
	CreatedAt time.Time           `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// PrefixListEntry is one CIDR block of a list.
type PrefixListEntry struct {
	CIDR        string `json:"cidr"`
	Description string `json:"description,omitempty"`
}

// AWSOwner is the owner AWS-managed prefix lists report.
const AWSOwner = "AWS"

// Entries returns the entries of the current version.
func (p *PrefixList) Entries() []PrefixListEntry {
	if len(p.Versions) == 0 {
		return nil
	}
	return p.Versions[len(p.Versions)-1]
}

// AWSManaged reports whether the list is one of AWS's.
func (p *PrefixList) AWSManaged() bool { return p.OwnerID == AWSOwner }

// ARN is the list's Amazon Resource Name.
func (p *PrefixList) ARN() string {
	owner := p.OwnerID
	if p.AWSManaged() {
		owner = "aws"
	}
	return "arn:aws:ec2:" + p.Region + ":" + owner + ":prefix-list/" + p.ID
}

func (p *PrefixList) info() PrefixListInfo {
	out := PrefixListInfo{ID: p.ID, Name: p.Name, MaxEntries: p.MaxEntries}
	if p.AWSManaged() {
		// An AWS-managed list counts as its weight (VPC User Guide, "AWS-managed
		// prefix list weight"): 1 for S3 and DynamoDB.
		out.MaxEntries = 1
	}
	for _, e := range p.Entries() {
		out.CIDRs = append(out.CIDRs, e.CIDR)
	}
	return out
}

var prefixLists = docKind[PrefixList]{
	kind: KindPrefixList,
	id:   func(p *PrefixList) string { return p.ID },
	tags: func(p *PrefixList) *map[string]string { return &p.Tags },
}

// Quota names for prefix lists.
const (
	QuotaPrefixLists          = "prefix-lists-per-region"
	QuotaPrefixListMaxEntries = "entries-per-prefix-list"
)

func init() {
	quotaDefs[QuotaPrefixLists] = QuotaDef{
		Name:        QuotaPrefixLists,
		Description: "Prefix lists per Region",
		Default:     100,
		Code:        "PrefixListLimitExceeded",
		Message:     "The maximum number of prefix lists has been reached (%d).",
	}
	quotaDefs[QuotaPrefixListMaxEntries] = QuotaDef{
		Name:        QuotaPrefixListMaxEntries,
		Description: "Maximum number of entries per prefix list",
		Default:     1000,
		Code:        "InvalidParameterValue",
		Message:     "The maximum number of entries of a prefix list is %d.",
	}
	lookupPrefixList = func(tx store.Tx, s Scope, id string) (PrefixListInfo, error) {
		p, err := prefixListByID(tx, s, id)
		return p.info(), err
	}
	prefixListReferrers = append(prefixListReferrers, routeTablesReferring)
	prefixListResized = append(prefixListResized, checkRouteTablesFitResize)
}

// The AWS-managed lists strato serves: S3 and DynamoDB, the services of gateway
// endpoints. Their addresses are carved from 198.51.100.0/24 (TEST-NET-2, RFC
// 5737, which reaches nothing real and lies outside the public address pool),
// where strato's dataplane can later answer for those services.
var awsManagedLists = []struct{ service, cidr string }{
	{"s3", "198.51.100.0/25"},
	{"dynamodb", "198.51.100.128/26"},
}

// awsManagedPrefixLists computes a Region's AWS-managed lists; their IDs are
// derived from the Region and name, so they are stable and the same for every
// account, as on AWS.
func awsManagedPrefixLists(region string) []PrefixList {
	out := make([]PrefixList, 0, len(awsManagedLists))
	for _, l := range awsManagedLists {
		name := "com.amazonaws." + region + "." + l.service
		sum := sha256.Sum256([]byte(region + "/" + name))
		out = append(out, PrefixList{
			ID: "pl-" + hex.EncodeToString(sum[:4]), Name: name, OwnerID: AWSOwner, Region: region,
			AddressFamily: "IPv4", State: "create-complete",
			Versions: [][]PrefixListEntry{{{CIDR: l.cidr}}},
		})
	}
	return out
}

// awsManagedPrefixList finds an AWS-managed list of the Region by ID.
func awsManagedPrefixList(region, id string) (PrefixList, bool) {
	for _, p := range awsManagedPrefixLists(region) {
		if p.ID == id {
			return p, true
		}
	}
	return PrefixList{}, false
}

// prefixListByID finds an AWS-managed or customer-managed list visible to the scope.
func prefixListByID(tx store.Tx, s Scope, id string) (PrefixList, error) {
	if p, ok := awsManagedPrefixList(s.Region, id); ok {
		return p, nil
	}
	return prefixLists.get(tx, s, id)
}

// customerPrefixList reads a list the caller may change.
func customerPrefixList(tx store.Tx, s Scope, id string) (PrefixList, error) {
	if _, ok := awsManagedPrefixList(s.Region, id); ok {
		return PrefixList{}, errorf("InvalidPrefixListModification", "The prefix list %s is managed by AWS and cannot be changed.", id)
	}
	return prefixLists.get(tx, s, id)
}

// prefixListReferrers list the resources that refer to a prefix list (route
// tables here; security groups add theirs): their IDs.
var prefixListReferrers []func(tx store.Tx, s Scope, listID string) ([]string, error)

// prefixListResized check that every resource referring to a list still fits its
// quotas when the list's maximum size changes.
var prefixListResized []func(tx store.Tx, s Scope, listID string, oldMax, newMax int) error

// referrers lists, in order, the resources referring to a list.
func referrers(tx store.Tx, s Scope, listID string) ([]string, error) {
	var out []string
	for _, list := range prefixListReferrers {
		ids, err := list(tx, s, listID)
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	slices.Sort(out)
	return out, nil
}

// PrefixListRequest is what CreateManagedPrefixList asks for.
type PrefixListRequest struct {
	Name, AddressFamily string
	MaxEntries          int
	Entries             []PrefixListEntry
	Tags                []Tag
	ClientToken         string
}

const maxPrefixListDescription = 255

// checkEntries validates entries for a list of the family, returning them in
// canonical form.
func checkEntries(family string, entries []PrefixListEntry) ([]PrefixListEntry, error) {
	out := make([]PrefixListEntry, len(entries))
	seen := map[string]bool{}
	for i, e := range entries {
		p, err := netip.ParsePrefix(e.CIDR)
		if err != nil || p.Addr().Is4() != (family == "IPv4") {
			return nil, errorf("InvalidParameterValue", "The CIDR %s is not a valid %s CIDR block.", e.CIDR, family)
		}
		if len(e.Description) > maxPrefixListDescription {
			return nil, errorf("InvalidParameterValue", "The description of entry %s is longer than %d characters.", e.CIDR, maxPrefixListDescription)
		}
		cidr := p.Masked().String()
		if seen[cidr] {
			return nil, errorf("InvalidParameterValue", "The CIDR %s is given more than once.", cidr)
		}
		seen[cidr] = true
		out[i] = PrefixListEntry{CIDR: cidr, Description: e.Description}
	}
	return out, nil
}

func checkPrefixListName(name string) error {
	switch {
	case name == "":
		return errorf("MissingParameter", "The request must contain the parameter PrefixListName")
	case len(name) > 255:
		return errorf("InvalidParameterValue", "The prefix list name must be at most 255 characters long.")
	case strings.HasPrefix(name, "com.amazonaws"):
		return errorf("InvalidParameterValue", "The prefix list name cannot start with com.amazonaws.")
	}
	return nil
}

// checkMaxEntries checks a list's maximum size against its entries and the quota.
func checkMaxEntries(tx store.Tx, s Scope, maxEntries, entries int) error {
	if maxEntries < 1 {
		return errorf("InvalidParameterValue", "The maximum number of entries must be at least 1.")
	}
	if err := checkQuota(tx, s.Account, QuotaPrefixListMaxEntries, maxEntries-1); err != nil {
		return err
	}
	if entries > maxEntries {
		return errorf("PrefixListMaxEntriesExceeded", "The prefix list would have %d entries, more than its maximum of %d.", entries, maxEntries)
	}
	return nil
}

// CreateManagedPrefixList makes a customer-managed list at version 1.
func (c *Cloud) CreateManagedPrefixList(ctx context.Context, s Scope, req PrefixListRequest) (PrefixList, error) {
	if err := checkPrefixListName(req.Name); err != nil {
		return PrefixList{}, err
	}
	if req.AddressFamily != "IPv4" && req.AddressFamily != "IPv6" {
		return PrefixList{}, errorf("InvalidParameterValue", "Value (%s) for parameter AddressFamily is invalid. Valid values are: IPv4, IPv6", req.AddressFamily)
	}
	entries, err := checkEntries(req.AddressFamily, req.Entries)
	if err != nil {
		return PrefixList{}, err
	}
	if err := ValidateTags(req.Tags); err != nil {
		return PrefixList{}, err
	}
	p, err := Idempotent(ctx, c, s, "CreateManagedPrefixList", req.ClientToken, req, func(tx store.Tx) (PrefixList, error) {
		if err := checkMaxEntries(tx, s, req.MaxEntries, len(entries)); err != nil {
			return PrefixList{}, err
		}
		if err := checkCount(tx, s, KindPrefixList, QuotaPrefixLists); err != nil {
			return PrefixList{}, err
		}
		p := PrefixList{
			ID: NewID("pl"), Name: req.Name, OwnerID: s.Account, Region: s.Region, AddressFamily: req.AddressFamily,
			MaxEntries: req.MaxEntries, Version: 1, State: "create-complete", Versions: [][]PrefixListEntry{entries},
			CreatedAt: c.clock.Now(),
		}
		return p, prefixLists.insert(tx, s, &p, p.CreatedAt, req.Tags)
	})
	p.Tags = tagMap(req.Tags)
	return p, err
}

// PrefixListChange is what ModifyManagedPrefixList asks for; nil fields stay.
type PrefixListChange struct {
	ID             string
	CurrentVersion *int64
	Name           *string
	MaxEntries     *int
	Add            []PrefixListEntry
	Remove         []string
}

// maxEntryChanges is AWS's limit on entries added or removed by one request.
const maxEntryChanges = 100

// ModifyManagedPrefixList renames or resizes a list, or changes its entries (which
// makes a new version; the caller must name the current one).
func (c *Cloud) ModifyManagedPrefixList(ctx context.Context, s Scope, ch PrefixListChange) (PrefixList, error) {
	changesEntries := len(ch.Add) > 0 || len(ch.Remove) > 0
	switch {
	case changesEntries && ch.MaxEntries != nil:
		return PrefixList{}, errorf("InvalidParameterCombination", "You cannot modify the entries and the maximum number of entries for the prefix list in the same request.")
	case len(ch.Add)+len(ch.Remove) > maxEntryChanges:
		return PrefixList{}, errorf("InvalidParameterValue", "The request cannot contain more than %d entry additions or removals.", maxEntryChanges)
	case changesEntries && ch.CurrentVersion == nil:
		return PrefixList{}, errorf("MissingParameter", "The request must contain the parameter CurrentVersion")
	}
	if ch.Name != nil {
		if err := checkPrefixListName(*ch.Name); err != nil {
			return PrefixList{}, err
		}
	}
	var p PrefixList
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		if p, err = customerPrefixList(tx, s, ch.ID); err != nil {
			return err
		}
		if ch.CurrentVersion != nil && *ch.CurrentVersion != p.Version {
			return errorf("PrefixListVersionMismatch", "The prefix list has the incorrect version number.")
		}
		if ch.Name != nil {
			p.Name = *ch.Name
		}
		if ch.MaxEntries != nil && *ch.MaxEntries != p.MaxEntries {
			if err := checkMaxEntries(tx, s, *ch.MaxEntries, len(p.Entries())); err != nil {
				return err
			}
			for _, fits := range prefixListResized {
				if err := fits(tx, s, p.ID, p.MaxEntries, *ch.MaxEntries); err != nil {
					return err
				}
			}
			p.MaxEntries = *ch.MaxEntries
		}
		if changesEntries {
			entries, err := changedEntries(&p, ch.Add, ch.Remove)
			if err != nil {
				return err
			}
			if err := checkMaxEntries(tx, s, p.MaxEntries, len(entries)); err != nil {
				return err
			}
			p.Versions = append(p.Versions, entries)
			p.Version++
		}
		p.State = "modify-complete"
		return prefixLists.update(tx, s, &p)
	})
	if err == nil {
		c.scopeChanged(ctx, s) // the VPCs whose rules or routes use the list
	}
	return withTagsOf(c, ctx, s, p, err)
}

// changedEntries applies removals, then additions (so a CIDR can be removed and
// added back with another description in one request), to the current entries.
func changedEntries(p *PrefixList, add []PrefixListEntry, remove []string) ([]PrefixListEntry, error) {
	entries := slices.Clone(p.Entries())
	for _, cidr := range remove {
		canon := cidr
		if pr, err := netip.ParsePrefix(cidr); err == nil {
			canon = pr.Masked().String()
		}
		i := slices.IndexFunc(entries, func(e PrefixListEntry) bool { return e.CIDR == canon })
		if i < 0 {
			return nil, errorf("InvalidPrefixListModification", "The prefix list entry %s does not exist.", cidr)
		}
		entries = slices.Delete(entries, i, i+1)
	}
	added, err := checkEntries(p.AddressFamily, add)
	if err != nil {
		return nil, err
	}
	for _, e := range added {
		if slices.ContainsFunc(entries, func(o PrefixListEntry) bool { return o.CIDR == e.CIDR }) {
			return nil, errorf("InvalidPrefixListModification", "The prefix list entry %s already exists.", e.CIDR)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// RestoreManagedPrefixListVersion makes the entries of an earlier version the
// entries of a new version.
func (c *Cloud) RestoreManagedPrefixListVersion(ctx context.Context, s Scope, id string, previous, current int64) (PrefixList, error) {
	var p PrefixList
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		if p, err = customerPrefixList(tx, s, id); err != nil {
			return err
		}
		if current != p.Version {
			return errorf("PrefixListVersionMismatch", "The prefix list has the incorrect version number.")
		}
		if previous < 1 || previous >= p.Version {
			return errorf("InvalidParameterValue", "The version %d is not a previous version of prefix list %s (current version %d).", previous, id, p.Version)
		}
		entries := slices.Clone(p.Versions[previous-1])
		if len(entries) > p.MaxEntries {
			return errorf("PrefixListMaxEntriesExceeded", "Version %d has %d entries, more than the maximum of %d.", previous, len(entries), p.MaxEntries)
		}
		p.Versions = append(p.Versions, entries)
		p.Version++
		p.State = "restore-complete"
		return prefixLists.update(tx, s, &p)
	})
	if err == nil {
		c.scopeChanged(ctx, s) // the VPCs whose rules or routes use the list
	}
	return withTagsOf(c, ctx, s, p, err)
}

// withTagsOf attaches a changed list's tags for the answer.
func withTagsOf(c *Cloud, ctx context.Context, s Scope, p PrefixList, err error) (PrefixList, error) {
	if err != nil {
		return PrefixList{}, err
	}
	err = c.view(ctx, func(tx store.Tx) error {
		tagged, err := prefixLists.load(tx, s, []string{p.ID}, nil)
		if err == nil {
			p.Tags = tagged[0].Tags
		}
		return err
	})
	return p, err
}

// DeleteManagedPrefixList deletes a list no route or rule refers to.
func (c *Cloud) DeleteManagedPrefixList(ctx context.Context, s Scope, id string) (PrefixList, error) {
	var p PrefixList
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		if p, err = customerPrefixList(tx, s, id); err != nil {
			return err
		}
		users, err := referrers(tx, s, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return errorf("DependencyViolation", "The prefix list %s is referenced by %s and cannot be deleted.", id, strings.Join(users, ", "))
		}
		p.State = "delete-complete"
		return prefixLists.remove(tx, s, id)
	})
	return p, err
}
