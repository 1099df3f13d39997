package cloud

import (
	"context"
	"slices"
	"strconv"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// OwnerAlias is "amazon" for the cloud's own snapshots, "" otherwise.
func (s *Snapshot) OwnerAlias() string {
	if s.OwnerID == amazonOwnerID {
		return "amazon"
	}
	return ""
}

// Public reports whether anyone may create volumes from the snapshot.
func (s *Snapshot) Public() bool { return slices.Contains(s.CreateVolumePermissions, PublicGroup) }

var snapshotFields = filter.Fields[Snapshot]{
	"description":  func(s Snapshot) []string { return stringValue(s.Description) },
	"encrypted":    func(s Snapshot) []string { return boolValue(s.Encrypted) },
	"kms-key-id":   func(s Snapshot) []string { return stringValue(s.KMSKeyARN) },
	"owner-alias":  func(s Snapshot) []string { return stringValue(s.OwnerAlias()) },
	"owner-id":     func(s Snapshot) []string { return []string{s.OwnerID} },
	"progress":     func(s Snapshot) []string { return []string{strconv.Itoa(s.Progress) + "%"} },
	"snapshot-id":  func(s Snapshot) []string { return []string{s.ID} },
	"start-time":   func(s Snapshot) []string { return []string{s.StartTime.UTC().Format(apiTime)} },
	"status":       func(s Snapshot) []string { return []string{s.State} },
	"storage-tier": func(s Snapshot) []string { return []string{"standard"} },
	"volume-id":    func(s Snapshot) []string { return []string{s.VolumeID} },
	"volume-size":  func(s Snapshot) []string { return []string{strconv.Itoa(int(s.VolumeSize))} },
}

// SnapshotQuery is what DescribeSnapshots asks for.
type SnapshotQuery struct {
	IDs []string
	// OwnerIDs: "self", "amazon" or account IDs.
	OwnerIDs []string
	// RestorableBy: "self", "all" or account IDs that may create volumes.
	RestorableBy []string
	Filters      []filter.Filter
	Page         Page
}

// DescribeSnapshots lists the snapshots the scope may use: its own, those
// shared with its account and the public ones (MaxResults 5..1000; more is
// answered with 1,000). Shared snapshots carry no tags (tags are the owner's).
func (c *Cloud) DescribeSnapshots(ctx context.Context, s Scope, q SnapshotQuery) ([]Snapshot, string, error) {
	m, err := filter.Compile(q.Filters, snapshotFields, func(v Snapshot) map[string]string { return v.Tags })
	if err != nil {
		return nil, "", err
	}
	onlySelf := len(q.OwnerIDs) > 0 && !slices.ContainsFunc(q.OwnerIDs, func(o string) bool { return o != "self" && o != s.Account })
	var list []Snapshot
	if err := c.view(ctx, func(tx store.Tx) error {
		var err error
		if list, err = snapshots.load(tx, s, nil, nil); err != nil || onlySelf {
			return err
		}
		shared, err := sharedSnapshots(tx, s)
		list = append(list, shared...)
		return err
	}); err != nil {
		return nil, "", err
	}
	if len(q.IDs) > 0 {
		byID := map[string]Snapshot{}
		for _, snap := range list {
			byID[snap.ID] = snap
		}
		list = list[:0]
		for _, id := range q.IDs {
			snap, ok := byID[id]
			if !ok {
				return nil, "", &NotFoundError{Kind: KindSnapshot, ID: id}
			}
			list = append(list, snap)
		}
	}
	out := make([]Snapshot, 0, len(list))
	seen := map[string]bool{}
	for _, snap := range list {
		if seen[snap.ID] || !ownedBy(snap, s, q.OwnerIDs) || !restorableBy(snap, s, q.RestorableBy) || !m.Match(snap) {
			continue
		}
		seen[snap.ID] = true
		out = append(out, snap)
	}
	key := func(v Snapshot) string { return v.ID }
	sortByUniqueKey(out, key)
	return PageOf(c, s, "DescribeSnapshots", q.Filters, clampPage(q.Page, 1000), 5, 1000, out, key)
}

func ownedBy(snap Snapshot, s Scope, owners []string) bool {
	if len(owners) == 0 {
		return true
	}
	for _, o := range owners {
		switch o {
		case "self":
			o = s.Account
		case "amazon":
			o = amazonOwnerID
		}
		if o != "" && snap.OwnerID == o {
			return true
		}
	}
	return false
}

func restorableBy(snap Snapshot, s Scope, accounts []string) bool {
	if len(accounts) == 0 {
		return true
	}
	for _, a := range accounts {
		if a == "self" {
			a = s.Account
		}
		if snap.Public() || snap.OwnerID == a || slices.Contains(snap.CreateVolumePermissions, a) {
			return true
		}
	}
	return false
}

// Snapshot attributes.
const (
	AttrCreateVolumePermission = "createVolumePermission"
	AttrProductCodes           = "productCodes"
)

// SnapshotPermissions returns a snapshot's createVolumePermission list (account
// IDs, and "all" when public); only its owner may read it.
func (c *Cloud) SnapshotPermissions(ctx context.Context, s Scope, id string) ([]string, error) {
	var snap Snapshot
	err := c.view(ctx, func(tx store.Tx) error {
		var err error
		snap, err = snapshots.get(tx, s, id)
		return err
	})
	return snap.CreateVolumePermissions, err
}

// ModifySnapshotPermissions adds and removes accounts (or "all") from a
// snapshot's createVolumePermission, with AWS's rules: encrypted snapshots are
// never public, and those encrypted with the AWS managed key are not shared.
func (c *Cloud) ModifySnapshotPermissions(ctx context.Context, s Scope, id string, add, remove []string) error {
	for _, p := range append(slices.Clone(add), remove...) {
		if p != PublicGroup && !ValidAccountID(p) {
			return errorf("InvalidParameterValue", "Value (%s) for parameter userId is invalid: it must be a 12-digit account ID.", p)
		}
	}
	return c.update(ctx, func(tx store.Tx) error {
		snap, err := snapshots.get(tx, s, id)
		if err != nil {
			return err
		}
		if snap.Encrypted {
			for _, p := range add {
				if p == PublicGroup {
					return errorf("UnsupportedOperation", "Encrypted snapshots can't be shared publicly. Specify another snapshot.")
				}
			}
			if len(add) > 0 {
				managed, err := volumeKeyIsAWSManaged(tx, s, snap.KMSKeyARN)
				if err != nil {
					return err
				}
				if managed {
					return errorf("OperationNotPermitted", "Encrypted snapshots with EBS default key cannot be shared")
				}
			}
		}
		perms := slices.Clone(snap.CreateVolumePermissions)
		perms = append(perms, add...)
		perms = slices.DeleteFunc(perms, func(p string) bool { return slices.Contains(remove, p) })
		if err := setSnapshotPermissions(tx, s, &snap, perms); err != nil {
			return err
		}
		return snapshots.update(tx, s, &snap)
	})
}

// ResetSnapshotPermissions makes a snapshot private again.
func (c *Cloud) ResetSnapshotPermissions(ctx context.Context, s Scope, id string) error {
	return c.update(ctx, func(tx store.Tx) error {
		snap, err := snapshots.get(tx, s, id)
		if err != nil {
			return err
		}
		if err := setSnapshotPermissions(tx, s, &snap, nil); err != nil {
			return err
		}
		return snapshots.update(tx, s, &snap)
	})
}
