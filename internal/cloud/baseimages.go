package cloud

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"strato/internal/catalog"
	"strato/internal/store"
)

// Publishing turns a raw disk image on the host into AMIs: the cloud's own base
// images (`strato image build`: owned by CloudOwnerID, owner alias amazon,
// public with their snapshots, in every Region) and images imported for an
// account (`strato image import`: private, in one Region). The disk is staged
// as a block-store volume, snapshotted once, and the snapshot's manifest copied
// to each further Region (the chunks are shared, so a copy costs one small
// file); then one transaction registers every Region's snapshot and image.

// PublishRequest is a disk to publish as an AMI.
type PublishRequest struct {
	// DiskPath is a raw disk image (MBR or GPT partition table), read sparsely.
	DiskPath          string
	Name, Description string
	// Architecture is x86_64 or arm64.
	Architecture string
	// VolumeType is the root volume's type (default gp3).
	VolumeType string
	// Base publishes one of the cloud's base images: owned by CloudOwnerID with
	// the owner alias amazon, public with its snapshots, in every Region, and
	// the Regions' default image when DefaultAlias is set (unless the operator
	// chose another). A base image of an existing name replaces it.
	Base, DefaultAlias bool
	// Account and Region own an imported image (Base unset).
	Account, Region string
	// InstanceStore makes an instance-store-backed image: its root file system
	// is kept as a bundle (a block-store manifest no user sees as a snapshot)
	// that the image's ImageLocation names.
	InstanceStore bool
	// Replace lets an import replace the account's image of the same name.
	Replace bool
}

// Root device of published images, as on EC2's current Linux images.
const (
	publishedRootDevice = "/dev/xvda"
	// instanceStoreRootDevice is the root of instance-store images on EC2.
	instanceStoreRootDevice = "/dev/sda1"
	// BundleLocationPrefix starts the ImageLocation of an instance-store image
	// strato imported: BundleLocationPrefix + bundle ID + ".manifest.xml".
	BundleLocationPrefix = "strato-bundles/"
	bundleLocationSuffix = ".manifest.xml"
)

// BundleID is the block-store manifest holding an instance-store image's root
// file system, named by its ImageLocation ("" for other images): the instance
// drivers copy it to the instance's storage.
func (img *Image) BundleID() string {
	if img.RootDeviceType != "instance-store" {
		return ""
	}
	id, ok := strings.CutPrefix(img.ImageLocation, BundleLocationPrefix)
	if !ok {
		return ""
	}
	id, ok = strings.CutSuffix(id, bundleLocationSuffix)
	if !ok {
		return ""
	}
	return id
}

// imageIDSecret keys the AMI IDs of published images.
const imageIDSecret = "image-id-secret"

// publishedImageID is the AMI ID a published image gets: derived from the data
// dir's secret, the owner, the Region and the name, so that publishing the same
// name again keeps the ID (code and aliases that name it go on working) while
// two installations give different IDs.
func publishedImageID(secret []byte, owner, region, name string) string {
	m := hmac.New(sha256.New, secret)
	if owner == CloudOwnerID {
		fmt.Fprintf(m, "%s/%s", region, name)
	} else {
		fmt.Fprintf(m, "%s/%s/%s", owner, region, name)
	}
	return "ami-" + hex.EncodeToString(m.Sum(nil))[:17]
}

// OperatorAccount returns the operator's account ID ("" before the first start
// of strato serve).
func (c *Cloud) OperatorAccount(ctx context.Context) (string, error) {
	var id string
	err := c.view(ctx, func(tx store.Tx) error {
		v, err := tx.GetSetting(operatorSetting)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		id = string(v)
		return err
	})
	return id, err
}

// publishPlan is what a publication will do, fixed before the block store works.
type publishPlan struct {
	req     PublishRequest
	owner   string
	regions []string
	// size is the staged volume's size in bytes (whole GiB); gib the same in GiB.
	size int64
	gib  int32
	// ids are the image IDs by Region.
	ids map[string]string
}

