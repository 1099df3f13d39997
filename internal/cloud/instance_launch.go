package cloud

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"strato/internal/catalog"
	"strato/internal/store"
)

// instanceWork runs one background step of an instance's life (launch, stop,
// start, reboot, terminate) once at a time per instance and step; the Cloud's
// job runner tracks it, so WaitBlockJobs and Close see it.
func (c *Cloud) instanceWork(s Scope, id, op string, fn func(ctx context.Context) error) {
	c.jobs.goOnce("instance:"+op+":"+id, func(ctx context.Context) {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("instance "+op+" failed", "instance", id, "account", s.Account, "region", s.Region, "err", err)
		}
	})
}

// launchInstance makes a pending instance real in the background: its root
// volume restored, then the driver's Create and Start, then running. A failure
// terminates it with AWS's Server.InternalError reason.
func (c *Cloud) launchInstance(s Scope, id string) {
	c.instanceWork(s, id, "launch", func(ctx context.Context) error {
		err := c.runLaunch(ctx, s, id)
		if err != nil && ctx.Err() == nil {
			if ferr := c.failLaunch(ctx, s, id); ferr != nil {
				c.log.Error("recording a failed launch", "instance", id, "err", ferr)
			}
		}
		return err
	})
}

func (c *Cloud) runLaunch(ctx context.Context, s Scope, id string) error {
	var in Instance
	var creating []blockJob
	if err := c.view(ctx, func(tx store.Tx) error {
		var err error
		if in, err = instances.get(tx, s, id); err != nil {
			return err
		}
		vols, err := volumesOfInstance(tx, s, id)
		if err != nil {
			return err
		}
		for _, v := range vols {
			if v.State != VolumeCreating {
				continue
			}
			// The job recorded with the volume names the snapshot it is made from.
			j, found, err := recordedJob(tx, newBlockJob(jobCreateVolume, s, v.ID).ID)
			if err != nil {
				return err
			}
			if !found {
				j = newBlockJob(jobCreateVolume, s, v.ID)
			}
			creating = append(creating, j)
		}
		return nil
	}); err != nil {
		return ignoreNotFound(err, nil)
	}
	if in.State != InstancePending {
		return nil
	}
	// The volumes made with the instance: their jobs were recorded with them.
	for _, j := range creating {
		if err := c.runCreateVolume(ctx, j); err != nil {
			if ferr := c.failJob(j, err); ferr != nil {
				c.log.Error("recording a failed volume", "volume", j.Resource, "err", ferr)
			}
			return err
		}
	}
	if in.ImageBundle != "" {
		// An instance-store-backed instance boots from its own copy of the
		// image's bundle (repeat-safe: an existing copy is kept).
		if err := c.blocks.RestoreVolume(ctx, instanceStoreRootID(id), InstanceStoreRootSize, in.ImageBundle, nil, nil, func(done, total int64) {}); err != nil {
			return fmt.Errorf("copying the root of %s from bundle %s: %w", id, in.ImageBundle, err)
		}
	}
	spec, err := c.instanceSpec(ctx, s, id)
	if err != nil {
		return err
	}
	if err := c.compute.Create(ctx, spec); err != nil {
		return fmt.Errorf("driver %s creating %s: %w", c.compute.Name(), id, err)
	}
	if err := c.compute.Start(ctx, id); err != nil {
		return fmt.Errorf("driver %s starting %s: %w", c.compute.Name(), id, err)
	}
	return c.update(ctx, func(tx store.Tx) error {
		in, err := instances.get(tx, s, id)
		if err != nil || in.State != InstancePending {
			return ignoreNotFound(err, nil)
		}
		if err := settleVolumes(tx, s, id); err != nil {
			return err
		}
		if err := settleInterfaces(tx, s, id); err != nil {
			return err
		}
		in.State, in.StateReasonCode, in.StateReasonMessage = InstanceRunning, "", ""
		return instances.update(tx, s, &in)
	})
}

