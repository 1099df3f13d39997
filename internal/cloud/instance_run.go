package cloud

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"strato/internal/catalog"
	"strato/internal/store"
)

// MaxUserData is the largest user data AWS accepts, before base64 encoding.
const MaxUserData = 16 * 1024

var errNoCompute = errors.New("the control plane has no instance driver (UseCompute was not called)")

// RunRequest is what RunInstances asks for (the parameters strato supports so far).
type RunRequest struct {
	ImageID, InstanceType string
	MinCount, MaxCount    int32
	KeyName               string
	SubnetID              string
	AvailabilityZone      string
	SecurityGroupIDs      []string
	SecurityGroupNames    []string
	PrivateIP             string
	UserData              string // base64
	DisableAPITermination bool
	DisableAPIStop        bool
	// InstanceInitiatedShutdownBehavior: stop (default) or terminate.
	InstanceInitiatedShutdownBehavior       string
	EbsOptimized                            bool
	Metadata                                MetadataOptions
	InstanceTags, VolumeTags, InterfaceTags []Tag
}

// Reservation is the instances one RunInstances call made.
type Reservation struct {
	ID      string `json:"id"`
	OwnerID string `json:"ownerId"`
	// Instances are shown with their root volume and interface, as RunInstances answers.
	Instances []InstanceView `json:"instances"`
}

func (r *RunRequest) validate() error {
	switch {
	case r.ImageID == "":
		return errorf("MissingParameter", "The request must contain the parameter ImageId")
	case r.MinCount < 1:
		return errorf("InvalidParameterValue", "Value (%d) for parameter minCount is invalid. Expected a positive integer.", r.MinCount)
	case r.MaxCount < 1:
		return errorf("InvalidParameterValue", "Value (%d) for parameter maxCount is invalid. Expected a positive integer.", r.MaxCount)
	case r.MinCount > r.MaxCount:
		return errorf("InvalidParameterValue", "Value (%d) for parameter minCount is invalid. minCount must be less than or equal to maxCount.", r.MinCount)
	case r.PrivateIP != "" && r.MaxCount > 1:
		return errorf("InvalidParameterCombination", "Cannot specify a private IP address when launching more than one instance.")
	}
	if r.InstanceType == "" {
		r.InstanceType = "m1.small"
	}
	switch r.InstanceInitiatedShutdownBehavior {
	case "":
		r.InstanceInitiatedShutdownBehavior = "stop"
	case "stop", "terminate":
	default:
		return errorf("InvalidParameterValue", "Value (%s) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values: stop, terminate.", r.InstanceInitiatedShutdownBehavior)
	}
	if r.UserData != "" {
		raw, err := base64.StdEncoding.DecodeString(r.UserData)
		if err != nil {
			return errorf("InvalidParameterValue", "Invalid BASE64 encoding of user data.")
		}
		if len(raw) > MaxUserData {
			return errorf("InvalidParameterValue", "User data is limited to %d bytes", MaxUserData)
		}
	}
	if err := r.Metadata.fill(); err != nil {
		return err
	}
	for _, tags := range [][]Tag{r.InstanceTags, r.VolumeTags, r.InterfaceTags} {
		if err := ValidateTags(tags); err != nil {
			return err
		}
	}
	return nil
}

// fill gives unset metadata options AWS's defaults and checks the rest.
func (m *MetadataOptions) fill() error {
	if m.HttpTokens == "" {
		m.HttpTokens = "optional"
	}
	if m.HttpEndpoint == "" {
		m.HttpEndpoint = "enabled"
	}
	if m.HttpProtocolIPv6 == "" {
		m.HttpProtocolIPv6 = "disabled"
	}
	if m.InstanceMetadataTags == "" {
		m.InstanceMetadataTags = "disabled"
	}
	if m.HttpPutResponseHopLimit == 0 {
		m.HttpPutResponseHopLimit = 1
	}
	switch {
	case m.HttpTokens != "optional" && m.HttpTokens != "required":
		return errorf("InvalidParameterValue", "The HttpTokens value '%s' is not valid. Valid values: optional, required.", m.HttpTokens)
	case m.HttpEndpoint != "enabled" && m.HttpEndpoint != "disabled":
		return errorf("InvalidParameterValue", "The HttpEndpoint value '%s' is not valid. Valid values: enabled, disabled.", m.HttpEndpoint)
	case m.InstanceMetadataTags != "enabled" && m.InstanceMetadataTags != "disabled":
		return errorf("InvalidParameterValue", "The InstanceMetadataTags value '%s' is not valid. Valid values: enabled, disabled.", m.InstanceMetadataTags)
	case m.HttpPutResponseHopLimit < 1 || m.HttpPutResponseHopLimit > 64:
		return errorf("InvalidParameterValue", "The HttpPutResponseHopLimit value %d is not valid. It must be between 1 and 64.", m.HttpPutResponseHopLimit)
	}
	return nil
}

