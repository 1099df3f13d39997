package catalog

// InstanceType describes one EC2 instance type. The exported fields mirror
// EC2's InstanceTypeInfo shape (DescribeInstanceTypes output) field by
// field, with AWS's names; optional sub-structures that AWS omits for a type
// are nil pointers here. Burstable is the one addition: CPU-credit figures
// AWS publishes for T instances but does not return from
// DescribeInstanceTypes.
type InstanceType struct {
	InstanceType                  string
	CurrentGeneration             bool
	FreeTierEligible              bool
	SupportedUsageClasses         []string // "on-demand", "spot"
	SupportedRootDeviceTypes      []string // "ebs", "instance-store"
	SupportedVirtualizationTypes  []string // "hvm", "paravirtual"
	BareMetal                     bool
	Hypervisor                    string // "nitro", "xen", or "" for bare metal
	ProcessorInfo                 ProcessorInfo
	VCpuInfo                      VCpuInfo
	MemoryInfo                    MemoryInfo
	InstanceStorageSupported      bool
	InstanceStorageInfo           *InstanceStorageInfo
	EbsInfo                       EbsInfo
	NetworkInfo                   NetworkInfo
	GpuInfo                       *GpuInfo
	FpgaInfo                      *FpgaInfo
	NeuronInfo                    *NeuronInfo
	PlacementGroupInfo            PlacementGroupInfo
	HibernationSupported          bool
	BurstablePerformanceSupported bool
	DedicatedHostsSupported       bool
	AutoRecoverySupported         bool
	SupportedBootModes            []string // "legacy-bios", "uefi"
	NitroEnclavesSupport          string   // "supported", "unsupported"
	NitroTpmSupport               string   // "supported", "unsupported"
	NitroTpmInfo                  *NitroTpmInfo

	// Burstable holds the CPU-credit figures of T instances; nil for
	// every other type. Not part of DescribeInstanceTypes output.
	Burstable *BurstableInfo
}

// ProcessorInfo mirrors EC2's ProcessorInfo.
type ProcessorInfo struct {
	SupportedArchitectures   []string // "i386", "x86_64", "arm64"
	SustainedClockSpeedInGhz float64
	Manufacturer             string // "Intel", "AMD", "AWS"
}

// VCpuInfo mirrors EC2's VCpuInfo. ValidCores and ValidThreadsPerCore are
// nil for types whose CPU options cannot be changed (T2, bare metal).
type VCpuInfo struct {
	DefaultVCpus          int
	DefaultCores          int
	DefaultThreadsPerCore int
	ValidCores            []int
	ValidThreadsPerCore   []int
}

// MemoryInfo mirrors EC2's MemoryInfo.
type MemoryInfo struct {
	SizeInMiB int64
}

// InstanceStorageInfo mirrors EC2's InstanceStorageInfo.
type InstanceStorageInfo struct {
	TotalSizeInGB     int64
	Disks             []DiskInfo
	NvmeSupport       string // "required", "supported", "unsupported"
	EncryptionSupport string // "required", "unsupported"
}

// DiskInfo mirrors EC2's DiskInfo.
type DiskInfo struct {
	SizeInGB int64
	Count    int
	Type     string // "ssd" or "hdd"
}

// EbsInfo mirrors EC2's EbsInfo. EbsOptimizedInfo is nil when
// EbsOptimizedSupport is "unsupported".
type EbsInfo struct {
	EbsOptimizedSupport string // "default", "supported", "unsupported"
	EncryptionSupport   string // "supported"
	NvmeSupport         string // "required", "supported", "unsupported"
	EbsOptimizedInfo    *EbsOptimizedInfo
}

// EbsOptimizedInfo mirrors EC2's EbsOptimizedInfo. Throughput is the
// bandwidth divided by 8, as AWS computes it.
type EbsOptimizedInfo struct {
	BaselineBandwidthInMbps  int
	BaselineThroughputInMBps float64
	BaselineIops             int
	MaximumBandwidthInMbps   int
	MaximumThroughputInMBps  float64
	MaximumIops              int
}

