package cloud

import (
	"context"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// Status check values, as DescribeInstanceStatus reports them (AWS's
// SummaryStatus and, for the reachability detail, StatusType).
const (
	StatusOK            = "ok"
	StatusImpaired      = "impaired"
	StatusInitializing  = "initializing"
	StatusNotApplicable = "not-applicable"

	CheckPassed       = "passed"
	CheckFailed       = "failed"
	CheckInitializing = "initializing"
)

// StatusInitializingPeriod is how long after an instance launches (or starts
// again) its status checks say initializing before ok. AWS's first checks take
// a few minutes; strato's instances boot in about a second, so a short while
// keeps `aws ec2 wait instance-status-ok` honest without making it slow.
const StatusInitializingPeriod = 30 * time.Second

// InstanceHealth is what the instance monitor learnt from the driver about a
// running instance. It is cleared when the instance stops running.
type InstanceHealth struct {
	// ImpairedSince is when the driver first reported the instance's process
	// dead: the instance status check fails (as a guest that crashed on AWS).
	ImpairedSince time.Time `json:"impairedSince,omitzero"`
	// SystemImpairedSince is when the driver first answered that it has no
	// such instance at all while it should be running: the host lost it, which
	// fails the system check and, as on AWS, the instance check with it.
	SystemImpairedSince time.Time `json:"systemImpairedSince,omitzero"`
}

// StatusCheck is one of the two status checks of an instance.
type StatusCheck struct {
	Status string // ok, impaired, initializing, not-applicable
	// Reachability is the check's one detail (passed, failed, initializing),
	// "" when the check does not apply.
	Reachability  string
	ImpairedSince time.Time
}

// InstanceStatus is an instance as DescribeInstanceStatus shows it.
type InstanceStatus struct {
	InstanceID       string
	AvailabilityZone string
	State            string
	System, Instance StatusCheck
}

// statusAt computes the status checks of an instance now: they apply to a
// running instance only; a failure the monitor recorded wins over the
// initializing period after launch.
func (in *Instance) statusAt(now time.Time) InstanceStatus {
	st := InstanceStatus{InstanceID: in.ID, AvailabilityZone: in.AvailabilityZone, State: in.State}
	if in.State != InstanceRunning {
		st.System = StatusCheck{Status: StatusNotApplicable}
		st.Instance = st.System
		return st
	}
	passed := StatusCheck{Status: StatusOK, Reachability: CheckPassed}
	st.System, st.Instance = passed, passed
	h := in.Health
	switch {
	case !h.SystemImpairedSince.IsZero():
		failed := StatusCheck{Status: StatusImpaired, Reachability: CheckFailed, ImpairedSince: h.SystemImpairedSince}
		st.System, st.Instance = failed, failed
	case !h.ImpairedSince.IsZero():
		st.Instance = StatusCheck{Status: StatusImpaired, Reachability: CheckFailed, ImpairedSince: h.ImpairedSince}
	case now.Before(in.LaunchTime.Add(StatusInitializingPeriod)):
		warming := StatusCheck{Status: StatusInitializing, Reachability: CheckInitializing}
		st.System, st.Instance = warming, warming
	}
	return st
}

// noEvents answers the event.* filters: strato schedules no events (no host
// retirement, no maintenance), so a filter on them matches nothing.
func noEvents(InstanceStatus) []string { return nil }

var instanceStatusFields = filter.Fields[InstanceStatus]{
	"availability-zone":            func(v InstanceStatus) []string { return one(v.AvailabilityZone) },
	"instance-state-name":          func(v InstanceStatus) []string { return one(v.State) },
	"instance-state-code":          func(v InstanceStatus) []string { return intValue(int(InstanceStateCode(v.State))) },
	"system-status.status":         func(v InstanceStatus) []string { return one(v.System.Status) },
	"instance-status.status":       func(v InstanceStatus) []string { return one(v.Instance.Status) },
	"system-status.reachability":   func(v InstanceStatus) []string { return one(v.System.Reachability) },
	"instance-status.reachability": func(v InstanceStatus) []string { return one(v.Instance.Reachability) },
	"event.code":                   noEvents,
	"event.description":            noEvents,
	"event.instance-event-id":      noEvents,
	"event.not-after":              noEvents,
	"event.not-before":             noEvents,
	"event.not-before-deadline":    noEvents,
}

// DescribeInstanceStatus reports the status checks of the scope's instances
// (those named, each must exist, or all): running ones only unless
// includeAll, filtered and paginated (MaxResults 5..1000, not with IDs).
func (c *Cloud) DescribeInstanceStatus(ctx context.Context, s Scope, ids []string, includeAll bool, filters []filter.Filter, page Page) ([]InstanceStatus, string, error) {
	m, err := filter.Compile(filters, instanceStatusFields, nil)
	if err != nil {
		return nil, "", err
	}
	var out []InstanceStatus
	if err := c.view(ctx, func(tx store.Tx) error {
		list, err := visibleInstances(tx, s, ids)
		now := txNow(tx)
		for _, in := range list {
			if includeAll || in.State == InstanceRunning {
				out = append(out, in.statusAt(now))
			}
		}
		return err
	}); err != nil {
		return nil, "", err
	}
	out = m.Filter(out)
	id := func(v InstanceStatus) string { return v.InstanceID }
	sortByUniqueKey(out, id)
	return PageOf(c, s, "DescribeInstanceStatus", filters, page, 5, 1000, out, id)
}

// visibleInstances reads the instances a Describe call names (each must
// exist) or all of them, without those terminated more than
// TerminatedVisibility ago (named, they are not found, as on AWS).
func visibleInstances(tx store.Tx, s Scope, ids []string) ([]Instance, error) {
	list, err := instances.load(tx, s, ids, nil)
	if err != nil {
		return nil, err
	}
	now := txNow(tx)
	out := list[:0]
	for _, in := range list {
		switch {
		case !in.goneAt(now):
			out = append(out, in)
		case len(ids) > 0:
			return nil, &NotFoundError{Kind: KindInstance, ID: in.ID}
		}
	}
	return out, nil
}
