package cloud

import (
	"encoding/json"
	"errors"
	"slices"

	"strato/internal/store"
)

// Sharing. A snapshot lives in its owner's scope. Each grant of its
// createVolumePermission (an account, or "all" for public) is also a small
// document in a Region-wide index outside every account, keyed by snapshot and
// grantee and indexed by grantee: another account finds what is shared with it
// (or public) by two indexed listings, and a snapshot by ID with two lookups,
// while the owner's own Describe reads only its own scope.

const kindSnapshotGrant = "snapshot-grant"

// PublicGroup is the createVolumePermission group that makes a snapshot public.
const PublicGroup = "all"

// amazonOwnerID is the owner ID of the cloud's own public images and their
// snapshots (owner alias "amazon").
const amazonOwnerID = CloudOwnerID

func shareScope(region string) Scope { return Scope{Account: "strato", Region: region} }

type snapshotGrant struct {
	Owner    string `json:"owner"`
	Snapshot string `json:"snapshot"`
}

func grantID(snapshotID, grantee string) string { return snapshotID + "/" + grantee }

// setSnapshotPermissions replaces a snapshot's createVolumePermission list and
// its grants in the index (in the snapshot's owner's transaction).
func setSnapshotPermissions(tx store.Tx, s Scope, snap *Snapshot, perms []string) error {
	perms = slices.Clone(perms)
	slices.Sort(perms)
	perms = slices.Compact(perms)
	for _, old := range snap.CreateVolumePermissions {
		if !slices.Contains(perms, old) {
			if err := tx.DeleteResource(shareScope(s.Region), kindSnapshotGrant, grantID(snap.ID, old)); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	body, err := json.Marshal(snapshotGrant{Owner: s.Account, Snapshot: snap.ID})
	if err != nil {
		return err
	}
	for _, p := range perms {
		if slices.Contains(snap.CreateVolumePermissions, p) {
			continue
		}
		err := tx.InsertResource(store.Resource{Scope: shareScope(s.Region), Kind: kindSnapshotGrant, ID: grantID(snap.ID, p), Parent: p, CreatedAt: txNow(tx), Body: body})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
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
	for _, grantee := range []string{s.Account, PublicGroup} {
		r, gerr := tx.GetResource(shareScope(s.Region), kindSnapshotGrant, grantID(id, grantee))
		if errors.Is(gerr, store.ErrNotFound) {
			continue
		}
		if gerr != nil {
			return Snapshot{}, Scope{}, gerr
		}
		var g snapshotGrant
		if err := json.Unmarshal(r.Body, &g); err != nil {
			return Snapshot{}, Scope{}, err
		}
		owner = Scope{Account: g.Owner, Region: s.Region}
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
		rows, err := tx.ListChildren(shareScope(s.Region), kindSnapshotGrant, grantee)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			var g snapshotGrant
			if err := json.Unmarshal(r.Body, &g); err != nil {
				return nil, err
			}
			if g.Owner == s.Account || seen[g.Snapshot] {
				continue
			}
			seen[g.Snapshot] = true
			snap, err := snapshots.get(tx, Scope{Account: g.Owner, Region: s.Region}, g.Snapshot)
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
