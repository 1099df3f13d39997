package ec2

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerInstanceAttributes) }

func (s *Service) registerInstanceAttributes(d *awsapi.EC2) {
	handle(d, "DescribeInstanceAttribute", s.describeInstanceAttribute)
	handle(d, "ModifyInstanceAttribute", s.modifyInstanceAttribute)
	handle(d, "ResetInstanceAttribute", s.resetInstanceAttribute)
	handle(d, "ModifyInstanceMetadataOptions", s.modifyInstanceMetadataOptions)
}

func (s *Service) describeInstanceAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeInstanceAttributeRequest) (*ec2api.InstanceAttribute, error) {
	attr := deref(in.Attribute)
	v, err := s.cloud.DescribeInstanceAttribute(ctx, scope(c), deref(in.InstanceId), attr)
	if err != nil {
		return nil, err
	}
	out := &ec2api.InstanceAttribute{InstanceId: ptr(v.ID)}
	value := func(s string) *ec2api.AttributeValue { return &ec2api.AttributeValue{Value: optional(s)} }
	flag := func(b bool) *ec2api.AttributeBooleanValue { return &ec2api.AttributeBooleanValue{Value: ptr(b)} }
	switch attr {
	case cloud.AttrInstanceType:
		out.InstanceType = value(v.InstanceType)
	case cloud.AttrKernel:
		out.KernelId = value("") // strato's instances boot their image's own kernel
	case cloud.AttrRamdisk:
		out.RamdiskId = value("")
	case cloud.AttrUserData:
		out.UserData = value(v.UserData)
	case cloud.AttrDisableAPITermination:
		out.DisableApiTermination = flag(v.DisableAPITermination)
	case cloud.AttrDisableAPIStop:
		out.DisableApiStop = flag(v.DisableAPIStop)
	case cloud.AttrShutdownBehavior:
		out.InstanceInitiatedShutdownBehavior = value(v.InstanceInitiatedShutdownBehavior)
	case cloud.AttrRootDeviceName:
		out.RootDeviceName = value(v.RootDeviceName)
	case cloud.AttrBlockDeviceMapping:
		out.BlockDeviceMappings = apiInstance(v).BlockDeviceMappings
	case cloud.AttrProductCodes:
		out.ProductCodes = []ec2api.ProductCode{}
	case cloud.AttrSourceDestCheck:
		out.SourceDestCheck = &ec2api.AttributeBooleanValue{Value: apiInstance(v).SourceDestCheck}
	case cloud.AttrGroupSet:
		out.Groups = apiInstance(v).SecurityGroups
	case cloud.AttrEbsOptimized:
		out.EbsOptimized = flag(v.EbsOptimized)
	case cloud.AttrENASupport:
		out.EnaSupport = flag(v.ENASupport)
	case cloud.AttrSriovNetSupport:
		out.SriovNetSupport = value(v.SriovNetSupport)
	case cloud.AttrEnclaveOptions:
		out.EnclaveOptions = &ec2api.EnclaveOptions{Enabled: ptr(false)}
	}
	return out, nil
}

// givenAttributes names the attributes a ModifyInstanceAttribute request sets,
// each through its own parameter or through Attribute (with Value).
func givenAttributes(in *ec2api.ModifyInstanceAttributeRequest) []string {
	var names []string
	add := func(set bool, name string) {
		if set && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	add(in.SourceDestCheck != nil, cloud.AttrSourceDestCheck)
	add(len(in.BlockDeviceMappings) > 0, cloud.AttrBlockDeviceMapping)
	add(in.DisableApiTermination != nil, cloud.AttrDisableAPITermination)
	add(in.DisableApiStop != nil, cloud.AttrDisableAPIStop)
	add(in.EbsOptimized != nil, cloud.AttrEbsOptimized)
	add(in.EnaSupport != nil, cloud.AttrENASupport)
	add(len(in.Groups) > 0, cloud.AttrGroupSet)
	add(in.InstanceInitiatedShutdownBehavior != nil, cloud.AttrShutdownBehavior)
	add(in.InstanceType != nil, cloud.AttrInstanceType)
	add(in.Kernel != nil, cloud.AttrKernel)
	add(in.Ramdisk != nil, cloud.AttrRamdisk)
	add(in.SriovNetSupport != nil, cloud.AttrSriovNetSupport)
	add(in.UserData != nil, cloud.AttrUserData)
	add(in.Attribute != nil, deref(in.Attribute))
	return names
}

func (s *Service) modifyInstanceAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyInstanceAttributeRequest) (*struct{}, error) {
	names := givenAttributes(in)
	switch {
	case len(names) == 0:
		return nil, awsapi.Errorf("MissingParameter", "No attributes specified.")
	case len(names) > 1:
		return nil, awsapi.Errorf("InvalidParameterCombination", "Fields for multiple attribute types specified: %s", strings.Join(names, ", "))
	}
	ch, err := attributeChange(in, names[0])
	if err != nil {
		return nil, err
	}
	return nil, s.cloud.ModifyInstanceAttribute(ctx, scope(c), deref(in.InstanceId), ch)
}

