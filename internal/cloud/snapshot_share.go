package cloud

import (
	"errors"
	"slices"

	"strato/internal/store"
)

// amazonOwnerID is the owner ID of the cloud's own public images and their
// snapshots (owner alias "amazon").
const amazonOwnerID = CloudOwnerID

// setSnapshotPermissions replaces a snapshot's createVolumePermission list and
// its grants in the index (in the snapshot's owner's transaction).
func setSnapshotPermissions(tx store.Tx, s Scope, snap *Snapshot, perms []string) error {
	perms = slices.Clone(perms)
	slices.Sort(perms)
	perms = slices.Compact(perms)
	if err := setGrants(tx, s, kindSnapshotGrant, snap.ID, snap.CreateVolumePermissions, perms); err != nil {
		return err
	}
	if len(perms) == 0 {
		perms = nil
	}
	snap.CreateVolumePermissions = perms
	return nil
}

// visibleSnapshot finds a snapshot the scope may use: its own, or one shared
// with its account or public in its Region; owner is the snapshot's scope.
func visibleSnapshot(tx store.Tx, s Scope, id string) (snap Snapshot, owner Scope, err error) {
	snap, err = snapshots.get(tx, s, id)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		return snap, s, err
	}
	owner, ok, gerr := grantOwner(tx, s, kindSnapshotGrant, id)
	if gerr != nil {
		return Snapshot{}, Scope{}, gerr
	}
	if ok {
		snap, err = snapshots.get(tx, owner, id)
		return snap, owner, err
	}
	return Snapshot{}, Scope{}, err
}

// sharedSnapshots lists the snapshots other accounts share with the scope's
// account or make public in its Region (without tags: tags are the owner's).
func sharedSnapshots(tx store.Tx, s Scope) ([]Snapshot, error) {
	var out []Snapshot
	seen := map[string]bool{}
	for _, grantee := range []string{s.Account, PublicGroup} {
		grants, err := grantedTo(tx, s.Region, kindSnapshotGrant, grantee)
		if err != nil {
			return nil, err
		}
		for _, g := range grants {
			if g.Owner == s.Account || seen[g.Resource] {
				continue
			}
			seen[g.Resource] = true
			snap, err := snapshots.get(tx, Scope{Account: g.Owner, Region: s.Region}, g.Resource)
			if err := ignoreNotFound(err, nil); err != nil {
				return nil, err
			}
			if snap.ID != "" {
				out = append(out, snap)
			}
		}
	}
	return out, nil
}
