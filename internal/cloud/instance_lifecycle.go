package cloud

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"strato/internal/store"
)

// StateChange is an instance's state before and after a request, as
// Start/Stop/TerminateInstances answer.
type StateChange struct {
	InstanceID             string
	PreviousState, Current string
}

// AWS's state reasons.
const (
	reasonUserShutdown    = "Client.UserInitiatedShutdown"
	reasonUserShutdownMsg = "Client.UserInitiatedShutdown: User initiated shutdown"
)

// changeStates applies change to each instance in one transaction (all or
// none, as AWS refuses the whole call when one instance cannot), then runs the
// background work of those that changed.
func (c *Cloud) changeStates(ctx context.Context, s Scope, ids []string, change func(tx store.Tx, in *Instance) (bool, error), work func(ctx context.Context, id string) error, op string) ([]StateChange, error) {
	if c.compute == nil {
		return nil, errNoCompute
	}
	if len(ids) == 0 {
		return nil, errorf("MissingParameter", "The request must contain the parameter InstanceId")
	}
	var out []StateChange
	var started []string
	err := c.update(ctx, func(tx store.Tx) error {
		out, started = nil, nil
		for _, id := range ids {
			in, err := liveInstance(tx, s, id)
			if err != nil {
				return err
			}
			prev := in.State
			changed, err := change(tx, &in)
			if err != nil {
				return err
			}
			if changed {
				if err := instances.update(tx, s, &in); err != nil {
					return err
				}
				started = append(started, id)
			}
			out = append(out, StateChange{InstanceID: id, PreviousState: prev, Current: in.State})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range started {
		c.instanceWork(s, id, op, func(ctx context.Context) error { return work(ctx, id) })
	}
	return out, nil
}

// StopInstances stops running instances: stopping, then stopped once the
// driver has shut them down. A stopped instance stays stopped.
func (c *Cloud) StopInstances(ctx context.Context, s Scope, ids []string, force bool) ([]StateChange, error) {
	now := c.clock.Now()
	return c.changeStates(ctx, s, ids, func(tx store.Tx, in *Instance) (bool, error) {
		if in.RootDeviceType == RootDeviceInstanceStore {
			return false, errorf("UnsupportedOperation", "The instance '%s' does not have an 'ebs' root device type and cannot be stopped.", in.ID)
		}
		switch in.State {
		case InstanceStopped:
			return false, nil
		case InstanceStopping:
			return force, nil
		case InstanceRunning:
		default:
			return false, errorf("IncorrectInstanceState", "This instance '%s' is not in a state from which it can be stopped.", in.ID)
		}
		if in.DisableAPIStop {
			return false, errorf("OperationNotPermitted", "The instance '%s' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.", in.ID)
		}
		in.State, in.StateTransitionReason = InstanceStopping, transitionReason(now)
		in.StateReasonCode, in.StateReasonMessage = reasonUserShutdown, reasonUserShutdownMsg
		return true, nil
	}, func(ctx context.Context, id string) error {
		if err := c.compute.Stop(ctx, id, force); err != nil {
			return fmt.Errorf("driver %s stopping %s: %w", c.compute.Name(), id, err)
		}
		return c.settleState(ctx, s, id, InstanceStopping, InstanceStopped)
	}, "stop")
}

// StartInstances starts stopped instances: pending, then running once the
// driver has booted them. A running or pending instance is left as it is.
func (c *Cloud) StartInstances(ctx context.Context, s Scope, ids []string) ([]StateChange, error) {
	changedVPCs := map[string]bool{}
	out, err := c.changeStates(ctx, s, ids, func(tx store.Tx, in *Instance) (bool, error) {
		switch in.State {
		case InstanceRunning, InstancePending:
			return false, nil
		case InstanceStopped:
		default:
			return false, errorf("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be started.", in.ID)
		}
		if in.RootVolumeID == "" {
			return false, errorf("IncorrectInstanceState", "The instance '%s' has no root volume attached at %s.", in.ID, in.RootDeviceName)
		}
		in.State, in.StateTransitionReason, in.StateReasonCode, in.StateReasonMessage = InstancePending, "", "", ""
		in.LaunchTime = txNow(tx) // AWS's LaunchTime is the last start
		// A new public address, if it was launched with one (AWS never gives
		// back the old one).
		vpcIDs, err := instancePublicIPs(tx, s, in.ID, true)
		for _, v := range vpcIDs {
			changedVPCs[v] = true
		}
		return true, err
	}, func(ctx context.Context, id string) error {
		if err := c.compute.Start(ctx, id); err != nil {
			return fmt.Errorf("driver %s starting %s: %w", c.compute.Name(), id, err)
		}
		return c.settleState(ctx, s, id, InstancePending, InstanceRunning)
	}, "start")
	if err == nil {
		c.networkChanged(s, slices.Collect(maps.Keys(changedVPCs))...)
	}
	return out, err
}

// RebootInstances reboots running instances (the state stays running).
func (c *Cloud) RebootInstances(ctx context.Context, s Scope, ids []string) error {
	_, err := c.changeStates(ctx, s, ids, func(tx store.Tx, in *Instance) (bool, error) {
		if in.State != InstanceRunning {
			return false, errorf("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be rebooted.", in.ID)
		}
		return true, nil
	}, func(ctx context.Context, id string) error {
		err := c.compute.Reboot(ctx, id)
		if errors.Is(err, ErrComputeInvalidState) {
			// Its process died (the instance is impaired): rebooting is the
			// cure, as on AWS, so the driver starts it again.
			if rt, serr := c.compute.Status(ctx, id); serr == nil && rt.State == "stopped" {
				return c.compute.Start(ctx, id)
			}
		}
		return err
	}, "reboot")
	return err
}

// TerminateInstances terminates instances: shutting-down, then terminated once
// the driver has destroyed them; their DeleteOnTermination volumes and the
// interfaces made with them are deleted, other volumes become available.
func (c *Cloud) TerminateInstances(ctx context.Context, s Scope, ids []string) ([]StateChange, error) {
	now := c.clock.Now()
	return c.changeStates(ctx, s, ids, func(tx store.Tx, in *Instance) (bool, error) {
		switch in.State {
		case InstanceTerminated, InstanceShuttingDown:
			return false, nil
		}
		if in.DisableAPITermination {
			return false, errorf("OperationNotPermitted", "The instance '%s' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.", in.ID)
		}
		in.State, in.StateTransitionReason = InstanceShuttingDown, transitionReason(now)
		in.StateReasonCode, in.StateReasonMessage = reasonUserShutdown, reasonUserShutdownMsg
		return true, nil
	}, func(ctx context.Context, id string) error {
		if err := c.compute.Destroy(ctx, id); err != nil {
			return fmt.Errorf("driver %s destroying %s: %w", c.compute.Name(), id, err)
		}
		return c.finishTerminate(ctx, s, id, reasonUserShutdown, reasonUserShutdownMsg)
	}, "terminate")
}

// settleState moves an instance from one state to the next once the driver
// has done its part (unless something else moved it meanwhile). A stopped
// instance gives back its public addresses; a running one has its devices
// attached.
func (c *Cloud) settleState(ctx context.Context, s Scope, id, from, to string) error {
	var changed []string
	err := c.update(ctx, func(tx store.Tx) error {
		changed = nil
		in, err := instances.get(tx, s, id)
		if err != nil || in.State != from {
			return ignoreNotFound(err, nil)
		}
		switch to {
		case InstanceStopped:
			if changed, err = instancePublicIPs(tx, s, id, false); err != nil {
				return err
			}
		case InstanceRunning:
			if err := settleVolumes(tx, s, id); err != nil {
				return err
			}
			if err := settleInterfaces(tx, s, id); err != nil {
				return err
			}
		}
		in.State = to
		return instances.update(tx, s, &in)
	})
	if err == nil {
		c.networkChanged(s, changed...)
	}
	return err
}

// finishTerminate records an instance terminated and releases what it held.
func (c *Cloud) finishTerminate(ctx context.Context, s Scope, id, reasonCode, reasonMsg string) error {
	var deletions []blockJob
	var vpcIDs []string
	var bundleCopy string
	err := c.update(ctx, func(tx store.Tx) error {
		deletions, vpcIDs, bundleCopy = nil, nil, ""
		in, err := instances.get(tx, s, id)
		if err != nil || in.State == InstanceTerminated {
			return ignoreNotFound(err, nil)
		}
		if in.ImageBundle != "" {
			bundleCopy = instanceStoreRootID(id)
		}
		vols, err := volumesOfInstance(tx, s, id)
		if err != nil {
			return err
		}
		for _, v := range vols {
			deleteIt := false
			for i, a := range v.Attachments {
				if a.InstanceID == id {
					deleteIt = a.DeleteOnTermination
					v.Attachments = append(v.Attachments[:i], v.Attachments[i+1:]...)
					break
				}
			}
			if len(v.Attachments) == 0 {
				v.Attachments = nil
				if v.State != VolumeDeleting && v.State != VolumeCreating {
					v.State = VolumeAvailable
					if deleteIt {
						v.State = VolumeDeleting
						j := newBlockJob(jobDeleteVolume, s, v.ID)
						if ok, err := jobRecorded(tx, j.ID); err != nil {
							return err
						} else if !ok {
							if err := recordJob(tx, j); err != nil {
								return err
							}
						}
						deletions = append(deletions, j)
					}
				}
			}
			if err := volumes.update(tx, s, &v); err != nil {
				return err
			}
		}
		enis, err := interfacesOfInstance(tx, s, id)
		if err != nil {
			return err
		}
		for _, n := range enis {
			vpcIDs = append(vpcIDs, n.VpcID)
			if n.Attachment.DeleteOnTermination {
				// Its Elastic IPs are unmapped, its public address released.
				if err := deleteInterface(tx, s, n.ID); err != nil {
					return err
				}
				continue
			}
			if _, err := releaseAutoPublicIPs(tx, &n); err != nil {
				return err
			}
			n.Attachment, n.AutoPublicIP = nil, false
			if err := networkInterfaces.update(tx, s, &n); err != nil {
				return err
			}
			// Its Elastic IPs stay mapped to it, no longer to the instance.
			if err := setAddressesInstance(tx, s, &n, ""); err != nil {
				return err
			}
		}
		in.State, in.TerminatedAt = InstanceTerminated, txNow(tx)
		in.StateReasonCode, in.StateReasonMessage = reasonCode, reasonMsg
		in.PrivateIP, in.InterfaceID = "", ""
		return instances.update(tx, s, &in)
	})
	for _, j := range deletions {
		c.launch(j, nil)
	}
	if err == nil {
		c.networkAndPeersChanged(ctx, s, vpcIDs...)
		if bundleCopy != "" {
			// The driver removes instance storage with the instance; this copy is
			// the block store's, removed here (repeat-safe).
			if derr := c.blocks.DeleteVolume(bundleCopy); derr != nil {
				c.log.Error("removing the root copy of an instance-store instance", "instance", id, "err", derr)
			}
		}
	}
	return err
}
