package ec2

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"

	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

// A launch template version's data is kept as the request gave it
// (ec2api.RequestLaunchTemplateData as JSON). The response shape
// (ResponseLaunchTemplateData) and RunInstances' parameters use the same
// member names, so JSON carries one into the other (names match without
// regard to case: RamDiskId is RunInstances' RamdiskId).

// convertJSON carries a value into a type whose fields have the same names.
func convertJSON[T any](v any) (*T, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := new(T)
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("converting %T to %T: %w", v, out, err)
	}
	return out, nil
}

// storedTemplateData is the data to keep for a version, with the values its
// filters look at.
func storedTemplateData(d *ec2api.RequestLaunchTemplateData) (cloud.LaunchTemplateData, error) {
	doc, err := json.Marshal(d)
	if err != nil {
		return cloud.LaunchTemplateData{}, err
	}
	return cloud.LaunchTemplateData{Doc: doc, Fields: templateFilterValues(d)}, nil
}

func requestTemplateData(d cloud.LaunchTemplateData) (ec2api.RequestLaunchTemplateData, error) {
	var out ec2api.RequestLaunchTemplateData
	if err := json.Unmarshal(d.Doc, &out); err != nil {
		return out, fmt.Errorf("launch template data: %w", err)
	}
	return out, nil
}

func responseTemplateData(d cloud.LaunchTemplateData) (*ec2api.ResponseLaunchTemplateData, error) {
	var out ec2api.ResponseLaunchTemplateData
	if err := json.Unmarshal(d.Doc, &out); err != nil {
		return nil, fmt.Errorf("launch template data: %w", err)
	}
	return &out, nil
}

// templateFilterValues extracts what DescribeLaunchTemplateVersions' filters
// on the data compare with.
func templateFilterValues(d *ec2api.RequestLaunchTemplateData) map[string][]string {
	out := map[string][]string{}
	set := func(name string, v *string) {
		if v != nil {
			out[name] = append(out[name], *v)
		}
	}
	set("image-id", d.ImageId)
	set("instance-type", d.InstanceType)
	set("kernel-id", d.KernelId)
	set("ram-disk-id", d.RamDiskId)
	if d.EbsOptimized != nil {
		out["ebs-optimized"] = []string{strconv.FormatBool(*d.EbsOptimized)}
	}
	if m := d.MetadataOptions; m != nil {
		set("http-endpoint", m.HttpEndpoint)
		set("http-tokens", m.HttpTokens)
	}
	if p := d.IamInstanceProfile; p != nil {
		set("iam-instance-profile", p.Arn)
		set("iam-instance-profile", p.Name)
	}
	if p := d.Placement; p != nil {
		set("host-resource-group-arn", p.HostResourceGroupArn)
	}
	for _, l := range d.LicenseSpecifications {
		set("license-configuration-arn", l.LicenseConfigurationArn)
	}
	for _, n := range d.NetworkInterfaces {
		if n.NetworkCardIndex != nil {
			out["network-card-index"] = append(out["network-card-index"], strconv.Itoa(int(*n.NetworkCardIndex)))
		}
	}
	return out
}

// mergeTemplateData is a new version's data on top of its source version's:
// each parameter the new data gives replaces the source's.
func mergeTemplateData(source, data ec2api.RequestLaunchTemplateData) ec2api.RequestLaunchTemplateData {
	out := source
	fillGiven(reflect.ValueOf(&out).Elem(), reflect.ValueOf(data))
	return out
}

// fillGiven sets each field of dst to src's where src's is given.
func fillGiven(dst, src reflect.Value) {
	for i := range src.NumField() {
		if f := src.Field(i); !unset(f) {
			dst.Field(i).Set(f)
		}
	}
}

// unset reports a parameter the request does not give: nil, or an empty list.
func unset(v reflect.Value) bool {
	return v.IsZero() || v.Kind() == reflect.Slice && v.Len() == 0
}

// instanceTemplateData is an instance's configuration as launch template
// data (GetLaunchTemplateData): what launching it again would need.
func instanceTemplateData(v cloud.InstanceView) ec2api.RequestLaunchTemplateData {
	d := ec2api.RequestLaunchTemplateData{
		ImageId: ptr(v.ImageID), InstanceType: ptr(v.InstanceType), KeyName: optional(v.KeyName),
		EbsOptimized: ptr(v.EbsOptimized), DisableApiTermination: ptr(v.DisableAPITermination), DisableApiStop: ptr(v.DisableAPIStop),
		InstanceInitiatedShutdownBehavior: ptr(v.InstanceInitiatedShutdownBehavior), UserData: optional(v.UserData),
		Monitoring: &ec2api.LaunchTemplatesMonitoringRequest{Enabled: ptr(false)},
		Placement:  &ec2api.LaunchTemplatePlacementRequest{AvailabilityZone: ptr(v.AvailabilityZone), Tenancy: ptr("default"), GroupName: ptr("")},
		MetadataOptions: &ec2api.LaunchTemplateInstanceMetadataOptionsRequest{
			HttpTokens: ptr(v.Metadata.HttpTokens), HttpPutResponseHopLimit: ptr(v.Metadata.HttpPutResponseHopLimit),
			HttpEndpoint: ptr(v.Metadata.HttpEndpoint), HttpProtocolIpv6: ptr(v.Metadata.HttpProtocolIPv6),
			InstanceMetadataTags: ptr(v.Metadata.InstanceMetadataTags),
		},
		CapacityReservationSpecification: &ec2api.LaunchTemplateCapacityReservationSpecificationRequest{CapacityReservationPreference: ptr("open")},
		HibernationOptions:               &ec2api.LaunchTemplateHibernationOptionsRequest{Configured: ptr(false)},
		EnclaveOptions:                   &ec2api.LaunchTemplateEnclaveOptionsRequest{Enabled: ptr(false)},
	}
	for _, vol := range v.Volumes {
		a := v.Device(&vol)
		ebs := &ec2api.LaunchTemplateEbsBlockDeviceRequest{
			Encrypted: ptr(vol.Encrypted), DeleteOnTermination: ptr(a.DeleteOnTermination), VolumeSize: ptr(vol.Size),
			VolumeType: ptr(vol.VolumeType), SnapshotId: optional(vol.SnapshotID),
		}
		if vol.IOPS > 0 {
			ebs.Iops = ptr(vol.IOPS)
		}
		if vol.Throughput > 0 {
			ebs.Throughput = ptr(vol.Throughput)
		}
		d.BlockDeviceMappings = append(d.BlockDeviceMappings, ec2api.LaunchTemplateBlockDeviceMappingRequest{DeviceName: ptr(a.Device), Ebs: ebs})
	}
	for _, n := range v.Interfaces {
		spec := ec2api.LaunchTemplateInstanceNetworkInterfaceSpecificationRequest{
			DeviceIndex: ptr(int32(n.Attachment.DeviceIndex)), DeleteOnTermination: ptr(n.Attachment.DeleteOnTermination),
			Description: ptr(n.Description), SubnetId: ptr(n.SubnetID), InterfaceType: ptr(n.InterfaceType), NetworkCardIndex: ptr(int32(0)),
		}
		for _, g := range n.Groups {
			spec.Groups = append(spec.Groups, g.ID)
		}
		d.NetworkInterfaces = append(d.NetworkInterfaces, spec)
	}
	if len(v.Tags) > 0 {
		d.TagSpecifications = []ec2api.LaunchTemplateTagSpecificationRequest{{ResourceType: ptr(cloud.KindInstance), Tags: apiTags(v.Tags)}}
	}
	return d
}
