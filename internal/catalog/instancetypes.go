package catalog

import (
	"fmt"
	"sort"
	"strings"
)

// ---------------------------------------------------------------------
// Table-driven source data.
//
// Each family is described once by a family template (what all its sizes
// share) and a size table (what differs per size). build expands them into
// InstanceType values.

// family is the per-family template.
type family struct {
	name         string
	manufacturer string   // "Intel", "AMD", "AWS"
	arch         []string // default architectures
	clock        float64  // sustained clock speed, GHz
	xen          bool     // virtualised sizes run on Xen rather than Nitro
	threads      int      // threads per core (1 or 2)
	burstable    bool
	// enaXen is the EnaSupport of Xen sizes ("supported" or "unsupported");
	// Nitro sizes always require ENA.
	enaXen string
	// ebsOptimized is the EbsOptimizedSupport ("default" or "unsupported").
	ebsOptimized string
	// instanceStoreAMIs: the family can boot instance-store-backed AMIs.
	instanceStoreAMIs bool
	// encryptionInTransit: EncryptionInTransitSupported.
	encryptionInTransit bool
	// hibernation: the family is on AWS's hibernation list; sizes with
	// 150 GiB of memory or more and bare-metal sizes are still excluded.
	hibernation bool
	// dedicatedHosts: Dedicated Hosts exist for the family.
	dedicatedHosts bool
	// flexibleCores: any core count from 1 to the default may be chosen
	// (newer families); otherwise 1 for single-core sizes and even counts
	// from 2 up to the default (5th-generation Intel and older).
	flexibleCores bool
	// enclaves: Nitro Enclaves may be supported (virtualised Nitro sizes
	// with at least 4 vCPUs on x86, at least 2 on Graviton).
	enclaves bool
	// disk is the instance-store disk type ("ssd", "hdd") if any.
	disk string
	// diskNvme is the instance store NvmeSupport.
	diskNvme string
	// accelerator devices, if any; count comes from each size.
	gpu    *GpuDeviceInfo
	fpga   *FpgaDeviceInfo
	neuron *NeuronDeviceInfo
	sizes  []size
}

// size is one row of a family's size table. Memory is in MiB; EBS
// bandwidth in Mbps. A zero ebsMax / iopsMax means "same as baseline".
type size struct {
	name     string // "large", "metal", ...
	vcpus    int
	memMiB   int64
	net      string // NetworkPerformance
	enis     int    // MaximumNetworkInterfaces
	ipv4     int    // IPv4 (and IPv6) addresses per interface
	ebsBase  int
	ebsMax   int
	iopsBase int
	iopsMax  int
	disks    int   // number of instance-store disks
	diskGB   int64 // size of each disk
	accel    int   // GPUs, FPGAs or Neuron devices
	efa      bool
	extra    *sizeExtra
}

// sizeExtra holds the rare per-size exceptions.
type sizeExtra struct {
	clock    float64  // overrides family clock
	cores    int      // overrides vcpus/threads
	arch     []string // overrides family architectures
	cards    int      // network cards (default 1)
	efaIfs   int      // EFA interfaces (default 1 when efa)
	credits  float64  // burstable: CPU credits earned per hour
	freeTier bool
}

func gib(n int64) int64 { return n * 1024 }

// familyGroups lists the size tables of the instancetypes_*.go files.
// Package-level variables are initialised before any init function runs,
// whatever file they live in, so init below sees them all.
func familyGroups() [][]*family {
	return [][]*family{
		burstableFamilies,
		generalComputeFamilies,
		memoryFamilies,
		storageFamilies,
		acceleratedFamilies,
	}
}

var (
	instanceTypes []InstanceType // sorted by name
	typeIndex     map[string]int // name → index
	familySizes   map[string][]string
)

func init() { buildAll() }

func buildAll() {
	familySizes = make(map[string][]string)
	for _, group := range familyGroups() {
		for _, f := range group {
			if _, dup := familySizes[f.name]; dup {
				panic("catalog: duplicate family " + f.name)
			}
			for _, s := range f.sizes {
				instanceTypes = append(instanceTypes, f.build(s))
				familySizes[f.name] = append(familySizes[f.name], s.name)
			}
		}
	}
	sort.Slice(instanceTypes, func(i, j int) bool {
		return instanceTypes[i].InstanceType < instanceTypes[j].InstanceType
	})
	typeIndex = make(map[string]int, len(instanceTypes))
	for i, t := range instanceTypes {
		if _, dup := typeIndex[t.InstanceType]; dup {
			panic("catalog: duplicate instance type " + t.InstanceType)
		}
		typeIndex[t.InstanceType] = i
	}
}

