package cloud

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// Launch permissions of images are kept on the image (what its owner sees and
// changes) and in the grant index (grants.go), so that an account finds the
// images others share with it without reading every account's images.

// setImageGrants makes the image public or not and gives launch permission to
// exactly the accounts listed, keeping the grant index in step.
func setImageGrants(tx store.Tx, s Scope, img *Image, public bool, accounts []string) error {
	grantees := func(public bool, accounts []string) []string {
		out := slices.Clone(accounts)
		if public {
			out = append(out, PublicGroup)
		}
		return out
	}
	users := slices.Clone(accounts)
	slices.Sort(users)
	users = slices.Compact(users)
	if err := setGrants(tx, s, kindImageGrant, img.ID, grantees(img.Public, img.LaunchPermissions), grantees(public, users)); err != nil {
		return err
	}
	if len(users) == 0 {
		users = nil
	}
	img.Public, img.LaunchPermissions = public, users
	return nil
}

// visibleImage finds an image the scope's account may see: its own, one shared
// with it or with everyone, or the image an alias of the Region names.
func visibleImage(tx store.Tx, s Scope, id string) (Image, error) {
	img, err := findVisibleImage(tx, s, id)
	if err == nil {
		img.State = settledImageState(tx, Scope{Account: img.OwnerID, Region: s.Region}, &img)
	}
	return img, err
}

func findVisibleImage(tx store.Tx, s Scope, id string) (Image, error) {
	img, err := images.get(tx, s, id)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		return img, err
	}
	owner, ok, gerr := grantOwner(tx, s, kindImageGrant, id)
	if gerr != nil {
		return Image{}, gerr
	}
	if ok {
		return images.get(tx, owner, id)
	}
	if aliased, ok, aerr := aliasedImage(tx, s, id); ok || aerr != nil {
		return aliased, aerr
	}
	return Image{}, err
}

// grantedImages reads the images shared with a grantee in the scope's Region.
func grantedImages(tx store.Tx, s Scope, grantee string) ([]Image, error) {
	grants, err := grantedTo(tx, s.Region, kindImageGrant, grantee)
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(grants))
	for _, g := range grants {
		if g.Owner == s.Account {
			continue // the caller's own, listed already
		}
		owner := Scope{Account: g.Owner, Region: s.Region}
		img, err := images.get(tx, owner, g.Resource)
		if err != nil {
			return nil, err
		}
		img.State = settledImageState(tx, owner, &img)
		out = append(out, img)
	}
	return out, nil
}

// ImageQuery is what DescribeImages asks for.
type ImageQuery struct {
	ImageIDs        []string
	Owners          []string // self, amazon, aws-marketplace, account IDs
	ExecutableUsers []string // self, all, account IDs
	Filters         []filter.Filter
	Page            Page
}

func (q *ImageQuery) validate() error {
	for _, o := range q.Owners {
		if o != "self" && o != "amazon" && o != "aws-marketplace" && !ValidAccountID(o) {
			return errorf("InvalidUserID.Malformed", "Invalid user id: \"%s\"", o)
		}
	}
	for _, u := range q.ExecutableUsers {
		if u != "self" && u != "all" && !ValidAccountID(u) {
			return errorf("InvalidUserID.Malformed", "Invalid user id: \"%s\"", u)
		}
	}
	return nil
}

// ownedBy reports whether the image matches one of the Owners values.
func (img *Image) ownedBy(s Scope, owners []string) bool {
	if len(owners) == 0 {
		return true
	}
	for _, o := range owners {
		switch o {
		case "self":
			if img.OwnerID == s.Account {
				return true
			}
		case "amazon":
			if img.OwnerAlias == "amazon" {
				return true
			}
		default:
			if img.OwnerID == o {
				return true
			}
		}
	}
	return false
}

// launchableBy reports whether the image matches one of the ExecutableBy values.
func (img *Image) launchableBy(s Scope, users []string) bool {
	if len(users) == 0 {
		return true
	}
	for _, u := range users {
		switch u {
		case "all":
			if img.Public {
				return true
			}
		case "self":
			if img.OwnerID == s.Account || slices.Contains(img.LaunchPermissions, s.Account) {
				return true
			}
		default:
			if img.OwnerID == s.Account && slices.Contains(img.LaunchPermissions, u) {
				return true
			}
		}
	}
	return false
}

