package cloud

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// Modification states.
const (
	ModModifying  = "modifying"
	ModOptimizing = "optimizing"
	ModCompleted  = "completed"
	ModFailed     = "failed"
)

var (
	// VolumeModificationInterval is how long after a modification the next may
	// start (AWS: 6 hours per volume). The operator or tests may change it.
	VolumeModificationInterval = 6 * time.Hour
	// VolumeOptimizingTime is how long a modification stays optimizing once the
	// block store has done its part (AWS takes minutes to hours; strato has
	// nothing to rebalance, so a short pause keeps clients' waiters honest).
	VolumeOptimizingTime = 2 * time.Second
)

// settle computes the modification's state and progress at a time.
func (m *VolumeModification) settle(now time.Time) {
	switch m.State {
	case ModModifying:
		m.Progress = 0
	case ModOptimizing:
		end := m.OptimizingFrom.Add(VolumeOptimizingTime)
		if !now.Before(end) {
			m.State, m.EndTime, m.Progress = ModCompleted, end, 100
			return
		}
		m.Progress = 50 + int64(50*now.Sub(m.OptimizingFrom)/max(VolumeOptimizingTime, 1))
	case ModCompleted:
		m.Progress = 100
	}
}

// ModifyVolumeRequest is what ModifyVolume asks for; zero values are "not given".
type ModifyVolumeRequest struct {
	Size        int32
	VolumeType  string
	IOPS        int32
	Throughput  int32
	MultiAttach *bool
}

// ModifyVolume changes a volume's size, type or performance: modifying while the
// block store grows the file, optimizing, then completed.
func (c *Cloud) ModifyVolume(ctx context.Context, s Scope, id string, req ModifyVolumeRequest) (VolumeModification, error) {
	if c.blocks == nil {
		return VolumeModification{}, errNoBlocks
	}
	var mod VolumeModification
	j := newBlockJob(jobModifyVolume, s, id)
	err := c.update(ctx, func(tx store.Tx) error {
		now := c.clock.Now()
		v, err := volumes.get(tx, s, id)
		if err != nil {
			return err
		}
		if v.State != VolumeAvailable && v.State != VolumeInUse {
			return errorf("IncorrectState", "The volume '%s' is in the '%s' state and cannot be modified.", id, v.State)
		}
		if m := v.Modification; m != nil {
			if m.State == ModModifying {
				return errorf("IncorrectModificationState", "The volume '%s' is already being modified.", id)
			}
			if now.Before(m.StartTime.Add(VolumeModificationInterval)) {
				return errorf("VolumeModificationRateExceeded", "You've reached the maximum modification rate per volume limit. Wait at least %s between modifications per EBS volume.", intervalWords(VolumeModificationInterval))
			}
		}
		target, err := modifiedSpec(v, req)
		if err != nil {
			return err
		}
		grow := target.Size - v.Size
		if target.VolumeType != v.VolumeType {
			grow = target.Size
		}
		if err := checkVolumeStorage(tx, s, target.VolumeType, grow); err != nil {
			return err
		}
		mod = VolumeModification{State: ModModifying, Original: v.spec(), Target: target, StartTime: now}
		v.Modification = &mod
		if err := volumes.update(tx, s, &v); err != nil {
			return err
		}
		return recordJob(tx, j)
	})
	if err != nil {
		return VolumeModification{}, err
	}
	c.launch(j, nil)
	return mod, nil
}

func intervalWords(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.Itoa(int(d/time.Hour)) + " hours"
	}
	return d.String()
}

// modifiedSpec is the volume's configuration after a modification, checked
// against its type's rules. Provisioned IOPS and throughput carry over when the
// type keeps them; a type that has other defaults starts from them.
func modifiedSpec(v Volume, req ModifyVolumeRequest) (VolumeSpec, error) {
	t := v.spec()
	if req.Size != 0 {
		if req.Size < v.Size {
			return t, errorf("InvalidParameterValue", "New size cannot be smaller than existing size of %dGiB.", v.Size)
		}
		t.Size = req.Size
	}
	if req.VolumeType != "" {
		t.VolumeType = req.VolumeType
	}
	if req.MultiAttach != nil {
		t.MultiAttach = *req.MultiAttach
	}
	from, to := volumeTypes[v.VolumeType], volumeTypes[t.VolumeType]
	iopsGiven, throughputGiven := req.IOPS != 0, req.Throughput != 0
	switch {
	case iopsGiven:
		t.IOPS = req.IOPS
	case to.iops && (t.VolumeType == v.VolumeType || from.iopsRequired && to.iopsRequired):
		iopsGiven = true // keeps its provisioned IOPS
	default:
		t.IOPS = 0
	}
	switch {
	case throughputGiven:
		t.Throughput = req.Throughput
	case to.throughput && t.VolumeType == v.VolumeType:
		throughputGiven = true
	default:
		t.Throughput = 0
	}
	if err := checkVolumeSpec(&t, iopsGiven, throughputGiven); err != nil {
		return t, err
	}
	if t == v.spec() {
		return t, errorf("InvalidParameterValue", "The volume '%s' already has the requested configuration.", v.ID)
	}
	if t.MultiAttach != v.MultiAttach && len(v.Attachments) > 0 {
		return t, errorf("InvalidParameterCombination", "Multi-Attach can only be changed while the volume is detached.")
	}
	return t, nil
}

