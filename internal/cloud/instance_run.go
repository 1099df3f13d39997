package cloud

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"strato/internal/catalog"
	"strato/internal/store"
)

// MaxUserData is the largest user data AWS accepts, before base64 encoding.
const MaxUserData = 16 * 1024

var errNoCompute = errors.New("the control plane has no instance driver (UseCompute was not called)")

// RunRequest is what RunInstances asks for.
type RunRequest struct {
	ImageID, InstanceType string
	MinCount, MaxCount    int32
	KeyName               string
	// SubnetID, the groups and PrivateIP describe the primary interface when
	// Interfaces is empty; with Interfaces they must be empty (AWS's rule).
	SubnetID              string
	AvailabilityZone      string
	SecurityGroupIDs      []string
	SecurityGroupNames    []string
	PrivateIP             string
	UserData              string // base64
	DisableAPITermination bool
	DisableAPIStop        bool
	// InstanceInitiatedShutdownBehavior: stop or terminate; "" is stop, or
	// terminate for an instance-store-backed image.
	InstanceInitiatedShutdownBehavior       string
	EbsOptimized                            bool
	Metadata                                MetadataOptions
	InstanceTags, VolumeTags, InterfaceTags []Tag
	// Interfaces are the NetworkInterfaces asked for (instance_run_network.go).
	Interfaces []LaunchInterface
	// BlockDevices change and add to the image's block device mappings
	// (instance_run_storage.go).
	BlockDevices []LaunchBlockDevice
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
	if err := r.validateInterfaces(); err != nil {
		return err
	}
	if err := validateBlockDevices(r.BlockDevices); err != nil {
		return err
	}
	switch r.InstanceInitiatedShutdownBehavior {
	case "", "stop", "terminate":
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
	if req.needsDefaultSubnet() {
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
	var vpcIDs []string
	for _, in := range r.Instances {
		c.launchInstance(s, in.ID)
		if !slices.Contains(vpcIDs, in.VpcID) {
			vpcIDs = append(vpcIDs, in.VpcID)
		}
	}
	// New interfaces, in groups, maybe with public addresses.
	c.networkAndPeersChanged(ctx, s, vpcIDs...)
	return r, nil
}

// launchPlan is what every instance of one launch is made of.
// zone is the zone the launch is in: its primary interface's subnet's.
func (p *launchPlan) zone() string {
	if len(p.nics) == 0 {
		return ""
	}
	return p.nics[0].subnet.AvailabilityZone
}

type launchPlan struct {
	img Image
	it  catalog.InstanceType
	// shutdownBehavior is the request's, or the image's default.
	shutdownBehavior string
	nics             []interfacePlan
	storage          storagePlan
}

func (c *Cloud) runInstances(tx store.Tx, s Scope, token string, req RunRequest) (Reservation, error) {
	plan, err := planLaunch(tx, s, &req)
	if err != nil {
		return Reservation{}, err
	}
	now := c.clock.Now()
	live, err := purgeGoneInstances(tx, s, now)
	if err != nil {
		return Reservation{}, err
	}
	var load hostLoad
	if !c.capacity.unlimited() {
		if load, err = loadOnHost(tx); err != nil {
			return Reservation{}, err
		}
	}
	r := Reservation{ID: NewID("r"), OwnerID: s.Account}
	var launched []Instance
	for i := range req.MaxCount {
		// Terminated instances do not count against the quota.
		err := checkQuota(tx, s.Account, QuotaInstances, live+int(i))
		if err == nil && !c.capacity.fits(load, plan.it) {
			err = insufficientCapacity(plan.it.InstanceType, plan.zone())
		}
		if err != nil {
			if i >= req.MinCount {
				break
			}
			return Reservation{}, err
		}
		load.add(plan.it)
		in, err := c.runOne(tx, s, token, req, &plan, r.ID, i)
		if err != nil {
			// Past MinCount a lack of room ends the launch; before, it fails it all.
			if i >= req.MinCount && isCapacityError(err) {
				break
			}
			return Reservation{}, err
		}
		launched = append(launched, in)
	}
	ix, err := loadAttachments(tx, s)
	for _, in := range launched {
		r.Instances = append(r.Instances, ix.view(in))
	}
	return r, err
}

// planLaunch checks what a launch asks for against the image, the instance
// type and the network, once for all its instances.
func planLaunch(tx store.Tx, s Scope, req *RunRequest) (launchPlan, error) {
	img, err := visibleImage(tx, s, req.ImageID)
	if err != nil {
		return launchPlan{}, err
	}
	if img.State != "available" {
		return launchPlan{}, errorf("InvalidAMIID.Unavailable", "Image %s is not available (state %s).", img.ID, img.State)
	}
	it, ok := catalog.LookupInstanceType(req.InstanceType)
	if !ok {
		return launchPlan{}, errorf("InvalidParameterValue", "Invalid value '%s' for InstanceType.", req.InstanceType)
	}
	if !slices.Contains(it.ProcessorInfo.SupportedArchitectures, img.Architecture) {
		return launchPlan{}, errorf("InvalidParameterValue", "The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.", strings.Join(it.ProcessorInfo.SupportedArchitectures, ", "), img.Architecture)
	}
	plan := launchPlan{img: img, it: it, shutdownBehavior: req.InstanceInitiatedShutdownBehavior}
	if plan.shutdownBehavior == "" {
		// An instance-store-backed instance cannot stop: AWS terminates it.
		plan.shutdownBehavior = "stop"
		if img.RootDeviceType == RootDeviceInstanceStore {
			plan.shutdownBehavior = "terminate"
		}
	}
	if req.KeyName != "" {
		if _, err := keyPairs.getByName(tx, s, req.KeyName); err != nil {
			return launchPlan{}, errorf("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", req.KeyName)
		}
	}
	if plan.nics, err = planInterfaces(tx, s, req, it); err != nil {
		return launchPlan{}, err
	}
	if plan.storage, err = planStorage(tx, s, &img, it, req.BlockDevices); err != nil {
		return launchPlan{}, err
	}
	return plan, nil
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
	case "InstanceLimitExceeded", "InsufficientFreeAddressesInSubnet", "NetworkInterfaceLimitExceeded", "VolumeLimitExceeded",
		"InsufficientInstanceCapacity", "InsufficientAddressCapacity":
		return true
	}
	return false
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

// runOne records one instance of a launch with its interfaces and volumes.
func (c *Cloud) runOne(tx store.Tx, s Scope, token string, req RunRequest, plan *launchPlan, reservation string, index int32) (Instance, error) {
	now := c.clock.Now()
	img := &plan.img
	in := Instance{
		ID: NewID("i"), ReservationID: reservation, OwnerID: s.Account, Region: s.Region, LaunchIndex: index,
		ImageID: img.ID, InstanceType: plan.it.InstanceType, Architecture: img.Architecture, KeyName: req.KeyName,
		State: InstancePending, RootDeviceName: img.RootDeviceName, RootDeviceType: img.RootDeviceType,
		VirtualizationType: img.VirtualizationType, BootMode: img.BootMode, ENASupport: img.ENASupport,
		EbsOptimized: req.EbsOptimized, UserData: req.UserData, ClientToken: token,
		DisableAPITermination: req.DisableAPITermination, DisableAPIStop: req.DisableAPIStop,
		InstanceInitiatedShutdownBehavior: plan.shutdownBehavior, Metadata: req.Metadata, LaunchTime: now,
	}
	if in.VirtualizationType == "" {
		in.VirtualizationType = "hvm"
	}
	// Past MinCount a failure ends the launch but keeps the transaction: what
	// this instance made so far is undone.
	var undo revert
	err := c.launchInterfaces(tx, s, now, req.InterfaceTags, plan.nics, &in, &undo)
	if err == nil {
		err = c.launchVolumes(tx, s, now, req.VolumeTags, plan, &in, &undo)
	}
	if err == nil {
		err = instances.insert(tx, s, &in, now, req.InstanceTags)
	}
	if err != nil {
		return Instance{}, errors.Join(err, undo.run(tx))
	}
	in.Tags = tagMap(req.InstanceTags)
	return in, nil
}

// revert is the steps that undo a multi-step change, run last first.
type revert []func(tx store.Tx) error

func (r *revert) add(step func(tx store.Tx) error) { *r = append(*r, step) }

func (r revert) run(tx store.Tx) error {
	for i := len(r) - 1; i >= 0; i-- {
		if err := r[i](tx); err != nil {
			return fmt.Errorf("undoing a partial launch: %w", err)
		}
	}
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