// settleVolumes marks an instance's attaching volumes attached and in use.
func settleVolumes(tx store.Tx, s Scope, id string) error {
	vols, err := volumesOfInstance(tx, s, id)
	if err != nil {
		return err
	}
	for _, v := range vols {
		changed := v.State != VolumeInUse
		for i := range v.Attachments {
			if v.Attachments[i].InstanceID == id && v.Attachments[i].State == AttachAttaching {
				v.Attachments[i].State, changed = AttachAttached, true
			}
		}
		if changed {
			v.State = VolumeInUse
			if err := volumes.update(tx, s, &v); err != nil {
				return err
			}
		}
	}
	return nil
}

// settleInterfaces marks an instance's attaching interfaces attached.
func settleInterfaces(tx store.Tx, s Scope, id string) error {
	enis, err := interfacesOfInstance(tx, s, id)
	if err != nil {
		return err
	}
	for _, n := range enis {
		if n.Attachment.Status == AttachAttaching {
			n.Attachment.Status = AttachAttached
			if err := networkInterfaces.update(tx, s, &n); err != nil {
				return err
			}
		}
	}
	return nil
}

// failLaunch ends an instance whose launch failed as AWS does: terminated, with
// Server.InternalError, its volumes and interfaces released.
func (c *Cloud) failLaunch(ctx context.Context, s Scope, id string) error {
	if err := c.compute.Destroy(ctx, id); err != nil {
		c.log.Error("destroying a failed instance", "instance", id, "err", err)
	}
	return c.finishTerminate(ctx, s, id, "Server.InternalError", "Server.InternalError: Internal error on launch")
}

// instanceSpec is what the driver needs to make an instance.
func (c *Cloud) instanceSpec(ctx context.Context, s Scope, id string) (InstanceSpec, error) {
	var spec InstanceSpec
	err := c.view(ctx, func(tx store.Tx) error {
		in, err := instances.get(tx, s, id)
		if err != nil {
			return err
		}
		it, _ := catalog.LookupInstanceType(in.InstanceType)
		spec = InstanceSpec{
			ID: in.ID, InstanceType: in.InstanceType, VCPUs: it.VCpuInfo.DefaultVCpus, MemoryMiB: int(it.MemoryInfo.SizeInMiB),
			Architecture: in.Architecture, Hostname: "ip-" + strings.ReplaceAll(in.PrivateIP, ".", "-"), RootType: in.RootDeviceType,
		}
		if in.ImageBundle != "" {
			spec.Root = BlockDevice{Device: in.RootDeviceName, Path: c.blocks.VolumePath(instanceStoreRootID(id)), Ephemeral: true, Size: InstanceStoreRootSize}
		}
		vols, err := volumesOfInstance(tx, s, id)
		if err != nil {
			return err
		}
		for _, v := range vols {
			a := attachmentTo(&v, id)
			if a.State == AttachDetaching {
				continue
			}
			dev, err := c.volumeDevice(tx, s, &v, a.Device)
			if err != nil {
				return err
			}
			if dev.Device == in.RootDeviceName {
				spec.Root = dev
			} else {
				spec.Devices = append(spec.Devices, dev)
			}
		}
		// Instance storage: where its files live is the driver's choice (it
		// belongs to the host the instance runs on), so Path is empty.
		for _, d := range in.InstanceStore {
			spec.Devices = append(spec.Devices, BlockDevice{Device: d.Device, Ephemeral: true, Size: d.Size})
		}
		enis, err := interfacesOfInstance(tx, s, id)
		if err != nil {
			return err
		}
		for _, n := range enis {
			if n.Attachment.Status == AttachDetaching {
				continue
			}
			is, err := interfaceSpec(tx, s, &n)
			if err != nil {
				return err
			}
			spec.Interfaces = append(spec.Interfaces, is)
		}
		return nil
	})
	return spec, err
}

// attachmentTo is a volume's attachment to an instance.
func attachmentTo(v *Volume, instanceID string) VolumeAttachment {
	for _, a := range v.Attachments {
		if a.InstanceID == instanceID {
			return a
		}
	}
	return VolumeAttachment{}
}