// RunInstances launches between MinCount and MaxCount instances of an image
// (all of MinCount or none): each pending, with a primary interface and a root
// volume restored from the image's root snapshot, then running once the driver
// has made and started it (in the background).
func (c *Cloud) RunInstances(ctx context.Context, s Scope, token string, req RunRequest) (Reservation, error) {
	if c.compute == nil {
		return Reservation{}, errNoCompute
	}
	if c.blocks == nil {
		return Reservation{}, errNoBlocks
	}
	if err := req.validate(); err != nil {
		return Reservation{}, err
	}
	if req.SubnetID == "" {
		if err := c.EnsureDefaultVPC(ctx, s); err != nil {
			return Reservation{}, err
		}
	}
	r, err := Idempotent(ctx, c, s, "RunInstances", token, req, func(tx store.Tx) (Reservation, error) {
		return c.runInstances(tx, s, token, req)
	})
	if err != nil {
		return Reservation{}, err
	}
	for _, in := range r.Instances {
		c.launchInstance(s, in.ID)
	}
	return r, nil
}

func (c *Cloud) runInstances(tx store.Tx, s Scope, token string, req RunRequest) (Reservation, error) {
	img, err := visibleImage(tx, s, req.ImageID)
	if err != nil {
		return Reservation{}, err
	}
	if img.State != "available" {
		return Reservation{}, errorf("InvalidAMIID.Unavailable", "Image %s is not available (state %s).", img.ID, img.State)
	}
	it, ok := catalog.LookupInstanceType(req.InstanceType)
	if !ok {
		return Reservation{}, errorf("InvalidParameterValue", "Invalid value '%s' for InstanceType.", req.InstanceType)
	}
	if !slices.Contains(it.ProcessorInfo.SupportedArchitectures, img.Architecture) {
		return Reservation{}, errorf("InvalidParameterValue", "The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.", strings.Join(it.ProcessorInfo.SupportedArchitectures, ", "), img.Architecture)
	}
	if img.RootDeviceType != "ebs" {
		return Reservation{}, errorf("UnsupportedOperation", "strato does not launch instance-store-backed images yet.")
	}
	root := imageRoot(&img)
	if root == nil || root.EBS == nil || root.EBS.SnapshotID == "" {
		return Reservation{}, errorf("InvalidAMIID.Malformed", "Image %s has no EBS root device mapping.", img.ID)
	}
	if req.KeyName != "" {
		if _, err := keyPairs.getByName(tx, s, req.KeyName); err != nil {
			return Reservation{}, errorf("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", req.KeyName)
		}
	}
	sn, err := launchSubnet(tx, s, req.SubnetID, req.AvailabilityZone)
	if err != nil {
		return Reservation{}, err
	}
	groups := slices.Clone(req.SecurityGroupIDs)
	for _, name := range req.SecurityGroupNames {
		g, err := resolveGroup(tx, s, GroupSelector{Name: name})
		if err != nil {
			return Reservation{}, err
		}
		groups = append(groups, g.ID)
	}
	now := c.clock.Now()
	live, err := purgeGoneInstances(tx, s, now)
	if err != nil {
		return Reservation{}, err
	}
	r := Reservation{ID: NewID("r"), OwnerID: s.Account}
	for i := range req.MaxCount {
		// Terminated instances do not count against the quota.
		if err := checkQuota(tx, s.Account, QuotaInstances, live+int(i)); err != nil {
			if i >= req.MinCount {
				break
			}
			return Reservation{}, err
		}
		in, err := c.runOne(tx, s, token, req, &img, root, it, sn, groups, r.ID, i)
		if err != nil {
			// Past MinCount a lack of room ends the launch; before, it fails it all.
			if i >= req.MinCount && isCapacityError(err) {
				break
			}
			return Reservation{}, err
		}
		in.LaunchTime = now
		v, err := viewInstance(tx, s, in)
		if err != nil {
			return Reservation{}, err
		}
		r.Instances = append(r.Instances, v)
	}
	return r, nil
}

// purgeGoneInstances deletes the scope's instances terminated more than
// TerminatedVisibility ago and counts the others not terminated.
func purgeGoneInstances(tx store.Tx, s Scope, now time.Time) (live int, err error) {
	all, err := instances.load(tx, s, nil, nil)
	if err != nil {
		return 0, err
	}
	for _, in := range all {
		switch {
		case in.goneAt(now):
			if err := instances.remove(tx, s, in.ID); err != nil {
				return 0, err
			}
		case in.State != InstanceTerminated:
			live++
		}
	}
	return live, nil
}

func isCapacityError(err error) bool {
	var e interface{ Code() string }
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case "InstanceLimitExceeded", "InsufficientFreeAddressesInSubnet", "NetworkInterfaceLimitExceeded", "VolumeLimitExceeded", "InsufficientInstanceCapacity":
		return true
	}
	return false
}

