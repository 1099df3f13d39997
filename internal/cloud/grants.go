package cloud

import (
	"encoding/json"
	"errors"

	"strato/internal/store"
)

// Sharing. A shared resource (a snapshot's createVolumePermission, an image's
// launch permission) lives in its owner's scope; each grant of it — to an
// account, or to "all" for public — is also a small document in a Region-wide
// index outside every account, keyed by resource and grantee and indexed by
// grantee. Another account finds what is shared with it (or public) by two
// indexed listings, and a resource by ID with two lookups, while the owner's
// own Describe reads only its own scope.

// Grant kinds, one index per kind of shared resource.
const (
	kindSnapshotGrant = "snapshot-grant"
	kindImageGrant    = "image-grant"
)

// PublicGroup is the grantee that makes a resource public.
const PublicGroup = "all"

func shareScope(region string) Scope { return Scope{Account: "strato", Region: region} }

// grant is one entry of the index.
type grant struct {
	Owner    string `json:"owner"`
	Resource string `json:"resource"`
}

func grantID(resourceID, grantee string) string { return resourceID + "/" + grantee }

// setGrants makes the index hold exactly the grantees want for a resource of the
// scope, given that it holds old.
func setGrants(tx store.Tx, s Scope, kind, resourceID string, old, want []string) error {
	keep := map[string]bool{}
	for _, g := range want {
		keep[g] = true
	}
	had := map[string]bool{}
	for _, g := range old {
		had[g] = true
		if !keep[g] {
			err := tx.DeleteResource(shareScope(s.Region), kind, grantID(resourceID, g))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	body, err := json.Marshal(grant{Owner: s.Account, Resource: resourceID})
	if err != nil {
		return err
	}
	for g := range keep {
		if had[g] {
			continue
		}
		err := tx.InsertResource(store.Resource{Scope: shareScope(s.Region), Kind: kind, ID: grantID(resourceID, g), Parent: g, CreatedAt: txNow(tx), Body: body})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}

// grantOwner finds who shares a resource with the scope's account or with all:
// the owner's scope, and whether there is such a grant.
func grantOwner(tx store.Tx, s Scope, kind, resourceID string) (Scope, bool, error) {
	for _, grantee := range []string{s.Account, PublicGroup} {
		r, err := tx.GetResource(shareScope(s.Region), kind, grantID(resourceID, grantee))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return Scope{}, false, err
		}
		var g grant
		if err := json.Unmarshal(r.Body, &g); err != nil {
			return Scope{}, false, err
		}
		return Scope{Account: g.Owner, Region: s.Region}, true, nil
	}
	return Scope{}, false, nil
}

// grantedTo lists the grants of a kind to a grantee in a Region.
func grantedTo(tx store.Tx, region, kind, grantee string) ([]grant, error) {
	rows, err := tx.ListChildren(shareScope(region), kind, grantee)
	if err != nil {
		return nil, err
	}
	out := make([]grant, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r.Body, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