// DescribeImages lists the images the caller may see: its own, those shared with
// it and the public ones, narrowed by IDs, owners, launch permissions and filters.
func (c *Cloud) DescribeImages(ctx context.Context, s Scope, q ImageQuery) ([]Image, string, error) {
	if err := q.validate(); err != nil {
		return nil, "", err
	}
	m, err := filter.Compile(q.Filters, imageFields, func(img Image) map[string]string { return img.Tags })
	if err != nil {
		return nil, "", err
	}
	var list []Image
	err = c.view(ctx, func(tx store.Tx) error {
		if len(q.ImageIDs) > 0 {
			for _, id := range q.ImageIDs {
				img, err := visibleImage(tx, s, id)
				if err != nil {
					return err
				}
				list = append(list, img)
			}
			return imagesWithOwnTags(tx, s, list)
		}
		own, err := images.load(tx, s, nil, nil)
		if err != nil {
			return err
		}
		list = own
		for i := range list {
			list[i].State = settledImageState(tx, s, &list[i])
		}
		for _, grantee := range []string{s.Account, PublicGroup} {
			shared, err := grantedImages(tx, s, grantee)
			if err != nil {
				return err
			}
			list = append(list, shared...)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	var out []Image
	seen := map[string]bool{}
	for _, img := range list {
		if !seen[img.ID] && img.ownedBy(s, q.Owners) && img.launchableBy(s, q.ExecutableUsers) {
			seen[img.ID] = true
			out = append(out, img)
		}
	}
	out = m.Filter(out)
	id := func(img Image) string { return img.ID }
	sortByUniqueKey(out, id)
	return PageOf(c, s, "DescribeImages", q.Filters, q.Page, 5, 1000, out, id)
}

// imagesWithOwnTags gives the caller's own images their tags (others' tags are
// their owners' business, as on AWS).
func imagesWithOwnTags(tx store.Tx, s Scope, list []Image) error {
	for i := range list {
		if list[i].OwnerID != s.Account {
			continue
		}
		tags, err := tx.ListTags(s, list[i].ID)
		if err != nil {
			return err
		}
		list[i].Tags = map[string]string{}
		for _, t := range tags {
			list[i].Tags[t.Key] = t.Value
		}
	}
	return nil
}

func imageDeviceValues(img Image, field func(ImageBlockDevice) (string, bool)) []string {
	var out []string
	for _, b := range img.BlockDevices {
		if v, ok := field(b); ok {
			out = append(out, v)
		}
	}
	return out
}

func imageEBSValues(img Image, field func(*ImageEBS) string) []string {
	return imageDeviceValues(img, func(b ImageBlockDevice) (string, bool) {
		if b.EBS == nil {
			return "", false
		}
		return field(b.EBS), true
	})
}

var imageFields = filter.Fields[Image]{
	"architecture": func(i Image) []string { return []string{i.Architecture} },
	"block-device-mapping.delete-on-termination": func(i Image) []string {
		return imageEBSValues(i, func(e *ImageEBS) string { return strconv.FormatBool(e.DeleteOnTermination) })
	},
	"block-device-mapping.device-name": func(i Image) []string {
		return imageDeviceValues(i, func(b ImageBlockDevice) (string, bool) { return b.DeviceName, true })
	},
	"block-device-mapping.snapshot-id": func(i Image) []string {
		return imageEBSValues(i, func(e *ImageEBS) string { return e.SnapshotID })
	},
	"block-device-mapping.volume-size": func(i Image) []string {
		return imageEBSValues(i, func(e *ImageEBS) string { return strconv.Itoa(int(e.VolumeSize)) })
	},
	"block-device-mapping.volume-type": func(i Image) []string {
		return imageEBSValues(i, func(e *ImageEBS) string { return e.VolumeType })
	},
	"block-device-mapping.encrypted": func(i Image) []string {
		return imageEBSValues(i, func(e *ImageEBS) string { return strconv.FormatBool(e.Encrypted) })
	},
	"creation-date":        func(i Image) []string { return []string{i.CreationDate()} },
	"description":          func(i Image) []string { return []string{i.Description} },
	"ena-support":          func(i Image) []string { return boolValue(i.ENASupport) },
	"hypervisor":           func(Image) []string { return []string{"xen"} },
	"image-id":             func(i Image) []string { return []string{i.ID} },
	"image-type":           func(Image) []string { return []string{"machine"} },
	"is-public":            func(i Image) []string { return boolValue(i.Public) },
	"kernel-id":            func(i Image) []string { return []string{i.KernelID} },
	"manifest-location":    func(i Image) []string { return []string{i.Location()} },
	"name":                 func(i Image) []string { return []string{i.Name} },
	"owner-alias":          func(i Image) []string { return []string{i.OwnerAlias} },
	"owner-id":             func(i Image) []string { return []string{i.OwnerID} },
	"platform":             func(Image) []string { return nil }, // Linux images have no platform
	"platform-details":     func(Image) []string { return []string{"Linux/UNIX"} },
	"usage-operation":      func(Image) []string { return []string{"RunInstances"} },
	"product-code":         func(Image) []string { return nil },
	"product-code.type":    func(Image) []string { return nil },
	"ramdisk-id":           func(i Image) []string { return []string{i.RamdiskID} },
	"root-device-name":     func(i Image) []string { return []string{i.RootDeviceName} },
	"root-device-type":     func(i Image) []string { return []string{i.RootDeviceType} },
	"state":                func(i Image) []string { return []string{i.State} },
	"state-reason-code":    func(Image) []string { return nil },
	"state-reason-message": func(Image) []string { return nil },
	"sriov-net-support":    func(i Image) []string { return []string{i.SriovNetSupport} },
	"virtualization-type":  func(i Image) []string { return []string{i.VirtualizationType} },
	"boot-mode":            func(i Image) []string { return []string{i.BootMode} },
	"imds-support":         func(i Image) []string { return []string{i.IMDSSupport} },
	"tpm-support":          func(i Image) []string { return []string{i.TPMSupport} },
	"source-instance-id":   func(i Image) []string { return []string{i.SourceInstanceID} },
	"deprecation-time":     func(Image) []string { return nil },
}

// CreationDate is the creation time as DescribeImages writes it.
func (img *Image) CreationDate() string {
	return img.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z")
}

// Location is the image's manifest location as AWS reports it for EBS-backed
// images: OWNER/NAME.
func (img *Image) Location() string {
	if img.ImageLocation != "" {
		return img.ImageLocation
	}
	owner := img.OwnerID
	if img.OwnerAlias != "" {
		owner = img.OwnerAlias
	}
	return owner + "/" + img.Name
}

// LaunchPermissionChange adds and removes launch permissions.
type LaunchPermissionChange struct {
	AddAll, RemoveAll     bool
	AddUsers, RemoveUsers []string
}

// ModifyImageLaunchPermission shares an image with accounts or everyone, or stops.
func (c *Cloud) ModifyImageLaunchPermission(ctx context.Context, s Scope, id string, ch LaunchPermissionChange) error {
	for _, u := range append(slices.Clone(ch.AddUsers), ch.RemoveUsers...) {
		if !ValidAccountID(u) {
			return errorf("InvalidUserID.Malformed", "Invalid user id: \"%s\"", u)
		}
	}
	return c.update(ctx, func(tx store.Tx) error {
		img, err := images.get(tx, s, id)
		if err != nil {
			return err
		}
		public := (img.Public || ch.AddAll) && !ch.RemoveAll
		users := slices.DeleteFunc(slices.Clone(img.LaunchPermissions), func(u string) bool { return slices.Contains(ch.RemoveUsers, u) })
		for _, u := range ch.AddUsers {
			if !slices.Contains(users, u) && u != s.Account {
				users = append(users, u)
			}
		}
		if keys := img.encryptedKeys(); len(keys) > 0 {
			if public && !img.Public {
				return errorf("InvalidParameter", "Encrypted images cannot be made public.")
			}
			if len(ch.AddUsers) > 0 {
				for _, k := range keys {
					managed, err := volumeKeyIsAWSManaged(tx, s, k)
					if err != nil {
						return err
					}
					if managed {
						return errorf("InvalidParameter", "Images with snapshots encrypted with the AWS managed key %s cannot be shared; copy them with a customer managed key first.", k)
					}
				}
			}
		}
		if public && !img.Public {
			n, err := countPublicImages(tx, s)
			if err != nil {
				return err
			}
			if err := checkQuota(tx, s.Account, QuotaPublicImages, n); err != nil {
				return err
			}
		}
		if err := setImageGrants(tx, s, &img, public, users); err != nil {
			return err
		}
		return images.update(tx, s, &img)
	})
}

func countPublicImages(tx store.Tx, s Scope) (int, error) {
	own, err := images.load(tx, s, nil, nil)
	n := 0
	for _, img := range own {
		if img.Public {
			n++
		}
	}
	return n, err
}

// ResetImageLaunchPermission makes an image private again.
func (c *Cloud) ResetImageLaunchPermission(ctx context.Context, s Scope, id string) error {
	return c.update(ctx, func(tx store.Tx) error {
		img, err := privateImage(tx, s, id)
		if err != nil {
			return err
		}
		return images.update(tx, s, &img)
	})
}

// privateImage reads one of the scope's images and withdraws every grant of it.
func privateImage(tx store.Tx, s Scope, id string) (Image, error) {
	img, err := images.get(tx, s, id)
	if err != nil {
		return Image{}, err
	}
	return img, setImageGrants(tx, s, &img, false, nil)
}

// SetImageDescription changes an image's description.
func (c *Cloud) SetImageDescription(ctx context.Context, s Scope, id, description string) error {
	if len(description) > 255 {
		return errorf("InvalidParameterValue", "The description must be at most 255 characters long.")
	}
	return c.update(ctx, func(tx store.Tx) error {
		img, err := images.get(tx, s, id)
		if err != nil {
			return err
		}
		img.Description = description
		return images.update(tx, s, &img)
	})
}

// GetImage reads an image the caller may see (for DescribeImageAttribute: only
// the owner may read launch permissions, which the caller checks).
func (c *Cloud) GetImage(ctx context.Context, s Scope, id string) (Image, error) {
	var img Image
	err := c.view(ctx, func(tx store.Tx) error {
		var err error
		img, err = visibleImage(tx, s, id)
		return err
	})
	return img, err
}
