package cloud

import (
	"context"
	"fmt"

	"strato/internal/catalog"
	"strato/internal/store"
)

// CopyImageRequest is what CopyImage asks for; the copy is made in the request's
// Region.
type CopyImageRequest struct {
	SourceRegion, SourceImageID string
	Name, Description           string
	Encrypted                   bool
	KMSKeyID                    string
	CopyTags                    bool
	Tags                        []Tag
	ClientToken                 string `json:"-"`
}

// CopyImage copies an image the caller may launch (its own, shared with it or
// public) from a Region to the request's, copying each of its snapshots (the
// caller must be able to read them, as on AWS). The copy is pending until every
// snapshot copy completes.
func (c *Cloud) CopyImage(ctx context.Context, s Scope, req CopyImageRequest) (Image, error) {
	if c.blocks == nil {
		return Image{}, errNoBlocks
	}
	if !catalog.KnownRegion(req.SourceRegion) {
		return Image{}, errorf("InvalidParameterValue", "Value (%s) for parameter sourceRegion is invalid.", req.SourceRegion)
	}
	if err := checkImageText(req.Name, req.Description); err != nil {
		return Image{}, err
	}
	if err := ValidateTags(req.Tags); err != nil {
		return Image{}, err
	}
	var jobs []blockJob
	img, err := Idempotent(ctx, c, s, "CopyImage", req.ClientToken, req, func(tx store.Tx) (Image, error) {
		jobs = nil
		from := Scope{Account: s.Account, Region: req.SourceRegion}
		src, err := visibleImage(tx, from, req.SourceImageID)
		if err != nil {
			return Image{}, err
		}
		if src.State != "available" {
			return Image{}, errorf("IncorrectState", "Image %s is %s; only available images can be copied.", src.ID, src.State)
		}
		if err := checkCount(tx, s, KindImage, QuotaImages); err != nil {
			return Image{}, err
		}
		if err := checkImageNameFree(tx, s, req.Name); err != nil {
			return Image{}, err
		}
		now := c.clock.Now()
		img := src
		img.ID, img.OwnerID, img.OwnerAlias, img.Name, img.Description = NewID("ami"), s.Account, "", req.Name, req.Description
		img.State, img.CreatedAt, img.Public, img.LaunchPermissions = "pending", now, false, nil
		img.BlockDevices = nil
		for _, b := range src.BlockDevices {
			if b.EBS != nil && b.EBS.SnapshotID != "" {
				e := *b.EBS
				snap, j, err := c.copySnapshot(tx, s, CopySnapshotRequest{
					SourceRegion: req.SourceRegion, SourceSnapshotID: e.SnapshotID, Encrypted: req.Encrypted, KMSKeyID: req.KMSKeyID,
					Description: fmt.Sprintf("Copied for DestinationAmi %s from SourceAmi %s for SourceSnapshot %s", img.ID, src.ID, e.SnapshotID),
				})
				if err != nil {
					return Image{}, err
				}
				e.SnapshotID, e.Encrypted, e.KMSKeyARN = snap.ID, snap.Encrypted, snap.KMSKeyARN
				b.EBS = &e
				jobs = append(jobs, j)
			}
			img.BlockDevices = append(img.BlockDevices, b)
		}
		tags := req.Tags
		if req.CopyTags && src.OwnerID == s.Account {
			srcTags, err := tx.ListTags(from, src.ID)
			if err != nil {
				return Image{}, err
			}
			var copied []Tag
			for _, t := range srcTags {
				copied = append(copied, Tag{Key: t.Key, Value: t.Value})
			}
			tags = mergeTags(copied, req.Tags)
		}
		if err := images.insert(tx, s, &img, now, tags); err != nil {
			return Image{}, err
		}
		img.Tags = tagMap(tags)
		return img, nil
	})
	if err != nil {
		return Image{}, err
	}
	for _, j := range jobs {
		c.launch(j, nil)
	}
	return img, nil
}

// settledImageState is an image's state with its snapshots taken into account: an
// image made of snapshot copies (or of an instance's volumes) is pending until
// they complete, and failed if one fails.
func settledImageState(tx store.Tx, owner Scope, img *Image) string {
	if img.State != "pending" {
		return img.State
	}
	state := "available"
	for _, b := range img.BlockDevices {
		if b.EBS == nil || b.EBS.SnapshotID == "" {
			continue
		}
		snap, err := snapshots.get(tx, owner, b.EBS.SnapshotID)
		switch {
		case err != nil || snap.State == SnapshotError:
			return "failed"
		case snap.State == SnapshotPending:
			state = "pending"
		}
	}
	return state
}