func (c *Cloud) planPublish(ctx context.Context, req PublishRequest) (publishPlan, error) {
	p := publishPlan{req: req, ids: map[string]string{}}
	if c.blocks == nil {
		return p, errNoBlocks
	}
	if !imageNamePattern.MatchString(req.Name) {
		return p, errorf("InvalidAMIName.Malformed", "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/', '_', '[', ']', ' ', ''' and '@'")
	}
	if len(req.Description) > 255 {
		return p, errorf("InvalidParameterValue", "The description must be at most 255 characters long.")
	}
	if req.Architecture != "x86_64" && req.Architecture != "arm64" {
		return p, errorf("InvalidParameterValue", "Value (%s) for parameter architecture is invalid. Valid values are: x86_64, arm64.", req.Architecture)
	}
	if p.req.VolumeType == "" {
		p.req.VolumeType = "gp3"
	}
	if p.req.VolumeType != "gp3" && p.req.VolumeType != "gp2" {
		// The SSD types EC2's own Linux images use; the others need IOPS or
		// sizes a root volume does not want.
		return p, fmt.Errorf("the root volume type of a published image is gp3 or gp2, not %q", p.req.VolumeType)
	}
	if req.Base {
		if req.InstanceStore {
			return p, fmt.Errorf("base images are EBS-backed; --instance-store is for imports")
		}
		p.owner = CloudOwnerID
		for _, r := range catalog.Regions() {
			p.regions = append(p.regions, r.Name)
		}
		if err := c.EnsureAccount(ctx, CloudOwnerID, "strato public images (owner alias amazon)"); err != nil {
			return p, err
		}
	} else {
		if !catalog.KnownRegion(req.Region) {
			return p, fmt.Errorf("unknown Region %q", req.Region)
		}
		p.owner, p.regions = req.Account, []string{req.Region}
		if err := c.view(ctx, func(tx store.Tx) error {
			_, err := tx.GetAccount(req.Account)
			return err
		}); err != nil {
			return p, fmt.Errorf("account %q: %w", req.Account, err)
		}
	}
	size, err := checkRawDisk(req.DiskPath)
	if err != nil {
		return p, err
	}
	p.gib = int32((size + 1<<30 - 1) >> 30)
	p.size = int64(p.gib) << 30
	secret, err := installationSecret(ctx, c.store, imageIDSecret)
	if err != nil {
		return p, err
	}
	for _, r := range p.regions {
		p.ids[r] = publishedImageID(secret, p.owner, r, req.Name)
	}
	// Refuse early what the registering transaction would refuse, before the
	// block store works.
	err = c.view(ctx, func(tx store.Tx) error {
		for _, r := range p.regions {
			if _, err := p.existing(tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	return p, err
}

// existing finds the owner's image of the plan's name in a Region, which a
// publication replaces; without Replace an import refuses to.
func (p *publishPlan) existing(tx store.Tx, region string) (*Image, error) {
	s := Scope{Account: p.owner, Region: region}
	img, err := images.getByName(tx, s, p.req.Name)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !p.req.Base && !p.req.Replace {
		return nil, errorf("InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s in %s (use --replace to replace it)", p.req.Name, img.ID, region)
	}
	return &img, nil
}

// checkRawDisk checks that path is a raw disk image (an MBR or a GPT) and
// returns its size.
func checkRawDisk(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	head := make([]byte, 1024)
	if fi.Size() < int64(len(head)) {
		return 0, fmt.Errorf("%s is not a raw disk image: it is %d bytes long", path, fi.Size())
	}
	if _, err := f.ReadAt(head, 0); err != nil {
		return 0, err
	}
	// A GPT has a protective MBR, so the boot signature is enough for both.
	if head[510] != 0x55 || head[511] != 0xaa {
		return 0, fmt.Errorf("%s is not a raw disk image: it has no partition table (no MBR or GPT)", path)
	}
	return fi.Size(), nil
}

// PublishedImage is an image a publication registered, with its Region.
type PublishedImage struct {
	Region string
	Image
}

// PublishImage publishes a disk as an AMI in each Region of the request (every
// Region for a base image) and returns the images; say receives progress
// lines. A failure leaves nothing behind (what a crash leaves is removed by the
// next publication).
func (c *Cloud) PublishImage(ctx context.Context, req PublishRequest, say func(string)) ([]PublishedImage, error) {
	if say == nil {
		say = func(string) {}
	}
	publishMu.Lock()
	defer publishMu.Unlock()
	p, err := c.planPublish(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := c.cleanStaging(ctx); err != nil {
		return nil, fmt.Errorf("removing what an interrupted publication left: %w", err)
	}
	st, err := c.stage(ctx, &p, say)
	if err != nil {
		if cerr := c.dropStaging(context.WithoutCancel(ctx), st); cerr != nil {
			c.log.Error("removing a failed publication's data", "err", cerr)
		}
		return nil, err
	}
	list, jobs, err := c.register(ctx, &p, st)
	if err != nil {
		if cerr := c.dropStaging(context.WithoutCancel(ctx), st); cerr != nil {
			c.log.Error("removing a failed publication's data", "err", cerr)
		}
		return nil, err
	}
	c.deleteReplaced(st.ID, jobs)
	say(fmt.Sprintf("registered %s (%s) in %d Region(s)", req.Name, list[0].ID, len(list)))
	return list, nil
}

// deleteReplaced frees the replaced images' snapshots in the background, one
// after the other: each deletion sweeps the whole chunk store, so doing them
// together would only repeat the work. A deletion that fails stays recorded
// and is done again at the next start.
func (c *Cloud) deleteReplaced(stagingID string, jobs []blockJob) {
	if len(jobs) == 0 {
		return
	}
	c.jobs.goOnce("delete-replaced:"+stagingID, func(ctx context.Context) {
		for _, j := range jobs {
			if err := c.runDeleteSnapshot(ctx, j); err != nil {
				c.log.Error("deleting a replaced image's snapshot", "snapshot", j.Resource, "err", err)
			}
		}
	})
}