// imageRoot is the image's mapping for its root device.
func imageRoot(img *Image) *ImageBlockDevice {
	for i := range img.BlockDevices {
		if img.BlockDevices[i].DeviceName == img.RootDeviceName {
			return &img.BlockDevices[i]
		}
	}
	return nil
}

// launchSubnet is the subnet named, or the default VPC's default subnet of the
// zone named, or of the first zone that has one.
func launchSubnet(tx store.Tx, s Scope, subnetID, zone string) (Subnet, error) {
	if subnetID != "" {
		sn, err := subnets.get(tx, s, subnetID)
		if err == nil && zone != "" && !strings.EqualFold(zone, sn.AvailabilityZone) {
			return Subnet{}, errorf("InvalidParameterValue", "Value (%s) for parameter availabilityZone is invalid. Subnet %s is in availability zone %s", zone, subnetID, sn.AvailabilityZone)
		}
		return sn, err
	}
	v, err := defaultVPCOf(tx, s)
	if err != nil {
		return Subnet{}, err
	}
	if v == nil {
		return Subnet{}, errorf("VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.")
	}
	all, err := subnets.children(tx, s, v.ID)
	if err != nil {
		return Subnet{}, err
	}
	slices.SortFunc(all, func(a, b Subnet) int { return strings.Compare(a.AvailabilityZone, b.AvailabilityZone) })
	for _, sn := range all {
		if sn.DefaultForAZ && (zone == "" || strings.EqualFold(zone, sn.AvailabilityZone)) {
			return sn, nil
		}
	}
	if zone != "" {
		if z, ok := catalog.LookupZone(zone); !ok || z.RegionName != s.Region {
			return Subnet{}, errorf("InvalidParameterValue", "Invalid availability zone: [%s]", zone)
		}
	}
	return Subnet{}, errorf("MissingInput", "No subnets found for the default VPC '%s'. Please specify a subnet.", v.ID)
}

// runOne records one instance of a launch with its interface and root volume.
func (c *Cloud) runOne(tx store.Tx, s Scope, token string, req RunRequest, img *Image, root *ImageBlockDevice, it catalog.InstanceType, sn Subnet, groups []string, reservation string, index int32) (Instance, error) {
	now := c.clock.Now()
	in := Instance{
		ID: NewID("i"), ReservationID: reservation, OwnerID: s.Account, Region: s.Region, LaunchIndex: index,
		ImageID: img.ID, InstanceType: it.InstanceType, Architecture: img.Architecture, KeyName: req.KeyName,
		AvailabilityZone: sn.AvailabilityZone, SubnetID: sn.ID, VpcID: sn.VpcID, State: InstancePending,
		RootDeviceName: img.RootDeviceName, RootDeviceType: img.RootDeviceType, VirtualizationType: img.VirtualizationType,
		BootMode: img.BootMode, ENASupport: img.ENASupport, EbsOptimized: req.EbsOptimized, UserData: req.UserData,
		ClientToken: token, DisableAPITermination: req.DisableAPITermination, DisableAPIStop: req.DisableAPIStop,
		InstanceInitiatedShutdownBehavior: req.InstanceInitiatedShutdownBehavior, Metadata: req.Metadata, LaunchTime: now,
	}
	if in.VirtualizationType == "" {
		in.VirtualizationType = "hvm"
	}
	eni, err := createInterface(tx, s, now, InterfaceRequest{SubnetID: sn.ID, PrimaryIP: req.PrivateIP, Groups: groups, Tags: req.InterfaceTags})
	if err != nil {
		return Instance{}, err
	}
	if _, err := attachInterface(tx, s, now, eni.ID, in.ID, 0, true); err != nil {
		return Instance{}, err
	}
	in.InterfaceID, in.PrivateIP, in.Groups = eni.ID, eni.PrimaryIP(), eni.Groups
	e := root.EBS
	vol, err := c.createVolume(tx, s, VolumeRequest{
		AvailabilityZone: sn.AvailabilityZone, Size: e.VolumeSize, SnapshotID: e.SnapshotID, VolumeType: orDefault(e.VolumeType, DefaultVolumeType),
		IOPS: e.IOPS, Throughput: e.Throughput, Encrypted: e.Encrypted, Tags: req.VolumeTags,
		imageOwner: &Scope{Account: img.OwnerID, Region: s.Region},
	})
	if err != nil {
		return Instance{}, err
	}
	// The root volume is attached from the start (AWS shows it attaching while
	// the instance is pending); the launch marks it attached.
	vol.Tags = nil
	vol.Attachments = []VolumeAttachment{{InstanceID: in.ID, Device: img.RootDeviceName, State: AttachAttaching, AttachTime: now, DeleteOnTermination: e.DeleteOnTermination}}
	if err := volumes.update(tx, s, &vol); err != nil {
		return Instance{}, err
	}
	in.RootVolumeID = vol.ID
	if err := instances.insert(tx, s, &in, now, req.InstanceTags); err != nil {
		return Instance{}, err
	}
	in.Tags = tagMap(req.InstanceTags)
	return in, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
