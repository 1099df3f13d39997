package guest

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// hostsMarker ends the /etc/hosts line the helper owns, so each boot replaces it.
const hostsMarker = "# strato-guest"

// hostnames is the short host name (the first label of local-hostname, ip-10-0-1-5 on
// EC2) and the full one; from local-ipv4 when the metadata has no name.
func hostnames(md *metadata) (short, full string) {
	full = md.LocalHostname
	if full == "" && md.LocalIPv4 != "" {
		full = "ip-" + strings.ReplaceAll(md.LocalIPv4, ".", "-")
	}
	short, _, _ = strings.Cut(full, ".")
	return short, full
}

// setHostname sets the kernel's host name (as PID 1, in the instance's own UTS
// namespace), /etc/hostname, and an /etc/hosts line for the instance's own names.
func (g *Guest) setHostname(md *metadata) {
	short, full := hostnames(md)
	if short == "" {
		g.logf("hostname: the metadata has neither local-hostname nor local-ipv4; left unchanged")
		return
	}
	if g.cfg.PID1 {
		if err := unix.Sethostname([]byte(short)); err != nil {
			g.logf("hostname: sethostname %s: %v", short, err)
		}
	}
	if err := writeFileAtomic(g.path("/etc/hostname"), []byte(short+"\n"), 0o644); err != nil {
		g.logf("hostname: /etc/hostname: %v", err)
	}
	if err := g.updateHosts(md.LocalIPv4, short, full); err != nil {
		g.logf("hostname: /etc/hosts: %v", err)
	}
	g.logf("hostname: %s", short)
}

func (g *Guest) updateHosts(ip, short, full string) error {
	path := g.path("/etc/hosts")
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(old), "\n") {
		if line == "" || strings.HasSuffix(strings.TrimSpace(line), hostsMarker) {
			continue
		}
		b.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			b.WriteString("\n")
		}
	}
	if ip == "" {
		ip = "127.0.1.1" // Debian's address for the host's own name when it has no fixed one
	}
	names := short
	if full != short {
		names = full + " " + short
	}
	b.WriteString(ip + " " + names + " " + hostsMarker + "\n")
	return writeFileAtomic(path, []byte(b.String()), 0o644)
}

// writeFileAtomic replaces path's content through a temporary file and a rename, so a
// crash never leaves half a file; an existing file's mode and owner are kept.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	uid, gid := -1, -1
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
		if sys, ok := st.Sys().(*unix.Stat_t); ok {
			uid, gid = int(sys.Uid), int(sys.Gid)
		}
	}
	tmp := path + ".strato-tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil && uid >= 0 {
		if cerr := f.Chown(uid, gid); cerr != nil && !os.IsPermission(cerr) {
			err = cerr
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