// build expands one size of a family into an InstanceType.
func (f *family) build(s size) InstanceType {
	x := sizeExtra{}
	if s.extra != nil {
		x = *s.extra
	}
	metal := strings.HasPrefix(s.name, "metal")
	nitro := !f.xen || metal
	t := InstanceType{
		InstanceType:                  f.name + "." + s.name,
		CurrentGeneration:             true,
		FreeTierEligible:              x.freeTier,
		SupportedUsageClasses:         []string{"on-demand", "spot"},
		SupportedRootDeviceTypes:      []string{"ebs"},
		SupportedVirtualizationTypes:  []string{"hvm"},
		BareMetal:                     metal,
		BurstablePerformanceSupported: f.burstable,
		DedicatedHostsSupported:       f.dedicatedHosts,
	}
	switch {
	case metal:
		t.Hypervisor = ""
	case f.xen:
		t.Hypervisor = "xen"
	default:
		t.Hypervisor = "nitro"
	}

	// Processor and vCPUs.
	arch := f.arch
	if x.arch != nil {
		arch = x.arch
	}
	clock := f.clock
	if x.clock != 0 {
		clock = x.clock
	}
	t.ProcessorInfo = ProcessorInfo{
		SupportedArchitectures:   append([]string(nil), arch...),
		SustainedClockSpeedInGhz: clock,
		Manufacturer:             f.manufacturer,
	}
	threads := f.threads
	cores := s.vcpus / threads
	if x.cores != 0 {
		cores = x.cores
	}
	t.VCpuInfo = VCpuInfo{DefaultVCpus: s.vcpus, DefaultCores: cores, DefaultThreadsPerCore: threads}
	if !metal && !(f.xen && threads == 1) { // T2 and bare metal have no CPU options
		t.VCpuInfo.ValidCores = validCores(cores, f.flexibleCores)
		if threads == 2 {
			t.VCpuInfo.ValidThreadsPerCore = []int{1, 2}
		} else {
			t.VCpuInfo.ValidThreadsPerCore = []int{1}
		}
	}
	t.MemoryInfo = MemoryInfo{SizeInMiB: s.memMiB}

	// Instance store.
	if s.disks > 0 {
		t.InstanceStorageSupported = true
		enc := Unsupported
		if f.diskNvme != Unsupported {
			enc = Required // NVMe instance store is always encrypted at rest
		}
		t.InstanceStorageInfo = &InstanceStorageInfo{
			TotalSizeInGB:     int64(s.disks) * s.diskGB,
			Disks:             []DiskInfo{{SizeInGB: s.diskGB, Count: s.disks, Type: f.disk}},
			NvmeSupport:       f.diskNvme,
			EncryptionSupport: enc,
		}
		if f.instanceStoreAMIs && !metal {
			t.SupportedRootDeviceTypes = []string{"ebs", "instance-store"}
		}
	}

	// EBS.
	t.EbsInfo = EbsInfo{EbsOptimizedSupport: f.ebsOptimized, EncryptionSupport: Supported, NvmeSupport: Unsupported}
	if nitro {
		t.EbsInfo.NvmeSupport = Required
	}
	if f.ebsOptimized != Unsupported {
		maxBW, maxIOPS := s.ebsMax, s.iopsMax
		if maxBW == 0 {
			maxBW = s.ebsBase
		}
		if maxIOPS == 0 {
			maxIOPS = s.iopsBase
		}
		t.EbsInfo.EbsOptimizedInfo = &EbsOptimizedInfo{
			BaselineBandwidthInMbps:  s.ebsBase,
			BaselineThroughputInMBps: float64(s.ebsBase) / 8,
			BaselineIops:             s.iopsBase,
			MaximumBandwidthInMbps:   maxBW,
			MaximumThroughputInMBps:  float64(maxBW) / 8,
			MaximumIops:              maxIOPS,
		}
	}

	// Network.
	cards := 1
	if x.cards > 0 {
		cards = x.cards
	}
	n := NetworkInfo{
		NetworkPerformance:           s.net,
		MaximumNetworkInterfaces:     s.enis,
		MaximumNetworkCards:          cards,
		DefaultNetworkCardIndex:      0,
		Ipv4AddressesPerInterface:    s.ipv4,
		Ipv6AddressesPerInterface:    s.ipv4,
		Ipv6Supported:                true,
		EnaSupport:                   Required,
		EfaSupported:                 s.efa,
		EncryptionInTransitSupported: f.encryptionInTransit,
	}
	if f.xen {
		n.EnaSupport = f.enaXen
	}
	cardPerf := s.net
	if cards > 1 {
		// e.g. "4x 100 Gigabit": each card carries one share.
		if i := strings.Index(cardPerf, "x "); i > 0 {
			cardPerf = cardPerf[i+2:]
		}
	}
	for c := 0; c < cards; c++ {
		n.NetworkCards = append(n.NetworkCards, NetworkCardInfo{
			NetworkCardIndex:         c,
			NetworkPerformance:       cardPerf,
			MaximumNetworkInterfaces: s.enis / cards,
		})
	}
	if s.efa {
		efaIfs := 1
		if x.efaIfs > 0 {
			efaIfs = x.efaIfs
		}
		n.EfaInfo = &EfaInfo{MaximumEfaInterfaces: efaIfs}
	}
	t.NetworkInfo = n

	// Accelerators.
	if f.gpu != nil && s.accel > 0 {
		g := *f.gpu
		g.Count = s.accel
		t.GpuInfo = &GpuInfo{Gpus: []GpuDeviceInfo{g}, TotalGpuMemoryInMiB: int64(s.accel) * g.MemoryInfo.SizeInMiB}
	}
	if f.fpga != nil && s.accel > 0 {
		d := *f.fpga
		d.Count = s.accel
		t.FpgaInfo = &FpgaInfo{Fpgas: []FpgaDeviceInfo{d}, TotalFpgaMemoryInMiB: int64(s.accel) * d.MemoryInfo.SizeInMiB}
	}
	if f.neuron != nil && s.accel > 0 {
		d := *f.neuron
		d.Count = s.accel
		t.NeuronInfo = &NeuronInfo{NeuronDevices: []NeuronDeviceInfo{d}, TotalNeuronDeviceMemoryInMiB: int64(s.accel) * d.MemoryInfo.SizeInMiB}
	}

	// Placement: burstable instances cannot join cluster placement groups.
	if f.burstable {
		t.PlacementGroupInfo.SupportedStrategies = []string{"partition", "spread"}
	} else {
		t.PlacementGroupInfo.SupportedStrategies = []string{"cluster", "partition", "spread"}
	}

	// Hibernation: families on AWS's list, memory below 150 GiB, not metal.
	t.HibernationSupported = f.hibernation && !metal && s.memMiB < gib(150)

	// Simplified automatic recovery needs EBS-only storage.
	t.AutoRecoverySupported = s.disks == 0

	// Boot modes: Graviton boots UEFI only; Xen guests legacy BIOS only;
	// x86 Nitro (and x86 bare metal) both.
	switch {
	case f.manufacturer == "AWS":
		t.SupportedBootModes = []string{"uefi"}
	case f.xen && !metal:
		t.SupportedBootModes = []string{"legacy-bios"}
	default:
		t.SupportedBootModes = []string{"legacy-bios", "uefi"}
	}

	// Nitro Enclaves and NitroTPM are features of virtualised Nitro
	// instances.
	t.NitroEnclavesSupport = Unsupported
	minEnclaveVCPUs := 4
	if f.manufacturer == "AWS" {
		minEnclaveVCPUs = 2
	}
	if f.enclaves && nitro && !metal && s.vcpus >= minEnclaveVCPUs {
		t.NitroEnclavesSupport = Supported
	}
	t.NitroTpmSupport = Unsupported
	if nitro && !metal {
		t.NitroTpmSupport = Supported
		t.NitroTpmInfo = &NitroTpmInfo{SupportedVersions: []string{"2.0"}}
	}

	if f.burstable {
		t.Burstable = &BurstableInfo{
			CPUCreditsPerHour:          x.credits,
			MaxEarnedCredits:           int(x.credits * 24),
			BaselinePerformancePercent: x.credits / (60 * float64(s.vcpus)) * 100,
		}
	}
	return t
}

