package cloud

import (
	"context"
	"errors"
	"fmt"
	"time"

	"strato/internal/catalog"
	"strato/internal/store"
)

// The instance monitor watches what the driver reports about running
// instances, because a guest acts on its own: it powers itself off
// (`poweroff`), which AWS answers by following the instance's
// InstanceInitiatedShutdownBehavior, or its process dies, which the status
// checks report as impaired.

// MonitorInterval is how often, by the cloud's clock, the monitor asks the
// driver about every running instance.
const MonitorInterval = 5 * time.Second

// monitorWake is how often, in real time, the monitor's goroutine reads the
// cloud's clock: a fake clock moves without timers, so the goroutine cannot
// sleep until it says so.
var monitorWake = time.Second

// AWS's state reason for a shutdown from inside the instance.
const (
	reasonGuestShutdown    = "Client.InstanceInitiatedShutdown"
	reasonGuestShutdownMsg = "Client.InstanceInitiatedShutdown: Instance initiated shutdown"
)

// StartInstanceMonitor starts the goroutine that checks the running instances
// every MonitorInterval (see CheckInstances). It runs until ctx ends or the
// Cloud closes (Close waits for it); a second call while it runs does nothing.
// Being one of the Cloud's background jobs, it keeps WaitBlockJobs waiting:
// end ctx before waiting for jobs.
func (c *Cloud) StartInstanceMonitor(ctx context.Context) error {
	if c.compute == nil {
		return errNoCompute
	}
	c.jobs.goOnce("instance-monitor", func(jobs context.Context) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(jobs, cancel)
		defer stop()
		c.monitor(ctx)
	})
	return nil
}

func (c *Cloud) monitor(ctx context.Context) {
	wake := time.NewTicker(monitorWake)
	defer wake.Stop()
	next := c.clock.Now()
	for {
		if now := c.clock.Now(); !now.Before(next) {
			if err := c.CheckInstances(ctx); err != nil && ctx.Err() == nil {
				c.log.Error("checking instances", "err", err)
			}
			next = now.Add(MonitorInterval)
		}
		select {
		case <-ctx.Done():
			return
		case <-wake.C:
		}
	}
}

