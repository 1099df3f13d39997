package cloud

import (
	"sort"
	"strings"

	"strato/internal/store"
)

// volumeType is what AWS allows for one EBS volume type. The figures are those
// of the issue this milestone builds (the gp3 and io2 generations before AWS's
// 2023–2025 raises: gp3 16,000 IOPS and 1,000 MiB/s, io2 64,000 IOPS at 500 per
// GiB on up to 16 TiB).
type volumeType struct {
	minSize, maxSize int32 // GiB
	// iops: whether Iops may be given, must be given, its range and its
	// largest ratio to the size.
	iops, iopsRequired        bool
	minIOPS, maxIOPS, perGiB  int32
	defaultIOPS               int32
	throughput                bool
	minThroughput, maxThrough int32
	defaultThroughput         int32
	multiAttach               bool
	// storageQuota is the account's storage quota for the type (TiB).
	storageQuota string
}

var volumeTypes = map[string]volumeType{
	"gp2":      {minSize: 1, maxSize: 16384, storageQuota: "gp2-storage-tib"},
	"gp3":      {minSize: 1, maxSize: 16384, iops: true, minIOPS: 3000, maxIOPS: 16000, perGiB: 500, defaultIOPS: 3000, throughput: true, minThroughput: 125, maxThrough: 1000, defaultThroughput: 125, storageQuota: "gp3-storage-tib"},
	"io1":      {minSize: 4, maxSize: 16384, iops: true, iopsRequired: true, minIOPS: 100, maxIOPS: 64000, perGiB: 50, multiAttach: true, storageQuota: "io1-storage-tib"},
	"io2":      {minSize: 4, maxSize: 16384, iops: true, iopsRequired: true, minIOPS: 100, maxIOPS: 64000, perGiB: 500, multiAttach: true, storageQuota: "io2-storage-tib"},
	"st1":      {minSize: 125, maxSize: 16384, storageQuota: "st1-storage-tib"},
	"sc1":      {minSize: 125, maxSize: 16384, storageQuota: "sc1-storage-tib"},
	"standard": {minSize: 1, maxSize: 1024, storageQuota: "standard-storage-tib"},
}

// DefaultVolumeType is the type of a volume made without VolumeType.
const DefaultVolumeType = "gp2"

func init() {
	names := map[string]string{
		"gp2": "General Purpose SSD (gp2)", "gp3": "General Purpose SSD (gp3)", "io1": "Provisioned IOPS SSD (io1)",
		"io2": "Provisioned IOPS SSD (io2)", "st1": "Throughput Optimized HDD (st1)", "sc1": "Cold HDD (sc1)", "standard": "Magnetic (standard)",
	}
	for name, t := range volumeTypes {
		def := int64(50)
		if name == "io2" {
			def = 20
		}
		quotaDefs[t.storageQuota] = QuotaDef{
			Name:        t.storageQuota,
			Description: "Storage for " + names[name] + " volumes, in TiB",
			Default:     def,
			Code:        "VolumeLimitExceeded",
			Message:     "You have exceeded your maximum " + name + " storage limit of %d TiB in this Region.",
		}
	}
}