// volumeDevice is an EBS volume as a driver sees it at a device name: its
// file, and its key when encrypted.
func (c *Cloud) volumeDevice(tx store.Tx, s Scope, v *Volume, device string) (BlockDevice, error) {
	dev := BlockDevice{Device: device, Path: c.blocks.VolumePath(v.ID)}
	if v.DataKey != nil {
		var err error
		if dev.Key, err = openVolumeKey(tx, s, *v.DataKey); err != nil {
			return BlockDevice{}, err
		}
	}
	return dev, nil
}

// interfaceSpec is a network interface as a driver sees it.
func interfaceSpec(tx store.Tx, s Scope, n *NetworkInterface) (InterfaceSpec, error) {
	sn, err := subnets.get(tx, s, n.SubnetID)
	if err != nil {
		return InterfaceSpec{}, err
	}
	is := InterfaceSpec{ID: n.ID, MAC: n.MACAddress, SubnetCIDR: sn.CIDR, VpcID: n.VpcID, SubnetID: n.SubnetID}
	if n.Attachment != nil {
		is.DeviceIndex = n.Attachment.DeviceIndex
	}
	if p, err := netip.ParsePrefix(sn.CIDR); err == nil {
		is.Gateway = p.Masked().Addr().Next().String()
	}
	for _, a := range n.PrivateIPs {
		is.PrivateIPs = append(is.PrivateIPs, a.Address)
	}
	return is, nil
}

// interfacesOfInstance lists the interfaces attached to an instance, by device index.
func interfacesOfInstance(tx store.Tx, s Scope, id string) ([]NetworkInterface, error) {
	all, err := networkInterfaces.load(tx, s, nil, nil)
	if err != nil {
		return nil, err
	}
	var out []NetworkInterface
	for _, n := range all {
		if n.Attachment != nil && n.Attachment.InstanceID == id {
			out = append(out, n)
		}
	}
	slices.SortStableFunc(out, byDeviceIndex)
	return out, nil
}

// byDeviceIndex orders attached interfaces by their device index.
func byDeviceIndex(a, b NetworkInterface) int {
	return a.Attachment.DeviceIndex - b.Attachment.DeviceIndex
}

// ResumeInstances redoes, after a restart, the background work of instances
// left between states: pending ones are launched or started, stopping ones
// stopped, shutting-down ones terminated. Call it after UseCompute and
// ResumeBlockJobs, before serving.
func (c *Cloud) ResumeInstances(ctx context.Context) error {
	if c.compute == nil {
		return errNoCompute
	}
	var pending []Instance
	var scopes []Scope
	err := c.view(ctx, func(tx store.Tx) error {
		accounts, err := tx.ListAccounts()
		if err != nil {
			return err
		}
		for _, a := range accounts {
			for _, r := range catalog.Regions() {
				list, err := instances.load(tx, Scope{Account: a.ID, Region: r.Name}, nil, nil)
				if err != nil {
					return err
				}
				if len(list) > 0 {
					scopes = append(scopes, Scope{Account: a.ID, Region: r.Name})
				}
				for _, in := range list {
					switch in.State {
					case InstancePending, InstanceStopping, InstanceShuttingDown:
						pending = append(pending, in)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, in := range pending {
		s := Scope{Account: in.OwnerID, Region: in.Region}
		id := in.ID
		switch in.State {
		case InstancePending:
			// Create and Start are repeat-safe: a stopped instance restarting
			// is created already, a new one is made.
			c.launchInstance(s, id)
		case InstanceStopping:
			c.instanceWork(s, id, "stop", func(ctx context.Context) error {
				if err := c.compute.Stop(ctx, id, false); err != nil {
					return err
				}
				return c.settleState(ctx, s, id, InstanceStopping, InstanceStopped)
			})
		case InstanceShuttingDown:
			c.instanceWork(s, id, "terminate", func(ctx context.Context) error {
				if err := c.compute.Destroy(ctx, id); err != nil {
					return err
				}
				return c.finishTerminate(ctx, s, id, reasonUserShutdown, reasonUserShutdownMsg)
			})
		}
	}
	for _, s := range scopes {
		if err := c.resumeAttachments(ctx, s); err != nil {
			return err
		}
	}
	return nil
}
