package cloud

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"

	"strato/internal/catalog"
	"strato/internal/store"
)

// Instance attributes, as AWS names them (InstanceAttributeName);
// productCodes is AttrProductCodes, shared with snapshots.
const (
	AttrInstanceType          = "instanceType"
	AttrKernel                = "kernel"
	AttrRamdisk               = "ramdisk"
	AttrUserData              = "userData"
	AttrDisableAPITermination = "disableApiTermination"
	AttrShutdownBehavior      = "instanceInitiatedShutdownBehavior"
	AttrRootDeviceName        = "rootDeviceName"
	AttrBlockDeviceMapping    = "blockDeviceMapping"
	AttrSourceDestCheck       = "sourceDestCheck"
	AttrGroupSet              = "groupSet"
	AttrEbsOptimized          = "ebsOptimized"
	AttrSriovNetSupport       = "sriovNetSupport"
	AttrENASupport            = "enaSupport"
	AttrEnclaveOptions        = "enclaveOptions"
	AttrDisableAPIStop        = "disableApiStop"
)

// instanceAttributes lists every attribute name DescribeInstanceAttribute knows.
var instanceAttributes = []string{
	AttrInstanceType, AttrKernel, AttrRamdisk, AttrUserData, AttrDisableAPITermination, AttrShutdownBehavior,
	AttrRootDeviceName, AttrBlockDeviceMapping, AttrProductCodes, AttrSourceDestCheck, AttrGroupSet,
	AttrEbsOptimized, AttrSriovNetSupport, AttrENASupport, AttrEnclaveOptions, AttrDisableAPIStop,
}

// whileStopped lists the attributes AWS lets change only on a stopped instance.
var whileStopped = []string{AttrInstanceType, AttrUserData, AttrKernel, AttrRamdisk, AttrEbsOptimized, AttrENASupport, AttrSriovNetSupport}

// boolAttributes are the attributes whose value is true or false.
var boolAttributes = []string{AttrDisableAPITermination, AttrDisableAPIStop, AttrSourceDestCheck, AttrEbsOptimized, AttrENASupport, AttrEnclaveOptions}

func unknownAttribute(name string) error {
	return errorf("InvalidParameterValue", "Value (%s) for parameter attribute is invalid. Unknown attribute.", name)
}

// DescribeInstanceAttribute reads an instance for one of its attributes (the
// caller picks the attribute out of the view): an unknown name is refused.
func (c *Cloud) DescribeInstanceAttribute(ctx context.Context, s Scope, id, attribute string) (InstanceView, error) {
	if attribute == "" {
		return InstanceView{}, errorf("MissingParameter", "The request must contain the parameter attribute")
	}
	if !slices.Contains(instanceAttributes, attribute) {
		return InstanceView{}, unknownAttribute(attribute)
	}
	var v InstanceView
	err := c.view(ctx, func(tx store.Tx) error {
		in, err := liveInstance(tx, s, id)
		if err != nil {
			return err
		}
		v, err = viewInstance(tx, s, in)
		return err
	})
	return v, err
}

// InstanceAttributeChange is the one attribute ModifyInstanceAttribute
// changes, with its value in the field its kind uses.
type InstanceAttributeChange struct {
	Attribute string
	// Value is the new value of instanceType, kernel, ramdisk, userData
	// (base64), instanceInitiatedShutdownBehavior and sriovNetSupport.
	Value string
	// Bool is the new value of disableApiTermination, disableApiStop,
	// sourceDestCheck, ebsOptimized, enaSupport and enclaveOptions.
	Bool *bool
	// Groups replace the primary interface's security groups (groupSet).
	Groups []string
	// Devices change the DeleteOnTermination flag of attached volumes
	// (blockDeviceMapping).
	Devices []DeviceChange
}

// DeviceChange is one mapping of ModifyInstanceAttribute's blockDeviceMapping.
type DeviceChange struct {
	DeviceName string
	// VolumeID, when given, must be the volume attached at DeviceName.
	VolumeID string
	// DeleteOnTermination defaults to true when not given, as AWS documents.
	DeleteOnTermination *bool
	// Other is set when the mapping asks for something else than an attached
	// EBS volume's flag (NoDevice, VirtualName), which cannot change after launch.
	Other bool
}