func (c *Cloud) runModifyVolume(ctx context.Context, j blockJob) error {
	var v Volume
	if err := c.view(ctx, func(tx store.Tx) error {
		var err error
		v, err = volumes.get(tx, j.Scope, j.Resource)
		return ignoreNotFound(err, nil)
	}); err != nil {
		return err
	}
	m := v.Modification
	if v.ID != "" && m != nil && m.State == ModModifying && m.Target.Size > m.Original.Size {
		if err := c.blocks.GrowVolume(v.ID, gib(m.Target.Size)); err != nil {
			return fmt.Errorf("growing volume %s: %w", v.ID, err)
		}
		// The instances it is attached to see it grow (their drivers' work, in
		// the background; redone if this job is).
		for _, a := range v.Attachments {
			if a.State == AttachAttached {
				c.resizeVolumeWork(j.Scope, v.ID, a.InstanceID, a.Device, gib(m.Target.Size))
			}
		}
	}
	return c.update(ctx, func(tx store.Tx) error {
		v, err := volumes.get(tx, j.Scope, j.Resource)
		if err != nil {
			return ignoreNotFound(err, finishJob(tx, j))
		}
		if m := v.Modification; m != nil && m.State == ModModifying {
			t := m.Target
			v.Size, v.VolumeType, v.IOPS, v.Throughput, v.MultiAttach = t.Size, t.VolumeType, t.IOPS, t.Throughput, t.MultiAttach
			m.State, m.OptimizingFrom = ModOptimizing, txNow(tx)
			if err := volumes.update(tx, j.Scope, &v); err != nil {
				return err
			}
		}
		return finishJob(tx, j)
	})
}

// VolumeModificationInfo is one volume's latest modification.
type VolumeModificationInfo struct {
	VolumeID string
	VolumeModification
}

var volumeModificationFields = filter.Fields[VolumeModificationInfo]{
	"modification-state":            func(m VolumeModificationInfo) []string { return []string{m.State} },
	"original-iops":                 func(m VolumeModificationInfo) []string { return numberValue(m.Original.IOPS) },
	"original-size":                 func(m VolumeModificationInfo) []string { return numberValue(m.Original.Size) },
	"original-volume-type":          func(m VolumeModificationInfo) []string { return []string{m.Original.VolumeType} },
	"original-multi-attach-enabled": func(m VolumeModificationInfo) []string { return boolValue(m.Original.MultiAttach) },
	"original-throughput":           func(m VolumeModificationInfo) []string { return numberValue(m.Original.Throughput) },
	"start-time":                    func(m VolumeModificationInfo) []string { return []string{m.StartTime.UTC().Format(apiTime)} },
	"target-iops":                   func(m VolumeModificationInfo) []string { return numberValue(m.Target.IOPS) },
	"target-size":                   func(m VolumeModificationInfo) []string { return numberValue(m.Target.Size) },
	"target-volume-type":            func(m VolumeModificationInfo) []string { return []string{m.Target.VolumeType} },
	"target-throughput":             func(m VolumeModificationInfo) []string { return numberValue(m.Target.Throughput) },
	"target-multi-attach-enabled":   func(m VolumeModificationInfo) []string { return boolValue(m.Target.MultiAttach) },
	"volume-id":                     func(m VolumeModificationInfo) []string { return []string{m.VolumeID} },
}

// DescribeVolumesModifications lists the latest modification of the scope's
// volumes (MaxResults 5..500).
func (c *Cloud) DescribeVolumesModifications(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]VolumeModificationInfo, string, error) {
	m, err := filter.Compile(filters, volumeModificationFields, nil)
	if err != nil {
		return nil, "", err
	}
	var list []Volume
	if err := c.view(ctx, func(tx store.Tx) error {
		var err error
		list, err = volumes.load(tx, s, ids, nil)
		return err
	}); err != nil {
		return nil, "", err
	}
	now := c.clock.Now()
	out := make([]VolumeModificationInfo, 0, len(list))
	for _, v := range list {
		if v.Modification == nil {
			if len(ids) > 0 {
				return nil, "", errorf("InvalidVolumeModification.NotFound", "Modification for volume '%s' does not exist.", v.ID)
			}
			continue
		}
		v.settle(now)
		out = append(out, VolumeModificationInfo{VolumeID: v.ID, VolumeModification: *v.Modification})
	}
	out = m.Filter(out)
	key := func(m VolumeModificationInfo) string { return m.VolumeID }
	sortByUniqueKey(out, key)
	return PageOf(c, s, "DescribeVolumesModifications", filters, clampPage(page, 500), 5, 500, out, key)
}
