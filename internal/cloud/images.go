package cloud

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"strato/internal/store"
)

// Image is an AMI: a set of snapshots (or, for an instance-store image, a stored
// root file system) plus what an instance needs to launch from it.
type Image struct {
	ID      string `json:"id"`
	OwnerID string `json:"ownerId"`
	// OwnerAlias is "amazon" for the cloud's own images, else empty.
	OwnerAlias         string             `json:"ownerAlias,omitempty"`
	Name               string             `json:"name"`
	Description        string             `json:"description,omitempty"`
	Architecture       string             `json:"architecture"`
	VirtualizationType string             `json:"virtualizationType"`
	RootDeviceName     string             `json:"rootDeviceName"`
	RootDeviceType     string             `json:"rootDeviceType"` // ebs or instance-store
	BlockDevices       []ImageBlockDevice `json:"blockDevices,omitempty"`
	BootMode           string             `json:"bootMode,omitempty"`
	TPMSupport         string             `json:"tpmSupport,omitempty"`
	IMDSSupport        string             `json:"imdsSupport,omitempty"`
	SriovNetSupport    string             `json:"sriovNetSupport,omitempty"`
	ENASupport         bool               `json:"enaSupport"`
	KernelID           string             `json:"kernelId,omitempty"`
	RamdiskID          string             `json:"ramdiskId,omitempty"`
	ImageLocation      string             `json:"imageLocation,omitempty"`
	State              string             `json:"state"` // pending, available, failed
	CreatedAt          time.Time          `json:"createdAt"`
	SourceInstanceID   string             `json:"sourceInstanceId,omitempty"`
	// Public images can be launched by every account; LaunchPermissions lists the
	// other accounts that can.
	Public            bool     `json:"public"`
	LaunchPermissions []string `json:"launchPermissions,omitempty"`
	// Tags is filled when read (the owner's tags only, as on AWS).
	Tags map[string]string `json:"-"`
}

// ImageBlockDevice is one block device mapping of an image.
type ImageBlockDevice struct {
	DeviceName  string    `json:"deviceName"`
	VirtualName string    `json:"virtualName,omitempty"` // ephemeralN
	NoDevice    bool      `json:"noDevice,omitempty"`
	EBS         *ImageEBS `json:"ebs,omitempty"`
}

// ImageEBS is the EBS volume a block device mapping makes.
type ImageEBS struct {
	SnapshotID          string `json:"snapshotId,omitempty"`
	VolumeSize          int32  `json:"volumeSize"`
	VolumeType          string `json:"volumeType"`
	IOPS                int32  `json:"iops,omitempty"`
	Throughput          int32  `json:"throughput,omitempty"`
	DeleteOnTermination bool   `json:"deleteOnTermination"`
	Encrypted           bool   `json:"encrypted"`
	KMSKeyARN           string `json:"kmsKeyArn,omitempty"`
}

// CloudOwnerID owns the images strato builds itself (`strato image build`); they
// are public and report the owner alias "amazon". It is the account ID AWS's own
// images carry, so code that filters on it finds them.
const CloudOwnerID = "137112412989"

var images = docKind[Image]{
	kind: KindImage,
	id:   func(i *Image) string { return i.ID },
	// Names are unique per owner and Region.
	name: func(i *Image) string { return i.Name },
	tags: func(i *Image) *map[string]string { return &i.Tags },
}

// Quota names for images.
const (
	QuotaImages       = "amis-per-region"
	QuotaPublicImages = "public-amis-per-region"
)

func init() {
	quotaDefs[QuotaImages] = QuotaDef{
		Name: QuotaImages, Description: "AMIs per Region", Default: 50000,
		Code: "ResourceLimitExceeded", Message: "You have reached the limit of %d AMIs in this Region.",
	}
	quotaDefs[QuotaPublicImages] = QuotaDef{
		Name: QuotaPublicImages, Description: "Public AMIs per Region", Default: 5,
		Code: "ResourceLimitExceeded", Message: "You have reached the limit of %d public AMIs in this Region.",
	}
	// A snapshot an image is made of stays while the image does.
	snapshotUsers = append(snapshotUsers, func(tx store.Tx, s Scope, snapshotID string) (bool, error) {
		all, err := images.load(tx, s, nil, nil)
		if err != nil {
			return false, err
		}
		for _, img := range all {
			if img.usesSnapshot(snapshotID) {
				return true, nil
			}
		}
		return false, nil
	})
}

func (img *Image) usesSnapshot(id string) bool {
	for _, b := range img.BlockDevices {
		if b.EBS != nil && b.EBS.SnapshotID == id {
			return true
		}
	}
	return false
}

