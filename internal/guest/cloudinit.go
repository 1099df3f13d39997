package guest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
)

// CloudInitPath is where images with real cloud-init (debian-12) have it.
const CloudInitPath = "/usr/bin/cloud-init"

// delegateToCloudInit lets an image's own cloud-init configure the instance through its
// EC2 datasource against strato's metadata service (what the image would do on EC2),
// running cloud-init's stages as systemd would and the image's sshd between them. It
// reports false, having changed nothing the helper would do, when the image has no
// cloud-init or cloud-init did not take the instance from the metadata service; then the
// helper configures it. User data runs in cloud-init's final stage only, so it never
// runs twice.
func (g *Guest) delegateToCloudInit(ctx context.Context, md *metadata) bool {
	if g.cfg.CloudInit == "never" {
		return false
	}
	bin := g.path(CloudInitPath)
	if _, err := os.Stat(bin); err != nil {
		return false
	}
	g.logf("cloud-init: the image has cloud-init; running its stages")
	if err := g.writeCloudInitNetworkOff(); err != nil {
		g.logf("cloud-init: %v", err)
	}
	g.cloudInitStage(bin, "init")
	got, _ := os.ReadFile(g.path("/var/lib/cloud/data/instance-id"))
	if strings.TrimSpace(string(got)) != md.InstanceID {
		g.logf("cloud-init: did not configure %s from the metadata service; strato-guest does", md.InstanceID)
		return false
	}
	if _, err := os.Stat(g.path(SSHDPath)); err == nil {
		short, _ := hostnames(md)
		g.startSSHD(short, false)
	} else {
		g.startSSH(ctx, md)
	}
	for _, mode := range []string{"config", "final"} {
		if ctx.Err() != nil {
			return true
		}
		g.cloudInitStage(bin, "modules", "--mode", mode)
	}
	return true
}

// CloudInitNetworkOffPath is the cloud-init configuration strato-guest writes: a
// container instance's interfaces are configured before its init starts (there is
// no DHCP server on the instance network), so cloud-init must leave them alone —
// its default, DHCP through ifup, would wait a minute and then drop the address.
const CloudInitNetworkOffPath = "/etc/cloud/cloud.cfg.d/99-strato-network.cfg"

func (g *Guest) writeCloudInitNetworkOff() error {
	path := g.path(CloudInitNetworkOffPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte("# Written by strato-guest: strato configures this instance's network before boot.\nnetwork: {config: disabled}\n"), 0o644)
}

func (g *Guest) cloudInitStage(bin string, args ...string) {
	ws, err := g.runToConsole(g.rootCommand(bin, args...))
	switch {
	case err != nil:
		g.logf("cloud-init %s: %v", strings.Join(args, " "), err)
	case !ws.Exited() || ws.ExitStatus() != 0:
		// cloud-init exits 1 when any module reported an error; the stage still ran.
		g.logf("cloud-init %s: %s", strings.Join(args, " "), describeStatus(ws))
	}
}