// attributeChange reads the value of the one attribute a request sets, from
// its own parameter or else from Value.
func attributeChange(in *ec2api.ModifyInstanceAttributeRequest, name string) (cloud.InstanceAttributeChange, error) {
	ch := cloud.InstanceAttributeChange{Attribute: name}
	str := func(v *ec2api.AttributeValue) *string {
		if v != nil {
			return v.Value
		}
		return in.Value
	}
	flag := func(v *ec2api.AttributeBooleanValue) (*bool, error) {
		if v != nil {
			return v.Value, nil
		}
		if in.Value == nil {
			return nil, nil
		}
		switch strings.ToLower(*in.Value) {
		case "true":
			return ptr(true), nil
		case "false":
			return ptr(false), nil
		}
		return nil, invalidValue("Value (%s) for parameter value is invalid. Expected: 'true' or 'false'.", *in.Value)
	}
	var value *string
	var err error
	switch name {
	case cloud.AttrInstanceType:
		value = str(in.InstanceType)
	case cloud.AttrKernel:
		value = str(in.Kernel)
	case cloud.AttrRamdisk:
		value = str(in.Ramdisk)
	case cloud.AttrShutdownBehavior:
		value = str(in.InstanceInitiatedShutdownBehavior)
	case cloud.AttrSriovNetSupport:
		value = str(in.SriovNetSupport)
	case cloud.AttrUserData:
		// The blob parameter arrives decoded; Value carries base64 text, as
		// RunInstances' UserData does.
		value = in.Value
		if in.UserData != nil {
			value = ptr(base64.StdEncoding.EncodeToString(in.UserData.Value))
		}
	case cloud.AttrSourceDestCheck:
		ch.Bool, err = flag(in.SourceDestCheck)
	case cloud.AttrDisableAPITermination:
		ch.Bool, err = flag(in.DisableApiTermination)
	case cloud.AttrDisableAPIStop:
		ch.Bool, err = flag(in.DisableApiStop)
	case cloud.AttrEbsOptimized:
		ch.Bool, err = flag(in.EbsOptimized)
	case cloud.AttrENASupport:
		ch.Bool, err = flag(in.EnaSupport)
	case cloud.AttrEnclaveOptions:
		ch.Bool, err = flag(nil)
	case cloud.AttrGroupSet:
		if len(in.Groups) == 0 {
			return ch, missing("GroupId")
		}
		ch.Groups = in.Groups
		return ch, nil
	case cloud.AttrBlockDeviceMapping:
		if len(in.BlockDeviceMappings) == 0 {
			return ch, missing("BlockDeviceMapping")
		}
		for _, m := range in.BlockDeviceMappings {
			d := cloud.DeviceChange{DeviceName: deref(m.DeviceName), Other: m.NoDevice != nil || m.VirtualName != nil}
			if m.Ebs != nil {
				d.VolumeID, d.DeleteOnTermination = deref(m.Ebs.VolumeId), m.Ebs.DeleteOnTermination
			}
			ch.Devices = append(ch.Devices, d)
		}
		return ch, nil
	default:
		// Attributes that cannot change (rootDeviceName, productCodes) and
		// unknown names: the control plane answers them.
		return ch, nil
	}
	if err != nil {
		return ch, err
	}
	if ch.Bool == nil && value == nil {
		return ch, missing("Value")
	}
	ch.Value = deref(value)
	return ch, nil
}

func (s *Service) resetInstanceAttribute(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ResetInstanceAttributeRequest) (*struct{}, error) {
	return nil, s.cloud.ResetInstanceAttribute(ctx, scope(c), deref(in.InstanceId), deref(in.Attribute))
}

func (s *Service) modifyInstanceMetadataOptions(ctx context.Context, c *awsapi.EC2Call, in *ec2api.ModifyInstanceMetadataOptionsRequest) (*ec2api.ModifyInstanceMetadataOptionsResult, error) {
	m, state, err := s.cloud.ModifyInstanceMetadataOptions(ctx, scope(c), deref(in.InstanceId), cloud.MetadataChange{
		HttpTokens: in.HttpTokens, HttpEndpoint: in.HttpEndpoint, HttpProtocolIPv6: in.HttpProtocolIpv6,
		InstanceMetadataTags: in.InstanceMetadataTags, HttpPutResponseHopLimit: in.HttpPutResponseHopLimit,
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.ModifyInstanceMetadataOptionsResult{
		InstanceId: in.InstanceId,
		InstanceMetadataOptions: &ec2api.InstanceMetadataOptionsResponse{
			State: ptr(state), HttpTokens: ptr(m.HttpTokens), HttpPutResponseHopLimit: ptr(m.HttpPutResponseHopLimit),
			HttpEndpoint: ptr(m.HttpEndpoint), HttpProtocolIpv6: ptr(m.HttpProtocolIPv6), InstanceMetadataTags: ptr(m.InstanceMetadataTags),
		},
	}, nil
}