// validCores lists the core counts CPU options accept. AWS publishes these
// per type; the rule here reproduces the published pattern: newer families
// accept every count from 1 to the default, older Intel families accept 1
// for single-core sizes and otherwise even counts from 2 to the default.
func validCores(cores int, flexible bool) []int {
	var out []int
	if flexible || cores == 1 {
		for c := 1; c <= cores; c++ {
			out = append(out, c)
		}
		return out
	}
	for c := 2; c <= cores; c += 2 {
		out = append(out, c)
	}
	if cores%2 == 1 {
		out = append(out, cores)
	}
	return out
}

// clone returns a deep copy so callers cannot alter the catalogue.
func (t InstanceType) clone() InstanceType {
	cp := func(s []string) []string { return append([]string(nil), s...) }
	t.SupportedUsageClasses = cp(t.SupportedUsageClasses)
	t.SupportedRootDeviceTypes = cp(t.SupportedRootDeviceTypes)
	t.SupportedVirtualizationTypes = cp(t.SupportedVirtualizationTypes)
	t.SupportedBootModes = cp(t.SupportedBootModes)
	t.ProcessorInfo.SupportedArchitectures = cp(t.ProcessorInfo.SupportedArchitectures)
	t.PlacementGroupInfo.SupportedStrategies = cp(t.PlacementGroupInfo.SupportedStrategies)
	t.VCpuInfo.ValidCores = append([]int(nil), t.VCpuInfo.ValidCores...)
	t.VCpuInfo.ValidThreadsPerCore = append([]int(nil), t.VCpuInfo.ValidThreadsPerCore...)
	if t.InstanceStorageInfo != nil {
		v := *t.InstanceStorageInfo
		v.Disks = append([]DiskInfo(nil), v.Disks...)
		t.InstanceStorageInfo = &v
	}
	if t.EbsInfo.EbsOptimizedInfo != nil {
		v := *t.EbsInfo.EbsOptimizedInfo
		t.EbsInfo.EbsOptimizedInfo = &v
	}
	t.NetworkInfo.NetworkCards = append([]NetworkCardInfo(nil), t.NetworkInfo.NetworkCards...)
	if t.NetworkInfo.EfaInfo != nil {
		v := *t.NetworkInfo.EfaInfo
		t.NetworkInfo.EfaInfo = &v
	}
	if t.GpuInfo != nil {
		v := *t.GpuInfo
		v.Gpus = append([]GpuDeviceInfo(nil), v.Gpus...)
		t.GpuInfo = &v
	}
	if t.FpgaInfo != nil {
		v := *t.FpgaInfo
		v.Fpgas = append([]FpgaDeviceInfo(nil), v.Fpgas...)
		t.FpgaInfo = &v
	}
	if t.NeuronInfo != nil {
		v := *t.NeuronInfo
		v.NeuronDevices = append([]NeuronDeviceInfo(nil), v.NeuronDevices...)
		t.NeuronInfo = &v
	}
	if t.NitroTpmInfo != nil {
		v := *t.NitroTpmInfo
		v.SupportedVersions = cp(v.SupportedVersions)
		t.NitroTpmInfo = &v
	}
	if t.Burstable != nil {
		v := *t.Burstable
		t.Burstable = &v
	}
	return t
}