// CheckInstances asks the driver once about every running instance: one the
// guest powered off stops or terminates as its
// InstanceInitiatedShutdownBehavior says, with AWS's
// Client.InstanceInitiatedShutdown reason; one whose process died is recorded
// impaired (and one the driver lost entirely, impaired in both checks) until
// the driver reports it well again. The monitor calls it every
// MonitorInterval; start-up may call it to reconcile what changed while
// strato was down.
func (c *Cloud) CheckInstances(ctx context.Context) error {
	if c.compute == nil {
		return errNoCompute
	}
	all, err := c.everyInstance(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, in := range all {
		s := Scope{Account: in.OwnerID, Region: in.Region}
		if in.State != InstanceRunning {
			if in.Health != (InstanceHealth{}) {
				errs = append(errs, c.recordHealth(ctx, s, in.ID, InstanceRuntime{State: "stopped"}, false))
			}
			continue
		}
		rt, err := c.compute.Status(ctx, in.ID)
		gone := errors.Is(err, ErrComputeNotFound) || rt.State == "gone"
		if err != nil && !gone {
			errs = append(errs, fmt.Errorf("driver %s status of %s: %w", c.compute.Name(), in.ID, err))
			continue
		}
		if rt.ShutdownFromGuest {
			errs = append(errs, c.guestShutdown(ctx, s, in.ID))
			continue
		}
		errs = append(errs, c.recordHealth(ctx, s, in.ID, rt, gone))
	}
	return errors.Join(errs...)
}

// everyInstance reads the instances of every account and Region.
func (c *Cloud) everyInstance(ctx context.Context) ([]Instance, error) {
	var out []Instance
	err := c.view(ctx, func(tx store.Tx) error {
		return eachScope(tx, func(s Scope) error {
			list, err := instances.load(tx, s, nil, nil)
			out = append(out, list...)
			return err
		})
	})
	return out, err
}

// eachScope calls fn for every account in every Region.
// scopeOf finds the account and Region of a resource by its ID alone (IDs are
// unique in the installation), for callers that know only the ID: the
// dataplane, the metadata service.
func scopeOf(tx store.Tx, kind, id string) (Scope, error) {
	var found *Scope
	errFound := errors.New("found")
	err := eachScope(tx, func(s Scope) error {
		_, err := tx.GetResource(s, kind, id)
		switch {
		case err == nil:
			found = &s
			return errFound
		case errors.Is(err, store.ErrNotFound):
			return nil
		}
		return err
	})
	if found != nil {
		return *found, nil
	}
	if err != nil {
		return Scope{}, err
	}
	return Scope{}, &NotFoundError{Kind: kind, ID: id}
}

func eachScope(tx store.Tx, fn func(s Scope) error) error {
	accounts, err := tx.ListAccounts()
	if err != nil {
		return err
	}
	for _, a := range accounts {
		for _, r := range catalog.Regions() {
			if err := fn(Scope{Account: a.ID, Region: r.Name}); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordHealth keeps what the driver said about a running instance (and
// forgets it once the instance no longer runs), writing only on a change.
func (c *Cloud) recordHealth(ctx context.Context, s Scope, id string, rt InstanceRuntime, gone bool) error {
	return c.update(ctx, func(tx store.Tx) error {
		in, err := instances.get(tx, s, id)
		if err != nil {
			return ignoreNotFound(err, nil)
		}
		h := InstanceHealth{}
		if in.State == InstanceRunning {
			now := txNow(tx)
			// A stopped process that did not power itself off died too.
			if rt.Impaired || gone || rt.State == "stopped" {
				h.ImpairedSince = orNow(in.Health.ImpairedSince, now)
			}
			if gone {
				h.SystemImpairedSince = orNow(in.Health.SystemImpairedSince, now)
			}
		}
		if h == in.Health {
			return nil
		}
		in.Health = h
		return instances.update(tx, s, &in)
	})
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// guestShutdown follows a running instance's InstanceInitiatedShutdownBehavior
// after its guest powered off: stopping then stopped, or shutting-down then
// terminated with its volumes and interfaces released as TerminateInstances
// does. Neither termination nor stop protection applies: AWS documents that
// they guard the API, not a shutdown from inside.
func (c *Cloud) guestShutdown(ctx context.Context, s Scope, id string) error {
	now := c.clock.Now()
	terminate := false
	_, err := c.changeStates(ctx, s, []string{id}, func(tx store.Tx, in *Instance) (bool, error) {
		if in.State != InstanceRunning {
			return false, nil
		}
		terminate = in.InstanceInitiatedShutdownBehavior == "terminate"
		in.State = InstanceStopping
		if terminate {
			in.State = InstanceShuttingDown
		}
		in.StateTransitionReason = transitionReason(now)
		in.StateReasonCode, in.StateReasonMessage = reasonGuestShutdown, reasonGuestShutdownMsg
		in.Health = InstanceHealth{}
		return true, nil
	}, func(ctx context.Context, id string) error {
		if terminate {
			if err := c.compute.Destroy(ctx, id); err != nil {
				return fmt.Errorf("driver %s destroying %s: %w", c.compute.Name(), id, err)
			}
			return c.finishTerminate(ctx, s, id, reasonGuestShutdown, reasonGuestShutdownMsg)
		}
		if err := c.compute.Stop(ctx, id, false); err != nil {
			return fmt.Errorf("driver %s stopping %s: %w", c.compute.Name(), id, err)
		}
		return c.settleState(ctx, s, id, InstanceStopping, InstanceStopped)
	}, "guest-shutdown")
	return ignoreNotFound(err, nil)
}
