package guest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// cloudConfig is the part of a #cloud-config document the helper acts on.
type cloudConfig struct {
	// runcmd as lines of one shell script, as cloud-init writes it: a string is a line
	// as given, a list is its items shell-quoted (so they reach the command as argv).
	runcmd     []string
	writeFiles []writeFile
	keys       []string
	// packages and the other package keys are read only to say they are ignored.
	packages   []string
	packageOps []string
	ignored    []string
}

// writeFile is one write_files entry.
type writeFile struct {
	Path        string    `yaml:"path"`
	Content     yaml.Node `yaml:"content"`
	Encoding    string    `yaml:"encoding"`
	Permissions yaml.Node `yaml:"permissions"`
	Owner       string    `yaml:"owner"`
	Append      bool      `yaml:"append"`
	Defer       bool      `yaml:"defer"`
}

// packageKeys are cloud-config's package-manager keys; strato-guest installs nothing.
var packageKeys = []string{"package_update", "package_upgrade", "package_reboot_if_required", "apt", "yum_repos"}

// parseCloudConfig reads a #cloud-config document.
func parseCloudConfig(data []byte) (*cloudConfig, error) {
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	cc := &cloudConfig{}
	names := make([]string, 0, len(top))
	for k := range top {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, key := range names {
		node := top[key]
		var err error
		switch key {
		case "runcmd":
			cc.runcmd, err = runcmdLines(&node)
		case "write_files":
			err = node.Decode(&cc.writeFiles)
		case "ssh_authorized_keys":
			cc.keys = stringList(&node, "")
		case "packages":
			cc.packages = packageNames(&node)
		default:
			if slices.Contains(packageKeys, key) {
				cc.packageOps = append(cc.packageOps, key)
			} else {
				cc.ignored = append(cc.ignored, key)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return cc, nil
}

// runcmdLines turns runcmd's entries into script lines.
func runcmdLines(n *yaml.Node) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("want a list")
	}
	var lines []string
	for _, item := range n.Content {
		switch item.Kind {
		case yaml.ScalarNode:
			lines = append(lines, item.Value)
		case yaml.SequenceNode:
			words := make([]string, 0, len(item.Content))
			for _, w := range item.Content {
				if w.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("line %d: a command's words must be strings", item.Line)
				}
				words = append(words, shellQuote(w.Value))
			}
			lines = append(lines, strings.Join(words, " "))
		default:
			return nil, fmt.Errorf("line %d: want a string or a list of strings", item.Line)
		}
	}
	return lines, nil
}

// shellQuote quotes a word for sh unless it needs none.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./:,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// packageNames lists packages entries: names, or [name, version] pairs.
func packageNames(n *yaml.Node) []string {
	var out []string
	for _, item := range n.Content {
		switch item.Kind {
		case yaml.ScalarNode:
			out = append(out, item.Value)
		case yaml.SequenceNode:
			var words []string
			for _, w := range item.Content {
				words = append(words, w.Value)
			}
			out = append(out, strings.Join(words, "="))
		}
	}
	return out
}

// applyCloudConfig does the init-stage part of a cloud-config (files, keys) and says what
// it leaves out; runcmd is run later with the scripts.
func (g *Guest) applyCloudConfig(cc *cloudConfig, user *account) {
	if len(cc.packages) > 0 {
		g.logf("cloud-config: WARNING: packages are not installed by strato-guest; ignored: %s", strings.Join(cc.packages, ", "))
	}
	if len(cc.packageOps) > 0 {
		g.logf("cloud-config: WARNING: package management is not done by strato-guest; ignored: %s", strings.Join(cc.packageOps, ", "))
	}
	if len(cc.ignored) > 0 {
		g.logf("cloud-config: not supported by strato-guest, ignored: %s", strings.Join(cc.ignored, ", "))
	}
	// Deferred files (written after users exist in cloud-init) come second.
	for _, deferred := range []bool{false, true} {
		for i := range cc.writeFiles {
			if wf := &cc.writeFiles[i]; wf.Defer == deferred {
				if err := g.writeCloudFile(wf); err != nil {
					g.logf("cloud-config: write_files %s: %v", wf.Path, err)
				}
			}
		}
	}
	for _, key := range cc.keys {
		if user == nil {
			g.logf("cloud-config: ssh_authorized_keys: there is no default user")
			break
		}
		if err := g.authorizeKey(user, key); err != nil {
			g.logf("cloud-config: ssh_authorized_keys: %v", err)
		}
	}
}

// writeCloudFile writes one write_files entry.
func (g *Guest) writeCloudFile(wf *writeFile) error {
	if !filepath.IsAbs(wf.Path) {
		return fmt.Errorf("path must be absolute")
	}
	content, err := decodeContent(wf)
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if wf.Permissions.Kind == yaml.ScalarNode && wf.Permissions.Value != "" {
		v := strings.TrimPrefix(strings.TrimPrefix(wf.Permissions.Value, "0o"), "0O")
		m, err := strconv.ParseUint(v, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("permissions %q are not an octal mode", wf.Permissions.Value)
		}
		mode = os.FileMode(m)
	}
	owner := wf.Owner
	if owner == "" {
		owner = "root:root"
	}
	uid, gid, err := g.resolveOwner(owner)
	if err != nil {
		return err
	}
	path := g.path(wf.Path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if wf.Append {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, mode&os.ModePerm)
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// OpenFile's mode is filtered by the umask and ignored for an existing file.
	if err := os.Chmod(path, fileMode(mode)); err != nil {
		return err
	}
	if err := os.Chown(path, uid, gid); err != nil && !os.IsPermission(err) {
		return err
	}
	g.logf("cloud-config: wrote %s (%d bytes, %04o, %s)", wf.Path, len(content), uint32(mode), owner)
	return nil
}

// fileMode carries setuid, setgid and sticky bits over to Go's FileMode.
func fileMode(m os.FileMode) os.FileMode {
	out := m & os.ModePerm
	if m&0o4000 != 0 {
		out |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

// decodeContent undoes write_files' encodings (and YAML's !!binary).
func decodeContent(wf *writeFile) ([]byte, error) {
	raw := wf.Content.Value
	enc := strings.ToLower(strings.TrimSpace(wf.Encoding))
	if wf.Content.Tag == "!!binary" && enc == "" {
		enc = "b64"
	}
	unbase64 := func(s string) ([]byte, error) {
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, fmt.Errorf("content is not base64: %w", err)
		}
		return b, nil
	}
	gunzip := func(b []byte) ([]byte, error) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("content is not gzip: %w", err)
		}
		return io.ReadAll(io.LimitReader(zr, 64<<20))
	}
	switch enc {
	case "", "text/plain":
		return []byte(raw), nil
	case "b64", "base64":
		return unbase64(raw)
	case "gz", "gzip":
		return gunzip([]byte(raw))
	case "gz+b64", "gz+base64", "gzip+b64", "gzip+base64":
		b, err := unbase64(raw)
		if err != nil {
			return nil, err
		}
		return gunzip(b)
	}
	return nil, fmt.Errorf("encoding %q is not one of b64, base64, gz, gzip, gz+b64, gz+base64, gzip+b64, gzip+base64, text/plain", wf.Encoding)
}
