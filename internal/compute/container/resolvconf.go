package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"strato/internal/compute"

	"strato/internal/compute/host"
)

// Containers have no DHCP client, so the driver does its DNS part: at every boot it
// asks the network what the VPC's DHCP options say (compute.DNSProvider), writes a
// resolv.conf into the instance's directory and bind-mounts it over the guest's
// /etc/resolv.conf, as Docker does. The root volume keeps the image's own file, and a
// change of the VPC's DHCP options reaches the instance at its next boot (on AWS, at
// its next lease renewal or reboot).

const (
	resolvConfName  = "resolv.conf" // in the instance's directory
	guestResolvConf = "/etc/resolv.conf"
)

// resolvConf is the guest's /etc/resolv.conf for cfg: a search line with the domains,
// then a nameserver line per resolver, as dhclient writes them.
func resolvConf(cfg compute.DNSConfig) []byte {
	var b strings.Builder
	b.WriteString("# Written by strato at boot from the VPC's DHCP options.\n")
	var search []string
	for _, d := range cfg.Search {
		// A domain is one word; anything else would break the line (the control plane
		// validates domain names, this only keeps the file well formed).
		if d != "" && !strings.ContainsFunc(d, func(r rune) bool { return r <= ' ' || r == '#' || r == ';' }) {
			search = append(search, d)
		}
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	for _, ns := range cfg.NameServers {
		if ns.IsValid() {
			fmt.Fprintf(&b, "nameserver %s\n", ns.Unmap())
		}
	}
	return []byte(b.String())
}

// prepareResolvConf writes the instance's resolv.conf and returns its path, or "" when
// the guest keeps the image's: no network that knows DNS, or no primary interface. When
// the network cannot tell (the VPC's policy has not reached it), the file of the last
// boot is kept, as a DHCP client keeps its last lease.
func (d *Driver) prepareResolvConf(ctx context.Context, in *instance) (string, error) {
	provider, ok := d.opts.Network.(compute.DNSProvider)
	if !ok {
		return "", nil
	}
	vpcID := ""
	for _, nic := range in.rec.Spec.Interfaces {
		if nic.DeviceIndex == 0 {
			vpcID = nic.VpcID
		}
	}
	if vpcID == "" {
		return "", nil
	}
	path := filepath.Join(in.dir, resolvConfName)
	cfg, err := provider.InstanceDNS(ctx, vpcID)
	if err != nil {
		if _, statErr := os.Stat(path); statErr == nil {
			d.opts.Log.Warn("compute container: DNS settings unknown, keeping the last ones", "instance", in.id, "err", err)
			return path, nil
		} else if !errors.Is(statErr, os.ErrNotExist) {
			return "", statErr
		}
		d.opts.Log.Warn("compute container: DNS settings unknown, the image's resolv.conf stays", "instance", in.id, "err", err)
		return "", nil
	}
	if err := host.ReplaceFile(path, func(f *os.File) error {
		if err := f.Chmod(0o644); err != nil {
			return err
		}
		_, err := f.Write(resolvConf(cfg))
		return err
	}); err != nil {
		return "", fmt.Errorf("resolv.conf: %w", err)
	}
	return path, nil
}