// ModifyInstanceAttribute changes one attribute of an instance, with AWS's
// rules: some only while it is stopped, none once it is shutting down.
func (c *Cloud) ModifyInstanceAttribute(ctx context.Context, s Scope, id string, ch InstanceAttributeChange) error {
	if !slices.Contains(instanceAttributes, ch.Attribute) {
		return unknownAttribute(ch.Attribute)
	}
	if slices.Contains(boolAttributes, ch.Attribute) && ch.Bool == nil {
		return errorf("MissingParameter", "The request must contain the parameter value")
	}
	var vpcID string // set when the instance's interfaces change
	err := c.update(ctx, func(tx store.Tx) error {
		in, err := modifiableInstance(tx, s, id, ch.Attribute)
		if err != nil {
			return err
		}
		if ch.Attribute == AttrSourceDestCheck || ch.Attribute == AttrGroupSet {
			vpcID = in.VpcID
		}
		switch ch.Attribute {
		case AttrSourceDestCheck:
			return changePrimaryInterface(tx, s, &in, func(n *NetworkInterface) error {
				n.SourceDestCheck = *ch.Bool
				return nil
			})
		case AttrGroupSet:
			return changeInstanceGroups(tx, s, &in, ch.Groups)
		case AttrBlockDeviceMapping:
			return changeDeleteOnTermination(tx, s, &in, ch.Devices)
		}
		if err := setInstanceAttribute(&in, ch); err != nil {
			return err
		}
		return instances.update(tx, s, &in)
	})
	if err == nil && vpcID != "" {
		c.networkAndPeersChanged(ctx, s, vpcID)
	}
	return err
}

// modifiableInstance reads an instance whose attribute may change now.
func modifiableInstance(tx store.Tx, s Scope, id, attribute string) (Instance, error) {
	in, err := liveInstance(tx, s, id)
	if err != nil {
		return in, err
	}
	switch {
	case in.State == InstanceTerminated || in.State == InstanceShuttingDown:
		return in, errorf("IncorrectInstanceState", "The instance '%s' is not in a valid state for this operation.", id)
	case slices.Contains(whileStopped, attribute) && in.State != InstanceStopped:
		return in, errorf("IncorrectInstanceState", "The instance '%s' is not in the 'stopped' state.", id)
	}
	return in, nil
}

// setInstanceAttribute changes an attribute kept in the instance's document.
func setInstanceAttribute(in *Instance, ch InstanceAttributeChange) error {
	switch ch.Attribute {
	case AttrInstanceType:
		it, ok := catalog.LookupInstanceType(ch.Value)
		if !ok {
			return errorf("InvalidInstanceAttributeValue", "Value (%s) for parameter instanceType is invalid. Invalid instance type", ch.Value)
		}
		if !slices.Contains(it.ProcessorInfo.SupportedArchitectures, in.Architecture) {
			return errorf("InvalidInstanceAttributeValue", "The instance type '%s' does not support the architecture '%s' of instance '%s' (it supports %s).", ch.Value, in.Architecture, in.ID, strings.Join(it.ProcessorInfo.SupportedArchitectures, ", "))
		}
		if in.EbsOptimized && it.EbsInfo.EbsOptimizedSupport == catalog.Unsupported {
			in.EbsOptimized = false
		}
		in.InstanceType = it.InstanceType
	case AttrUserData:
		raw, err := base64.StdEncoding.DecodeString(ch.Value)
		if err != nil {
			return errorf("InvalidParameterValue", "Invalid BASE64 encoding of user data.")
		}
		if len(raw) > MaxUserData {
			return errorf("InvalidParameterValue", "User data is limited to %d bytes", MaxUserData)
		}
		in.UserData = ch.Value
	case AttrKernel, AttrRamdisk:
		return noSuchKernel(ch.Attribute, ch.Value)
	case AttrShutdownBehavior:
		if ch.Value != "stop" && ch.Value != "terminate" {
			return errorf("InvalidParameterValue", "Value (%s) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values: stop, terminate.", ch.Value)
		}
		in.InstanceInitiatedShutdownBehavior = ch.Value
	case AttrSriovNetSupport:
		if ch.Value != "simple" {
			return errorf("InvalidParameterValue", "Value (%s) for parameter sriovNetSupport is invalid. Valid values: simple.", ch.Value)
		}
		in.SriovNetSupport = ch.Value
	case AttrDisableAPITermination, AttrDisableAPIStop, AttrEbsOptimized, AttrENASupport, AttrEnclaveOptions:
		return setBoolAttribute(in, ch.Attribute, *ch.Bool)
	default:
		return errorf("InvalidParameterValue", "The attribute '%s' of an instance cannot be modified.", ch.Attribute)
	}
	return nil
}

