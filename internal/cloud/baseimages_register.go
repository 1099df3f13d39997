package cloud

import (
	"context"
	"errors"
	"strings"
	"time"

	"strato/internal/store"
)

// MinimalImagePrefix starts the names of the cloud's minimal images; the
// Regions' default alias follows the newest of them unless the operator points
// it at another image.
const MinimalImagePrefix = "strato-minimal-"

// register records, in one transaction, every Region's snapshot and image of a
// staged publication, replacing the owner's earlier image of the name (its
// snapshots are deleted unless something still reads them), and drops the
// staging record. It returns the images and the deletions to launch.
func (c *Cloud) register(ctx context.Context, p *publishPlan, st staging) ([]PublishedImage, []blockJob, error) {
	var out []PublishedImage
	var jobs []blockJob
	err := c.update(ctx, func(tx store.Tx) error {
		out, jobs = nil, nil
		now := c.clock.Now()
		for _, r := range p.regions {
			s := Scope{Account: p.owner, Region: r}
			old, err := p.existing(tx, r)
			if err != nil {
				return err
			}
			if old != nil {
				dels, err := c.removePublished(tx, s, old)
				if err != nil {
					return err
				}
				jobs = append(jobs, dels...)
			}
			img, err := p.recordRegion(tx, s, st.Snapshots[r], st.Stats.StoredBytes, now)
			if err != nil {
				return err
			}
			if p.req.Base && p.req.DefaultAlias {
				if err := followDefaultAlias(tx, r, img, now); err != nil {
					return err
				}
			}
			out = append(out, PublishedImage{Region: r, Image: img})
		}
		return stagings.remove(tx, stagingScope, st.ID)
	})
	return out, jobs, err
}

// recordRegion records one Region's snapshot (or bundle) and image.
func (p *publishPlan) recordRegion(tx store.Tx, s Scope, snapID string, stored int64, now time.Time) (Image, error) {
	req := p.req
	img := Image{
		ID: p.ids[s.Region], OwnerID: s.Account, Name: req.Name, Description: req.Description,
		Architecture: req.Architecture, VirtualizationType: "hvm", RootDeviceName: publishedRootDevice,
		RootDeviceType: "ebs", BootMode: "legacy-bios", ENASupport: true, SriovNetSupport: "simple",
		State: "available", CreatedAt: now,
	}
	if req.Base {
		img.OwnerAlias = "amazon"
	} else if err := checkCount(tx, s, KindImage, QuotaImages); err != nil {
		return Image{}, err
	}
	if req.InstanceStore {
		img.RootDeviceType, img.RootDeviceName = "instance-store", instanceStoreRootDevice
		img.ImageLocation = BundleLocationPrefix + snapID + bundleLocationSuffix
	} else {
		if !req.Base {
			if err := checkCount(tx, s, KindSnapshot, QuotaSnapshots); err != nil {
				return Image{}, err
			}
		}
		snap := Snapshot{
			ID: snapID, OwnerID: s.Account, VolumeID: CopiedVolumeID, VolumeSize: p.gib,
			Description: "Root volume of " + req.Name + " (" + img.ID + ")", State: SnapshotCompleted,
			Progress: 100, StartTime: now, StoredBytes: stored,
		}
		if req.Base {
			// Public, so that every account can copy the image and restore its volume.
			if err := setSnapshotPermissions(tx, s, &snap, []string{PublicGroup}); err != nil {
				return Image{}, err
			}
		}
		if err := snapshots.insert(tx, s, &snap, now, nil); err != nil {
			return Image{}, err
		}
		ebs := &ImageEBS{SnapshotID: snapID, VolumeSize: p.gib, VolumeType: req.VolumeType, DeleteOnTermination: true}
		if req.VolumeType == "gp3" {
			ebs.IOPS, ebs.Throughput = 3000, 125 // gp3's baseline, as DescribeImages shows it
		}
		img.BlockDevices = []ImageBlockDevice{{DeviceName: publishedRootDevice, EBS: ebs}}
	}
	if req.Base {
		if err := setImageGrants(tx, s, &img, true, nil); err != nil {
			return Image{}, err
		}
	}
	if err := images.insert(tx, s, &img, now, nil); err != nil {
		return Image{}, err
	}
	return img, nil
}

// removePublished deregisters an image being replaced and deletes its
// snapshots (or bundle) unless something still reads them (a volume being
// restored, a copy being made: those snapshots stay, as DeregisterImage leaves
// snapshots). It returns the block-store deletions to launch after commit.
func (c *Cloud) removePublished(tx store.Tx, s Scope, old *Image) ([]blockJob, error) {
	if err := setImageGrants(tx, s, old, false, nil); err != nil {
		return nil, err
	}
	if err := images.remove(tx, s, old.ID); err != nil {
		return nil, err
	}
	var jobs []blockJob
	if bundle := old.BundleID(); bundle != "" {
		j := newBlockJob(jobDeleteSnapshot, s, bundle)
		return []blockJob{j}, recordJob(tx, j)
	}
	for _, b := range old.BlockDevices {
		if b.EBS == nil || b.EBS.SnapshotID == "" {
			continue
		}
		snap, err := snapshots.get(tx, s, b.EBS.SnapshotID)
		if err != nil {
			if err := ignoreNotFound(err, nil); err != nil {
				return nil, err
			}
			continue
		}
		busy, err := anyInUse(snapshotUsers, tx, s, snap.ID)
		if err != nil {
			return nil, err
		}
		if busy {
			c.log.Info("keeping a replaced image's snapshot: it is in use", "snapshot", snap.ID, "region", s.Region)
			continue
		}
		if err := setSnapshotPermissions(tx, s, &snap, nil); err != nil {
			return nil, err
		}
		if err := snapshots.remove(tx, s, snap.ID); err != nil {
			return nil, err
		}
		j := newBlockJob(jobDeleteSnapshot, s, snap.ID)
		if err := recordJob(tx, j); err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// followDefaultAlias points the Region's default alias at a new minimal image,
// unless the operator pointed it at an image that is not one of the cloud's
// minimal images (an alias at one of those is taken as strato's own).
func followDefaultAlias(tx store.Tx, region string, img Image, now time.Time) error {
	if !strings.HasPrefix(img.Name, MinimalImagePrefix) {
		return nil
	}
	s := aliasScope(region)
	a, err := imageAliases.get(tx, s, DefaultImageAlias)
	var nf *NotFoundError
	switch {
	case errors.As(err, &nf):
	case err != nil:
		return err
	default:
		target, terr := publicImage(tx, region, a.Target)
		if terr == nil && !(target.OwnerID == CloudOwnerID && strings.HasPrefix(target.Name, MinimalImagePrefix)) {
			return nil // the operator's choice
		}
		if err := imageAliases.remove(tx, s, DefaultImageAlias); err != nil {
			return err
		}
	}
	alias := ImageAlias{From: DefaultImageAlias, Target: img.ID, Region: region}
	return imageAliases.insert(tx, s, &alias, now, nil)
}