// encryptedKeys lists the keys the image's snapshots are encrypted with.
func (img *Image) encryptedKeys() []string {
	var out []string
	for _, b := range img.BlockDevices {
		if b.EBS != nil && b.EBS.Encrypted {
			out = append(out, b.EBS.KMSKeyARN)
		}
	}
	return out
}

// The names AWS allows for images: 3 to 128 characters of letters, digits,
// ( ) [ ] space . / - ' @ _.
var imageNamePattern = regexp.MustCompile(`^[a-zA-Z0-9()\[\] ./\-'@_]{3,128}$`)

// Values of image attributes AWS accepts.
var (
	imageArchitectures       = map[string]bool{"x86_64": true, "arm64": true, "i386": true}
	imageVirtualizationTypes = map[string]bool{"hvm": true, "paravirtual": true}
	imageBootModes           = map[string]bool{"legacy-bios": true, "uefi": true, "uefi-preferred": true}
)

// checkImageText applies AWS's rules to an image's name and description.
func checkImageText(name, description string) error {
	if !imageNamePattern.MatchString(name) {
		return errorf("InvalidAMIName.Malformed", "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/', '_', '[', ']', ' ', ''' and '@'")
	}
	if len(description) > 255 {
		return errorf("InvalidParameterValue", "The description must be at most 255 characters long.")
	}
	return nil
}

// checkImageNameFree refuses a name another image of the owner has in the Region.
func checkImageNameFree(tx store.Tx, s Scope, name string) error {
	other, err := images.getByName(tx, s, name)
	var nf *NotFoundError
	switch {
	case err == nil:
		return errorf("InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", name, other.ID)
	case errors.As(err, &nf):
		return nil
	}
	return err
}

// ImageRequest is what RegisterImage asks for.
type ImageRequest struct {
	Name, Description                 string
	Architecture, VirtualizationType  string
	RootDeviceName                    string
	BlockDevices                      []ImageBlockDevice
	BootMode, TPMSupport, IMDSSupport string
	SriovNetSupport                   string
	ENASupport                        bool
	KernelID, RamdiskID               string
	Tags                              []Tag
}

// validate checks what needs no store.
func (r *ImageRequest) validate() error {
	if err := checkImageText(r.Name, r.Description); err != nil {
		return err
	}
	if r.Architecture == "" {
		r.Architecture = "x86_64"
	}
	if !imageArchitectures[r.Architecture] {
		return errorf("InvalidParameterValue", "Value (%s) for parameter architecture is invalid. Valid values are: i386, x86_64, arm64.", r.Architecture)
	}
	if r.VirtualizationType == "" {
		// AWS's RegisterImage still defaults to paravirtual.
		r.VirtualizationType = "paravirtual"
	}
	if !imageVirtualizationTypes[r.VirtualizationType] {
		return errorf("InvalidParameterValue", "Value (%s) for parameter virtualizationType is invalid. Valid values are: hvm, paravirtual.", r.VirtualizationType)
	}
	if r.BootMode != "" && !imageBootModes[r.BootMode] {
		return errorf("InvalidParameterValue", "Value (%s) for parameter bootMode is invalid. Valid values are: legacy-bios, uefi, uefi-preferred.", r.BootMode)
	}
	if r.TPMSupport != "" && r.TPMSupport != "v2.0" {
		return errorf("InvalidParameterValue", "Value (%s) for parameter tpmSupport is invalid. Valid values are: v2.0.", r.TPMSupport)
	}
	if r.IMDSSupport != "" && r.IMDSSupport != "v2.0" {
		return errorf("InvalidParameterValue", "Value (%s) for parameter imdsSupport is invalid. Valid values are: v2.0.", r.IMDSSupport)
	}
	if r.RootDeviceName == "" {
		return errorf("MissingParameter", "The request must contain the parameter rootDeviceName")
	}
	if len(r.BlockDevices) == 0 {
		return errorf("InvalidBlockDeviceMapping", "An EBS-backed image needs a block device mapping for its root device %s.", r.RootDeviceName)
	}
	if err := ValidateTags(r.Tags); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, b := range r.BlockDevices {
		if !validDeviceName(b.DeviceName) {
			return errorf("InvalidBlockDeviceMapping", "Invalid device name %s", b.DeviceName)
		}
		if seen[b.DeviceName] {
			return errorf("InvalidBlockDeviceMapping", "The device name %s is used more than once.", b.DeviceName)
		}
		seen[b.DeviceName] = true
		kinds := 0
		for _, set := range []bool{b.EBS != nil, b.VirtualName != "", b.NoDevice} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			return errorf("InvalidBlockDeviceMapping", "The block device mapping for %s must have exactly one of Ebs, VirtualName or NoDevice.", b.DeviceName)
		}
		if b.VirtualName != "" && !validEphemeralName(b.VirtualName) {
			return errorf("InvalidBlockDeviceMapping", "Invalid virtual name %s: use ephemeral0 to ephemeral23.", b.VirtualName)
		}
	}
	root := r.rootDevice()
	if root == nil || root.EBS == nil || root.EBS.SnapshotID == "" {
		return errorf("InvalidBlockDeviceMapping", "The root device %s of an EBS-backed image must map a snapshot.", r.RootDeviceName)
	}
	return nil
}

