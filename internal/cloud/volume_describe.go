package cloud

import (
	"context"
	"strconv"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

var volumeFields = filter.Fields[Volume]{
	"attachment.attach-time": func(v Volume) []string {
		return eachAttachment(v, func(a VolumeAttachment) string { return a.AttachTime.UTC().Format(apiTime) })
	},
	"attachment.delete-on-termination": func(v Volume) []string {
		return eachAttachment(v, func(a VolumeAttachment) string { return strconv.FormatBool(a.DeleteOnTermination) })
	},
	"attachment.device": func(v Volume) []string { return eachAttachment(v, func(a VolumeAttachment) string { return a.Device }) },
	"attachment.instance-id": func(v Volume) []string {
		return eachAttachment(v, func(a VolumeAttachment) string { return a.InstanceID })
	},
	"attachment.status":    func(v Volume) []string { return eachAttachment(v, func(a VolumeAttachment) string { return a.State }) },
	"availability-zone":    func(v Volume) []string { return []string{v.AvailabilityZone} },
	"create-time":          func(v Volume) []string { return []string{v.CreatedAt.UTC().Format(apiTime)} },
	"encrypted":            func(v Volume) []string { return boolValue(v.Encrypted) },
	"fast-restored":        func(v Volume) []string { return boolValue(false) },
	"multi-attach-enabled": func(v Volume) []string { return boolValue(v.MultiAttach) },
	"size":                 func(v Volume) []string { return []string{strconv.Itoa(int(v.Size))} },
	"snapshot-id":          func(v Volume) []string { return stringValue(v.SnapshotID) },
	"status":               func(v Volume) []string { return []string{v.State} },
	"volume-id":            func(v Volume) []string { return []string{v.ID} },
	"volume-type":          func(v Volume) []string { return []string{v.VolumeType} },
	"iops":                 func(v Volume) []string { return numberValue(v.ReportedIOPS()) },
	"throughput":           func(v Volume) []string { return numberValue(v.Throughput) },
	"kms-key-id":           func(v Volume) []string { return stringValue(v.KMSKeyARN) },
}

// apiTime is how EC2 writes times, so filters on them match what Describe shows.
const apiTime = "2006-01-02T15:04:05.000Z"

func eachAttachment(v Volume, f func(VolumeAttachment) string) []string {
	out := make([]string, 0, len(v.Attachments))
	for _, a := range v.Attachments {
		out = append(out, f(a))
	}
	return out
}

func numberValue(n int32) []string {
	if n == 0 {
		return nil
	}
	return []string{strconv.Itoa(int(n))}
}

// clampPage lowers MaxResults above an operation's maximum to it: AWS returns
// at most that many rather than refusing (the aws CLI asks for 1,000).
func clampPage(p Page, max int32) Page {
	if p.MaxResults != nil && *p.MaxResults > max {
		v := max
		p.MaxResults = &v
	}
	return p
}

// DescribeVolumes lists the scope's volumes (MaxResults 5..500; more is
// answered with 500).
func (c *Cloud) DescribeVolumes(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]Volume, string, error) {
	list, next, err := describe(ctx, c, s, volumes, "DescribeVolumes", volumeFields, ids, filters, clampPage(page, 500), 5, 500)
	now := c.clock.Now()
	for i := range list {
		list[i].settle(now)
	}
	return list, next, err
}

// settle computes what the clock decides (a modification's progress).
func (v *Volume) settle(now time.Time) {
	if v.Modification != nil {
		v.Modification.settle(now)
	}
}

// GetVolume reads one of the scope's volumes (with its tags).
func (c *Cloud) GetVolume(ctx context.Context, s Scope, id string) (Volume, error) {
	var list []Volume
	err := c.view(ctx, func(tx store.Tx) error {
		var err error
		list, err = volumes.load(tx, s, []string{id}, nil)
		return err
	})
	if err != nil {
		return Volume{}, err
	}
	list[0].settle(c.clock.Now())
	return list[0], nil
}

// VolumeStatus is one volume's status as DescribeVolumeStatus reports it.
type VolumeStatus struct {
	VolumeID, AvailabilityZone string
	// Status is ok, impaired (I/O disabled) or insufficient-data (not yet
	// available).
	Status       string
	IOEnabled    string // passed, failed or "" while unknown
	AutoEnableIO bool
}

var volumeStatusFields = filter.Fields[VolumeStatus]{
	"availability-zone":            func(v VolumeStatus) []string { return []string{v.AvailabilityZone} },
	"volume-status.status":         func(v VolumeStatus) []string { return []string{v.Status} },
	"volume-status.details-name":   func(v VolumeStatus) []string { return []string{"io-enabled", "io-performance"} },
	"volume-status.details-status": func(v VolumeStatus) []string { return stringValue(v.IOEnabled) },
	"volume-id":                    func(v VolumeStatus) []string { return []string{v.VolumeID} },
}

// DescribeVolumeStatus reports the health of the scope's volumes: strato's
// volumes are files on the host, so a volume that exists is ok (there are no
// I/O events to report); one still being made has insufficient data.
func (c *Cloud) DescribeVolumeStatus(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]VolumeStatus, string, error) {
	m, err := filter.Compile(filters, volumeStatusFields, nil)
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
	out := make([]VolumeStatus, 0, len(list))
	for _, v := range list {
		st := VolumeStatus{VolumeID: v.ID, AvailabilityZone: v.AvailabilityZone, Status: "ok", IOEnabled: "passed", AutoEnableIO: v.AutoEnableIO}
		switch v.State {
		case VolumeCreating, VolumeDeleting:
			st.Status, st.IOEnabled = "insufficient-data", ""
		case VolumeError:
			st.Status, st.IOEnabled = "impaired", "failed"
		}
		out = append(out, st)
	}
	out = m.Filter(out)
	key := func(v VolumeStatus) string { return v.VolumeID }
	sortByUniqueKey(out, key)
	return PageOf(c, s, "DescribeVolumeStatus", filters, clampPage(page, 1000), 5, 1000, out, key)
}

// SetVolumeAutoEnableIO sets a volume's autoEnableIO attribute.
func (c *Cloud) SetVolumeAutoEnableIO(ctx context.Context, s Scope, id string, on bool) error {
	return c.update(ctx, func(tx store.Tx) error {
		v, err := volumes.get(tx, s, id)
		if err != nil {
			return err
		}
		v.AutoEnableIO = on
		return volumes.update(tx, s, &v)
	})
}