func setBoolAttribute(in *Instance, attribute string, v bool) error {
	switch attribute {
	case AttrDisableAPITermination:
		in.DisableAPITermination = v
	case AttrDisableAPIStop:
		in.DisableAPIStop = v
	case AttrENASupport:
		in.ENASupport = v
	case AttrEnclaveOptions:
		if v {
			return errorf("UnsupportedOperation", "strato has no Nitro Enclaves; enclaveOptions can only be false.")
		}
	case AttrEbsOptimized:
		if it, _ := catalog.LookupInstanceType(in.InstanceType); v && it.EbsInfo.EbsOptimizedSupport == catalog.Unsupported {
			return errorf("InvalidParameterCombination", "EBS-optimized instances are not supported for your requested configuration. Please check the documentation for supported configurations.")
		}
		in.EbsOptimized = v
	}
	return nil
}

// noSuchKernel answers a kernel or RAM disk ID as AWS answers one that does
// not exist: strato has no AKIs or ARIs (its images boot their own kernel).
func noSuchKernel(attribute, id string) error {
	prefix := "aki-"
	if attribute == AttrRamdisk {
		prefix = "ari-"
	}
	if !strings.HasPrefix(id, prefix) || len(id) <= len(prefix) {
		return errorf("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"%s...\")", id, prefix)
	}
	return errorf("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
}

// changePrimaryInterface edits the instance's primary interface.
func changePrimaryInterface(tx store.Tx, s Scope, in *Instance, edit func(n *NetworkInterface) error) error {
	n, err := networkInterfaces.get(tx, s, in.InterfaceID)
	if err != nil {
		return err
	}
	if err := edit(&n); err != nil {
		return err
	}
	return networkInterfaces.update(tx, s, &n)
}

// changeInstanceGroups replaces the security groups of the instance's only
// interface (with several, AWS asks for ModifyNetworkInterfaceAttribute).
func changeInstanceGroups(tx store.Tx, s Scope, in *Instance, groups []string) error {
	if len(groups) == 0 {
		return errorf("MissingParameter", "The request must contain the parameter groupId")
	}
	enis, err := interfacesOfInstance(tx, s, in.ID)
	if err != nil {
		return err
	}
	if len(enis) > 1 {
		return errorf("InvalidInstanceID", "There are multiple interfaces attached to instance '%s'. Please specify an interface ID for the operation instead.", in.ID)
	}
	err = changePrimaryInterface(tx, s, in, func(n *NetworkInterface) error {
		refs, err := groupRefs(tx, s, n.VpcID, groups)
		n.Groups, in.Groups = refs, refs
		return err
	})
	if err != nil {
		return err
	}
	return instances.update(tx, s, in)
}

// changeDeleteOnTermination sets the DeleteOnTermination flag of the volumes
// attached at the devices named (all or none).
func changeDeleteOnTermination(tx store.Tx, s Scope, in *Instance, devices []DeviceChange) error {
	if len(devices) == 0 {
		return errorf("MissingParameter", "The request must contain the parameter blockDeviceMapping")
	}
	vols, err := volumesOfInstance(tx, s, in.ID)
	if err != nil {
		return err
	}
	for _, d := range devices {
		if d.DeviceName == "" {
			return errorf("MissingParameter", "The request must contain the parameter blockDeviceMapping.deviceName")
		}
		if d.Other {
			return errorf("InvalidParameterCombination", "Only the DeleteOnTermination flag of an attached EBS volume can be modified; instance store volumes and NoDevice are set at launch.")
		}
		i := slices.IndexFunc(vols, func(v Volume) bool { return attachedAt(&v, in.ID, d.DeviceName) })
		if i < 0 {
			return errorf("InvalidInstanceAttributeValue", "No device is currently mapped at %s", d.DeviceName)
		}
		if d.VolumeID != "" && d.VolumeID != vols[i].ID {
			return errorf("InvalidInstanceAttributeValue", "The volume '%s' is not attached at %s of instance '%s'.", d.VolumeID, d.DeviceName, in.ID)
		}
		keep := true
		if d.DeleteOnTermination != nil {
			keep = *d.DeleteOnTermination
		}
		if err := changeAttachment(tx, s, vols[i].ID, in.ID, func(v *Volume, j int) { v.Attachments[j].DeleteOnTermination = keep }); err != nil {
			return err
		}
	}
	return nil
}

func attachedAt(v *Volume, instanceID, device string) bool {
	for _, a := range v.Attachments {
		if a.InstanceID == instanceID && a.Device == device {
			return true
		}
	}
	return false
}

// ResetInstanceAttribute returns kernel, ramdisk (on a stopped instance) or
// sourceDestCheck to its default, as AWS allows for these only.
func (c *Cloud) ResetInstanceAttribute(ctx context.Context, s Scope, id, attribute string) error {
	switch attribute {
	case "":
		return errorf("MissingParameter", "The request must contain the parameter attribute")
	case AttrKernel, AttrRamdisk, AttrSourceDestCheck:
	default:
		if !slices.Contains(instanceAttributes, attribute) {
			return unknownAttribute(attribute)
		}
		return errorf("InvalidParameterValue", "Value (%s) for parameter attribute is invalid. Only kernel, ramdisk and sourceDestCheck can be reset.", attribute)
	}
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		in, err := modifiableInstance(tx, s, id, attribute)
		if err != nil || attribute != AttrSourceDestCheck {
			// strato's instances have no kernel or RAM disk to reset.
			return err
		}
		vpcID = in.VpcID
		return changePrimaryInterface(tx, s, &in, func(n *NetworkInterface) error {
			n.SourceDestCheck = true
			return nil
		})
	})
	if err == nil && vpcID != "" {
		c.networkChanged(s, vpcID)
	}
	return err
}