func validVolumeTypes() string {
	out := make([]string, 0, len(volumeTypes))
	for name := range volumeTypes {
		out = append(out, name)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// checkVolumeSpec applies AWS's rules for a type to a size and performance,
// filling the defaults (gp3's baseline). iopsGiven and throughputGiven say
// whether the request named them.
func checkVolumeSpec(spec *VolumeSpec, iopsGiven, throughputGiven bool) error {
	t, ok := volumeTypes[spec.VolumeType]
	if !ok {
		return errorf("InvalidParameterValue", "Value (%s) for parameter volumeType is invalid. Valid values: %s.", spec.VolumeType, validVolumeTypes())
	}
	switch {
	case spec.Size < t.minSize:
		return errorf("InvalidParameterValue", "Volume of size %dGiB is too small for %s volumes; minimum is %dGiB.", spec.Size, spec.VolumeType, t.minSize)
	case spec.Size > t.maxSize:
		return errorf("InvalidParameterValue", "Volume of size %dGiB is too large for %s volumes; maximum is %dGiB.", spec.Size, spec.VolumeType, t.maxSize)
	case iopsGiven && !t.iops:
		return errorf("InvalidParameterCombination", "The parameter iops is not supported for %s volumes.", spec.VolumeType)
	case !iopsGiven && t.iopsRequired:
		return errorf("MissingParameter", "The request must contain the parameter iops for %s volumes.", spec.VolumeType)
	case throughputGiven && !t.throughput:
		return errorf("InvalidParameterCombination", "The parameter throughput is not supported for %s volumes.", spec.VolumeType)
	case spec.MultiAttach && !t.multiAttach:
		return errorf("InvalidParameterCombination", "Multi-Attach is supported only for io1 and io2 volumes, not for %s volumes.", spec.VolumeType)
	}
	if !t.iops {
		spec.IOPS = 0
	} else if !iopsGiven {
		spec.IOPS = t.defaultIOPS
	}
	if spec.IOPS != 0 {
		switch {
		case spec.IOPS < t.minIOPS:
			return errorf("InvalidParameterValue", "Volume iops of %d is too low; minimum is %d.", spec.IOPS, t.minIOPS)
		case spec.IOPS > t.maxIOPS:
			return errorf("InvalidParameterValue", "Volume iops of %d is too high; maximum is %d.", spec.IOPS, t.maxIOPS)
		// gp3's baseline of 3,000 IOPS holds at every size; only more is bound to the size.
		case spec.IOPS > t.defaultIOPS && spec.IOPS > t.perGiB*spec.Size:
			return errorf("InvalidParameterValue", "Iops to volume size ratio of %f is too high; maximum is %f.", float64(spec.IOPS)/float64(spec.Size), float64(t.perGiB))
		}
	}
	if !t.throughput {
		spec.Throughput = 0
		return nil
	}
	if !throughputGiven {
		spec.Throughput = t.defaultThroughput
	}
	switch {
	case spec.Throughput < t.minThroughput:
		return errorf("InvalidParameterValue", "Throughput of %d MiB/s is too low; minimum is %d MiB/s.", spec.Throughput, t.minThroughput)
	case spec.Throughput > t.maxThrough:
		return errorf("InvalidParameterValue", "Throughput of %d MiB/s is too high; maximum is %d MiB/s.", spec.Throughput, t.maxThrough)
	// AWS allows 0.25 MiB/s per provisioned IOPS above the baseline.
	case spec.Throughput > t.defaultThroughput && float64(spec.Throughput) > 0.25*float64(spec.IOPS):
		return errorf("InvalidParameterValue", "Throughput (MiBps) to iops ratio of %f is too high; maximum is 0.250000 MiBps per iops.", float64(spec.Throughput)/float64(spec.IOPS))
	}
	return nil
}

// ReportedIOPS is the IOPS AWS reports for a volume: gp2's come from its size
// (3 per GiB, at least 100, at most 16,000), the others' as provisioned.
func (v *Volume) ReportedIOPS() int32 {
	if v.VolumeType == "gp2" {
		return min(max(3*v.Size, 100), 16000)
	}
	return v.IOPS
}

func (v *Volume) spec() VolumeSpec {
	return VolumeSpec{Size: v.Size, VolumeType: v.VolumeType, IOPS: v.IOPS, Throughput: v.Throughput, MultiAttach: v.MultiAttach}
}

// checkVolumeStorage fails with VolumeLimitExceeded when adding grow GiB of a
// type to the scope's volumes would pass the account's storage quota.
func checkVolumeStorage(tx store.Tx, s Scope, volumeType string, grow int32) error {
	name := volumeTypes[volumeType].storageQuota
	limit, err := quota(tx, s.Account, name)
	if err != nil {
		return err
	}
	all, err := volumes.load(tx, s, nil, nil)
	if err != nil {
		return err
	}
	used := int64(grow)
	for _, v := range all {
		if v.VolumeType == volumeType && v.State != VolumeDeleting {
			used += int64(v.Size)
		}
	}
	if used > limit*1024 {
		def := quotaDefs[name]
		return errorf(def.Code, def.Message, limit)
	}
	return nil
}

// gib is a size in GiB in bytes.
func gib(n int32) int64 { return int64(n) << 30 }
