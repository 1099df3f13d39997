package cloud

import (
	"context"
	"errors"

	"strato/internal/catalog"
	"strato/internal/store"
)

// Image aliases let an operator make AMI IDs that users' code hard-codes (AWS's
// public AMI IDs, say) resolve to one of strato's public images, per Region. The
// alias "default" names the image an unknown AMI ID resolves to in development
// mode. Aliases live in a scope of strato's own, not an account's.

const (
	kindImageAlias = "image-alias"
	// aliasScopeAccount is the scope account of aliases: no account ID has letters.
	aliasScopeAccount = "strato"
	// DefaultImageAlias names the Region's default image.
	DefaultImageAlias = "default"
)

// ImageAlias maps an AMI ID to an image.
type ImageAlias struct {
	From   string `json:"from"`
	Target string `json:"target"`
	Region string `json:"region"`
}

var imageAliases = docKind[ImageAlias]{
	kind: kindImageAlias,
	id:   func(a *ImageAlias) string { return a.From },
	tags: func(*ImageAlias) *map[string]string { return new(map[string]string) },
}

func aliasScope(region string) Scope { return Scope{Account: aliasScopeAccount, Region: region} }

// SetImageAlias makes from resolve to the public image target in a Region.
func (c *Cloud) SetImageAlias(ctx context.Context, region, from, target string) error {
	if _, ok := catalog.LookupRegion(region); !ok {
		return errorf("InvalidParameterValue", "Unknown Region %s.", region)
	}
	if from != DefaultImageAlias && !ValidID("ami", from) {
		return errorf("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\" or default)", from)
	}
	if !ValidID("ami", target) {
		return errorf("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", target)
	}
	return c.update(ctx, func(tx store.Tx) error {
		img, err := publicImage(tx, region, target)
		if err != nil {
			return err
		}
		a := ImageAlias{From: from, Target: img.ID, Region: region}
		err = imageAliases.remove(tx, aliasScope(region), from)
		var nf *NotFoundError
		if err != nil && !errors.As(err, &nf) {
			return err
		}
		return imageAliases.insert(tx, aliasScope(region), &a, c.clock.Now(), nil)
	})
}

// DeleteImageAlias removes an alias.
func (c *Cloud) DeleteImageAlias(ctx context.Context, region, from string) error {
	return c.update(ctx, func(tx store.Tx) error { return imageAliases.remove(tx, aliasScope(region), from) })
}

// ImageAliases lists a Region's aliases.
func (c *Cloud) ImageAliases(ctx context.Context, region string) ([]ImageAlias, error) {
	var out []ImageAlias
	err := c.view(ctx, func(tx store.Tx) error {
		var err error
		out, err = imageAliases.load(tx, aliasScope(region), nil, nil)
		return err
	})
	return out, err
}

// publicImage finds an image every account may launch.
func publicImage(tx store.Tx, region, id string) (Image, error) {
	// A scope of the public grantee itself finds only public grants.
	owner, ok, err := grantOwner(tx, Scope{Account: PublicGroup, Region: region}, kindImageGrant, id)
	if err != nil {
		return Image{}, err
	}
	if !ok {
		return Image{}, &NotFoundError{Kind: KindImage, ID: id}
	}
	return images.get(tx, owner, id)
}

// ResolveUnknownImages makes well-formed AMI IDs that name no image resolve to the
// Region's default image (development mode).
func (c *Cloud) ResolveUnknownImages() { resolveUnknownImages = true }

// resolveUnknownImages is set in development mode; it is per process, like the mode.
var resolveUnknownImages bool

// aliasedImage resolves an AMI ID no account has through the Region's aliases
// (and, in development mode, to the default image).
func aliasedImage(tx store.Tx, s Scope, id string) (Image, bool, error) {
	for _, from := range []string{id, DefaultImageAlias} {
		if from == DefaultImageAlias && !resolveUnknownImages {
			break
		}
		a, err := imageAliases.get(tx, aliasScope(s.Region), from)
		var nf *NotFoundError
		if errors.As(err, &nf) {
			continue
		}
		if err != nil {
			return Image{}, false, err
		}
		img, err := publicImage(tx, s.Region, a.Target)
		if errors.As(err, &nf) {
			continue // the image went away; the alias leads nowhere
		}
		return img, err == nil, err
	}
	if !resolveUnknownImages {
		return Image{}, false, nil
	}
	// No default alias: the cloud's newest public image.
	public, err := grantedImages(tx, s, PublicGroup)
	var newest *Image
	for i := range public {
		if public[i].OwnerID == CloudOwnerID && (newest == nil || public[i].CreatedAt.After(newest.CreatedAt)) {
			newest = &public[i]
		}
	}
	if newest == nil {
		return Image{}, false, err
	}
	return *newest, true, err
}
