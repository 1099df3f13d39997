package ec2

import (
	"context"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/catalog"
	"strato/internal/cloud"
)

func init() { areas = append(areas, (*Service).registerInstanceTypes) }

func (s *Service) registerInstanceTypes(d *awsapi.EC2) {
	handle(d, "DescribeInstanceTypes", s.describeInstanceTypes)
	handle(d, "DescribeInstanceTypeOfferings", s.describeInstanceTypeOfferings)
}

func (s *Service) describeInstanceTypes(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeInstanceTypesRequest) (*ec2api.DescribeInstanceTypesResult, error) {
	list, next, err := s.cloud.DescribeInstanceTypes(ctx, scope(c), in.InstanceTypes, filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeInstanceTypesResult{InstanceTypes: make([]ec2api.InstanceTypeInfo, len(list))}
	for i, t := range list {
		out.InstanceTypes[i] = apiInstanceType(t)
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (s *Service) describeInstanceTypeOfferings(ctx context.Context, c *awsapi.EC2Call, in *ec2api.DescribeInstanceTypeOfferingsRequest) (*ec2api.DescribeInstanceTypeOfferingsResult, error) {
	list, next, err := s.cloud.DescribeInstanceTypeOfferings(ctx, scope(c), deref(in.LocationType), filters(in.Filters), cloud.Page{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeInstanceTypeOfferingsResult{InstanceTypeOfferings: make([]ec2api.InstanceTypeOffering, len(list))}
	for i, o := range list {
		out.InstanceTypeOfferings[i] = ec2api.InstanceTypeOffering{InstanceType: ptr(o.InstanceType), LocationType: ptr(o.LocationType), Location: ptr(o.Location)}
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

// apiInstanceType renders a catalogue entry as EC2's InstanceTypeInfo. Structures the
// catalogue leaves nil (no instance store, no accelerators) are left out, as AWS
// leaves them out; so is the hypervisor of bare-metal types.
func apiInstanceType(t catalog.InstanceType) ec2api.InstanceTypeInfo {
	out := ec2api.InstanceTypeInfo{
		InstanceType:                  ptr(t.InstanceType),
		CurrentGeneration:             ptr(t.CurrentGeneration),
		FreeTierEligible:              ptr(t.FreeTierEligible),
		SupportedUsageClasses:         t.SupportedUsageClasses,
		SupportedRootDeviceTypes:      t.SupportedRootDeviceTypes,
		SupportedVirtualizationTypes:  t.SupportedVirtualizationTypes,
		BareMetal:                     ptr(t.BareMetal),
		Hypervisor:                    orNil(t.Hypervisor),
		ProcessorInfo:                 apiProcessorInfo(t.ProcessorInfo),
		VCpuInfo:                      apiVCpuInfo(t.VCpuInfo),
		MemoryInfo:                    &ec2api.MemoryInfo{SizeInMiB: ptr(t.MemoryInfo.SizeInMiB)},
		InstanceStorageSupported:      ptr(t.InstanceStorageSupported),
		InstanceStorageInfo:           apiInstanceStorageInfo(t.InstanceStorageInfo),
		EbsInfo:                       apiEbsInfo(t.EbsInfo),
		NetworkInfo:                   apiNetworkInfo(t.NetworkInfo),
		GpuInfo:                       apiGpuInfo(t.GpuInfo),
		FpgaInfo:                      apiFpgaInfo(t.FpgaInfo),
		NeuronInfo:                    apiNeuronInfo(t.NeuronInfo),
		PlacementGroupInfo:            &ec2api.PlacementGroupInfo{SupportedStrategies: t.PlacementGroupInfo.SupportedStrategies},
		HibernationSupported:          ptr(t.HibernationSupported),
		BurstablePerformanceSupported: ptr(t.BurstablePerformanceSupported),
		DedicatedHostsSupported:       ptr(t.DedicatedHostsSupported),
		AutoRecoverySupported:         ptr(t.AutoRecoverySupported),
		SupportedBootModes:            t.SupportedBootModes,
		NitroEnclavesSupport:          orNil(t.NitroEnclavesSupport),
		NitroTpmSupport:               orNil(t.NitroTpmSupport),
	}
	if t.NitroTpmInfo != nil {
		out.NitroTpmInfo = &ec2api.NitroTpmInfo{SupportedVersions: t.NitroTpmInfo.SupportedVersions}
	}
	return out
}

// orNil is a pointer to s, or nil for "" (the element is then left out).
func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func int32Of(n int) *int32 { return ptr(int32(n)) }

func int32sOf(ns []int) []int32 {
	if ns == nil {
		return nil
	}
	out := make([]int32, len(ns))
	for i, n := range ns {
		out[i] = int32(n)
	}
	return out
}

func apiProcessorInfo(p catalog.ProcessorInfo) *ec2api.ProcessorInfo {
	return &ec2api.ProcessorInfo{
		SupportedArchitectures:   p.SupportedArchitectures,
		SustainedClockSpeedInGhz: ptr(p.SustainedClockSpeedInGhz),
		Manufacturer:             orNil(p.Manufacturer),
	}
}

func apiVCpuInfo(v catalog.VCpuInfo) *ec2api.VCpuInfo {
	return &ec2api.VCpuInfo{
		DefaultVCpus:          int32Of(v.DefaultVCpus),
		DefaultCores:          int32Of(v.DefaultCores),
		DefaultThreadsPerCore: int32Of(v.DefaultThreadsPerCore),
		ValidCores:            int32sOf(v.ValidCores),
		ValidThreadsPerCore:   int32sOf(v.ValidThreadsPerCore),
	}
}

func apiInstanceStorageInfo(s *catalog.InstanceStorageInfo) *ec2api.InstanceStorageInfo {
	if s == nil {
		return nil
	}
	out := &ec2api.InstanceStorageInfo{
		TotalSizeInGB:     ptr(s.TotalSizeInGB),
		Disks:             make([]ec2api.DiskInfo, len(s.Disks)),
		NvmeSupport:       orNil(s.NvmeSupport),
		EncryptionSupport: orNil(s.EncryptionSupport),
	}
	for i, d := range s.Disks {
		out.Disks[i] = ec2api.DiskInfo{SizeInGB: ptr(d.SizeInGB), Count: int32Of(d.Count), Type: orNil(d.Type)}
	}
	return out
}

func apiEbsInfo(e catalog.EbsInfo) *ec2api.EbsInfo {
	return &ec2api.EbsInfo{
		EbsOptimizedSupport: orNil(e.EbsOptimizedSupport),
		EncryptionSupport:   orNil(e.EncryptionSupport),
		EbsOptimizedInfo:    apiEbsOptimizedInfo(e.EbsOptimizedInfo),
		NvmeSupport:         orNil(e.NvmeSupport),
	}
}

func apiEbsOptimizedInfo(e *catalog.EbsOptimizedInfo) *ec2api.EbsOptimizedInfo {
	if e == nil {
		return nil
	}
	return &ec2api.EbsOptimizedInfo{
		BaselineBandwidthInMbps:  int32Of(e.BaselineBandwidthInMbps),
		BaselineThroughputInMBps: ptr(e.BaselineThroughputInMBps),
		BaselineIops:             int32Of(e.BaselineIops),
		MaximumBandwidthInMbps:   int32Of(e.MaximumBandwidthInMbps),
		MaximumThroughputInMBps:  ptr(e.MaximumThroughputInMBps),
		MaximumIops:              int32Of(e.MaximumIops),
	}
}

func apiNetworkInfo(n catalog.NetworkInfo) *ec2api.NetworkInfo {
	out := &ec2api.NetworkInfo{
		NetworkPerformance:           orNil(n.NetworkPerformance),
		MaximumNetworkInterfaces:     int32Of(n.MaximumNetworkInterfaces),
		MaximumNetworkCards:          int32Of(n.MaximumNetworkCards),
		DefaultNetworkCardIndex:      int32Of(n.DefaultNetworkCardIndex),
		NetworkCards:                 make([]ec2api.NetworkCardInfo, len(n.NetworkCards)),
		Ipv4AddressesPerInterface:    int32Of(n.Ipv4AddressesPerInterface),
		Ipv6AddressesPerInterface:    int32Of(n.Ipv6AddressesPerInterface),
		Ipv6Supported:                ptr(n.Ipv6Supported),
		EnaSupport:                   orNil(n.EnaSupport),
		EfaSupported:                 ptr(n.EfaSupported),
		EncryptionInTransitSupported: ptr(n.EncryptionInTransitSupported),
	}
	for i, c := range n.NetworkCards {
		out.NetworkCards[i] = ec2api.NetworkCardInfo{
			NetworkCardIndex:         int32Of(c.NetworkCardIndex),
			NetworkPerformance:       orNil(c.NetworkPerformance),
			MaximumNetworkInterfaces: int32Of(c.MaximumNetworkInterfaces),
		}
	}
	if n.EfaInfo != nil {
		out.EfaInfo = &ec2api.EfaInfo{MaximumEfaInterfaces: int32Of(n.EfaInfo.MaximumEfaInterfaces)}
	}
	return out
}

// Accelerator memory sizes are int32 in EC2's model.
func mib32(n int64) *int32 { return ptr(int32(n)) }

func apiGpuInfo(g *catalog.GpuInfo) *ec2api.GpuInfo {
	if g == nil {
		return nil
	}
	out := &ec2api.GpuInfo{Gpus: make([]ec2api.GpuDeviceInfo, len(g.Gpus)), TotalGpuMemoryInMiB: mib32(g.TotalGpuMemoryInMiB)}
	for i, d := range g.Gpus {
		out.Gpus[i] = ec2api.GpuDeviceInfo{
			Name:         orNil(d.Name),
			Manufacturer: orNil(d.Manufacturer),
			Count:        int32Of(d.Count),
			MemoryInfo:   &ec2api.GpuDeviceMemoryInfo{SizeInMiB: mib32(d.MemoryInfo.SizeInMiB)},
		}
	}
	return out
}

func apiFpgaInfo(f *catalog.FpgaInfo) *ec2api.FpgaInfo {
	if f == nil {
		return nil
	}
	out := &ec2api.FpgaInfo{Fpgas: make([]ec2api.FpgaDeviceInfo, len(f.Fpgas)), TotalFpgaMemoryInMiB: mib32(f.TotalFpgaMemoryInMiB)}
	for i, d := range f.Fpgas {
		out.Fpgas[i] = ec2api.FpgaDeviceInfo{
			Name:         orNil(d.Name),
			Manufacturer: orNil(d.Manufacturer),
			Count:        int32Of(d.Count),
			MemoryInfo:   &ec2api.FpgaDeviceMemoryInfo{SizeInMiB: mib32(d.MemoryInfo.SizeInMiB)},
		}
	}
	return out
}

func apiNeuronInfo(n *catalog.NeuronInfo) *ec2api.NeuronInfo {
	if n == nil {
		return nil
	}
	out := &ec2api.NeuronInfo{NeuronDevices: make([]ec2api.NeuronDeviceInfo, len(n.NeuronDevices)), TotalNeuronDeviceMemoryInMiB: mib32(n.TotalNeuronDeviceMemoryInMiB)}
	for i, d := range n.NeuronDevices {
		out.NeuronDevices[i] = ec2api.NeuronDeviceInfo{
			Name:       orNil(d.Name),
			Count:      int32Of(d.Count),
			CoreInfo:   &ec2api.NeuronDeviceCoreInfo{Count: int32Of(d.CoreInfo.Count), Version: int32Of(d.CoreInfo.Version)},
			MemoryInfo: &ec2api.NeuronDeviceMemoryInfo{SizeInMiB: mib32(d.MemoryInfo.SizeInMiB)},
		}
	}
	return out
}