// NetworkInfo mirrors EC2's NetworkInfo.
type NetworkInfo struct {
	NetworkPerformance           string
	MaximumNetworkInterfaces     int
	MaximumNetworkCards          int
	DefaultNetworkCardIndex      int
	NetworkCards                 []NetworkCardInfo
	Ipv4AddressesPerInterface    int
	Ipv6AddressesPerInterface    int
	Ipv6Supported                bool
	EnaSupport                   string // "required", "supported", "unsupported"
	EfaSupported                 bool
	EfaInfo                      *EfaInfo
	EncryptionInTransitSupported bool
}

// NetworkCardInfo mirrors EC2's NetworkCardInfo.
type NetworkCardInfo struct {
	NetworkCardIndex         int
	NetworkPerformance       string
	MaximumNetworkInterfaces int
}

// EfaInfo mirrors EC2's EfaInfo.
type EfaInfo struct {
	MaximumEfaInterfaces int
}

// GpuInfo mirrors EC2's GpuInfo.
type GpuInfo struct {
	Gpus                []GpuDeviceInfo
	TotalGpuMemoryInMiB int64
}

// GpuDeviceInfo mirrors EC2's GpuDeviceInfo.
type GpuDeviceInfo struct {
	Name         string
	Manufacturer string
	Count        int
	MemoryInfo   MemoryInfo // per GPU
}

// FpgaInfo mirrors EC2's FpgaInfo.
type FpgaInfo struct {
	Fpgas                []FpgaDeviceInfo
	TotalFpgaMemoryInMiB int64
}

// FpgaDeviceInfo mirrors EC2's FpgaDeviceInfo.
type FpgaDeviceInfo struct {
	Name         string
	Manufacturer string
	Count        int
	MemoryInfo   MemoryInfo // per FPGA
}

// NeuronInfo mirrors EC2's NeuronInfo (AWS Inferentia / Trainium).
type NeuronInfo struct {
	NeuronDevices                []NeuronDeviceInfo
	TotalNeuronDeviceMemoryInMiB int64
}

// NeuronDeviceInfo mirrors EC2's NeuronDeviceInfo.
type NeuronDeviceInfo struct {
	Name       string
	Count      int
	CoreInfo   NeuronDeviceCoreInfo
	MemoryInfo MemoryInfo // per device
}

// NeuronDeviceCoreInfo mirrors EC2's NeuronDeviceCoreInfo.
type NeuronDeviceCoreInfo struct {
	Count   int // NeuronCores per device
	Version int // NeuronCore version
}

// PlacementGroupInfo mirrors EC2's PlacementGroupInfo.
type PlacementGroupInfo struct {
	SupportedStrategies []string // "cluster", "partition", "spread"
}

// NitroTpmInfo mirrors EC2's NitroTpmInfo.
type NitroTpmInfo struct {
	SupportedVersions []string
}

// BurstableInfo holds the CPU-credit figures AWS publishes for burstable
// performance (T) instances. One CPU credit is one vCPU at 100% for one
// minute, so BaselinePerformancePercent = CPUCreditsPerHour /
// (60 × DefaultVCpus) × 100.
type BurstableInfo struct {
	// CPUCreditsPerHour is the number of credits the instance earns per
	// hour.
	CPUCreditsPerHour float64
	// MaxEarnedCredits is the maximum number of earned credits that can be
	// accrued (24 hours of earnings).
	MaxEarnedCredits int
	// BaselinePerformancePercent is the baseline utilisation per vCPU, in
	// percent. AWS's table rounds t2.2xlarge's 16.875% to 17%.
	BaselinePerformancePercent float64
}

// Values used in several fields.
const (
	Required    = "required"
	Supported   = "supported"
	Unsupported = "unsupported"
	Default     = "default"
)