// MetadataChange is what ModifyInstanceMetadataOptions changes; nil keeps the
// current value.
type MetadataChange struct {
	HttpTokens, HttpEndpoint, HttpProtocolIPv6, InstanceMetadataTags *string
	HttpPutResponseHopLimit                                          *int32
}

// ModifyInstanceMetadataOptions changes how the metadata service answers an
// instance, running or stopped. The state is "pending" for a running (or
// pending) instance, as AWS answers while it applies the change, and
// "applied" for a stopped one; strato applies it at once, so describing the
// instance afterwards shows "applied".
func (c *Cloud) ModifyInstanceMetadataOptions(ctx context.Context, s Scope, id string, ch MetadataChange) (MetadataOptions, string, error) {
	var out MetadataOptions
	state := "applied"
	err := c.update(ctx, func(tx store.Tx) error {
		in, err := modifiableInstance(tx, s, id, "")
		if err != nil {
			return err
		}
		m := in.Metadata
		if h := ch.HttpPutResponseHopLimit; h != nil {
			if *h < 1 || *h > 64 {
				return errorf("InvalidParameterValue", "The HttpPutResponseHopLimit value %d is not valid. It must be between 1 and 64.", *h)
			}
			m.HttpPutResponseHopLimit = *h
		}
		for _, f := range []struct {
			to   *string
			from *string
		}{{&m.HttpTokens, ch.HttpTokens}, {&m.HttpEndpoint, ch.HttpEndpoint}, {&m.HttpProtocolIPv6, ch.HttpProtocolIPv6}, {&m.InstanceMetadataTags, ch.InstanceMetadataTags}} {
			if f.from != nil {
				if *f.from == "" {
					return errorf("InvalidParameterValue", "A metadata option may not be empty.")
				}
				*f.to = *f.from
			}
		}
		if m.HttpProtocolIPv6 != "enabled" && m.HttpProtocolIPv6 != "disabled" {
			return errorf("InvalidParameterValue", "The HttpProtocolIpv6 value '%s' is not valid. Valid values: enabled, disabled.", m.HttpProtocolIPv6)
		}
		if err := m.fill(); err != nil {
			return err
		}
		if in.State == InstanceRunning || in.State == InstancePending {
			state = "pending"
		}
		in.Metadata, out = m, m
		return instances.update(tx, s, &in)
	})
	return out, state, err
}