func (r *ImageRequest) rootDevice() *ImageBlockDevice {
	for i := range r.BlockDevices {
		if r.BlockDevices[i].DeviceName == r.RootDeviceName {
			return &r.BlockDevices[i]
		}
	}
	return nil
}

// validDeviceName accepts the Linux device names EC2 takes in block device
// mappings: /dev/sd[a-z], /dev/xvd[a-z] (with an optional second letter or
// partition digit), /dev/hd[a-z].
var deviceNamePattern = regexp.MustCompile(`^/dev/(sd|xvd|hd)[a-z]([a-z]|[1-9][0-9]?)?$|^(sd|xvd)[a-z][a-z]?$`)

func validDeviceName(n string) bool { return deviceNamePattern.MatchString(n) }

func validEphemeralName(n string) bool {
	num, ok := strings.CutPrefix(n, "ephemeral")
	i, err := strconv.Atoi(num)
	return ok && err == nil && i >= 0 && i <= 23 && strconv.Itoa(i) == num
}

// RegisterImage makes an EBS-backed image of the caller's completed snapshots.
func (c *Cloud) RegisterImage(ctx context.Context, s Scope, req ImageRequest) (Image, error) {
	if err := req.validate(); err != nil {
		return Image{}, err
	}
	img := Image{
		ID: NewID("ami"), OwnerID: s.Account, Name: req.Name, Description: req.Description,
		Architecture: req.Architecture, VirtualizationType: req.VirtualizationType,
		RootDeviceName: req.RootDeviceName, RootDeviceType: "ebs", BlockDevices: req.BlockDevices,
		BootMode: req.BootMode, TPMSupport: req.TPMSupport, IMDSSupport: req.IMDSSupport,
		SriovNetSupport: req.SriovNetSupport, ENASupport: req.ENASupport,
		KernelID: req.KernelID, RamdiskID: req.RamdiskID, State: "available", CreatedAt: c.clock.Now(),
	}
	err := c.update(ctx, func(tx store.Tx) error {
		if err := checkCount(tx, s, KindImage, QuotaImages); err != nil {
			return err
		}
		if err := checkImageNameFree(tx, s, req.Name); err != nil {
			return err
		}
		for _, id := range []string{req.KernelID, req.RamdiskID} {
			if id != "" {
				if _, err := visibleImage(tx, s, id); err != nil {
					return err
				}
			}
		}
		for i := range img.BlockDevices {
			if err := fillImageVolume(tx, s, img.BlockDevices[i].EBS); err != nil {
				return err
			}
		}
		return images.insert(tx, s, &img, img.CreatedAt, req.Tags)
	})
	img.Tags = tagMap(req.Tags)
	return img, err
}

// fillImageVolume checks the snapshot of a mapping (owned by the caller and
// completed) and fills in the defaults AWS reports: the snapshot's size, gp2,
// delete on termination, the snapshot's encryption.
func fillImageVolume(tx store.Tx, s Scope, e *ImageEBS) error {
	if e == nil {
		return nil
	}
	if e.VolumeType == "" {
		e.VolumeType = "gp2"
	}
	if e.SnapshotID == "" {
		if e.VolumeSize <= 0 {
			return errorf("InvalidBlockDeviceMapping", "A block device mapping without a snapshot needs a volume size.")
		}
		return nil
	}
	snap, err := snapshots.get(tx, s, e.SnapshotID)
	if err != nil {
		return err
	}
	if snap.State != "completed" {
		return errorf("IncorrectState", "Snapshot %s is not completed (it is %s).", snap.ID, snap.State)
	}
	if e.VolumeSize == 0 {
		e.VolumeSize = snap.VolumeSize
	}
	if e.VolumeSize < snap.VolumeSize {
		return errorf("InvalidBlockDeviceMapping", "Volume of size %dGB is smaller than snapshot '%s', expect size >= %dGB", e.VolumeSize, snap.ID, snap.VolumeSize)
	}
	e.Encrypted, e.KMSKeyARN = snap.Encrypted, snap.KMSKeyARN
	return nil
}

// DeregisterImage removes an image; its snapshots stay.
func (c *Cloud) DeregisterImage(ctx context.Context, s Scope, id string) error {
	return c.update(ctx, func(tx store.Tx) error {
		img, err := privateImage(tx, s, id)
		if err != nil {
			return err
		}
		return images.remove(tx, s, img.ID)
	})
}