// InstanceTypes returns every instance type in the catalogue, sorted by
// name.
func InstanceTypes() []InstanceType {
	out := make([]InstanceType, len(instanceTypes))
	for i, t := range instanceTypes {
		out[i] = t.clone()
	}
	return out
}

// LookupInstanceType returns the instance type with the given name, e.g.
// "m5.large".
func LookupInstanceType(name string) (InstanceType, bool) {
	i, ok := typeIndex[name]
	if !ok {
		return InstanceType{}, false
	}
	return instanceTypes[i].clone(), true
}

// FamilySizes returns the size names the catalogue holds for a family
// ("m5" → "large", "xlarge", ...), in the family's table order, or nil for
// an unknown family.
func FamilySizes(familyName string) []string {
	return append([]string(nil), familySizes[familyName]...)
}

// Families returns the names of all families in the catalogue, sorted.
func Families() []string {
	out := make([]string, 0, len(familySizes))
	for f := range familySizes {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// familyOf returns the family part of an instance type name.
func familyOf(typeName string) string {
	if i := strings.IndexByte(typeName, '.'); i > 0 {
		return typeName[:i]
	}
	return typeName
}

// String implements fmt.Stringer for debugging output.
func (t InstanceType) String() string {
	return fmt.Sprintf("%s (%d vCPU, %d MiB)", t.InstanceType, t.VCpuInfo.DefaultVCpus, t.MemoryInfo.SizeInMiB)
}
