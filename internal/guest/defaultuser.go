package guest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"
)

// userSpec is the image's default user, as cloud-init's system_info.default_user says.
type userSpec struct {
	Name   string
	Groups []string
	Shell  string
	// Sudo is the sudoers rules for the user; empty for none.
	Sudo []string
}

// FallbackUser is the default user of images that do not name one: the name Amazon
// Linux and the minimal image use.
const FallbackUser = "ec2-user"

// sudoersFile is where AWS's images (through cloud-init) give the default user sudo.
const sudoersFile = "/etc/sudoers.d/90-cloud-init-users"

// cloudDefaultUser is the part of cloud.cfg the helper reads.
type cloudDefaultUser struct {
	SystemInfo struct {
		DefaultUser *struct {
			Name   string    `yaml:"name"`
			Groups yaml.Node `yaml:"groups"`
			Shell  string    `yaml:"shell"`
			Sudo   yaml.Node `yaml:"sudo"`
		} `yaml:"default_user"`
	} `yaml:"system_info"`
}

// defaultUserSpec reads /etc/cloud/cloud.cfg and then /etc/cloud/cloud.cfg.d/*.cfg in
// name order, later files overriding, as cloud-init merges them. Without any, the user is
// ec2-user with Amazon Linux's groups and sudo rule.
func (g *Guest) defaultUserSpec() userSpec {
	spec := userSpec{
		Name:   FallbackUser,
		Groups: []string{"wheel", "adm", "systemd-journal"},
		Sudo:   []string{"ALL=(ALL) NOPASSWD:ALL"},
	}
	files := []string{g.path("/etc/cloud/cloud.cfg")}
	more, _ := filepath.Glob(g.path("/etc/cloud/cloud.cfg.d/*.cfg"))
	slices.Sort(more)
	files = append(files, more...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var cfg cloudDefaultUser
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			g.logf("default user: %s: %v", strings.TrimPrefix(f, g.cfg.Root), err)
			continue
		}
		du := cfg.SystemInfo.DefaultUser
		if du == nil {
			continue
		}
		if du.Name != "" {
			spec.Name = du.Name
		}
		if du.Shell != "" {
			spec.Shell = du.Shell
		}
		if du.Groups.Kind != 0 {
			spec.Groups = stringList(&du.Groups, ",")
		}
		if du.Sudo.Kind != 0 {
			if du.Sudo.Kind == yaml.ScalarNode && (du.Sudo.Value == "false" || du.Sudo.Value == "False") {
				spec.Sudo = nil
			} else {
				spec.Sudo = stringList(&du.Sudo, "")
			}
		}
	}
	return spec
}

// stringList reads a YAML list of strings, or one string split at sep ("" for none).
func stringList(n *yaml.Node, sep string) []string {
	var out []string
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind == yaml.ScalarNode && c.Value != "" {
				out = append(out, c.Value)
			}
		}
	case yaml.ScalarNode:
		if sep == "" {
			return []string{n.Value}
		}
		for _, s := range strings.Split(n.Value, sep) {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// defaultUser looks up the default user without changing anything.
func (g *Guest) defaultUser() (*account, error) {
	return g.lookupUser(g.defaultUserSpec().Name)
}

// configureUser makes sure the default user exists, is in its groups, may sudo where
// the image has sudo, and has the launch key in ~/.ssh/authorized_keys.
func (g *Guest) configureUser(md *metadata) *account {
	spec := g.defaultUserSpec()
	acct, err := g.lookupUser(spec.Name)
	if err != nil {
		g.logf("default user %s: %v", spec.Name, err)
		return nil
	}
	if acct == nil {
		if acct, err = g.createUser(spec.Name, g.shellFor(spec.Shell)); err != nil {
			g.logf("default user %s: cannot create it: %v", spec.Name, err)
			if acct == nil {
				return nil
			}
		} else {
			g.logf("default user: created %s (uid %d, shell %s)", acct.Name, acct.UID, acct.Shell)
		}
	}
	if len(spec.Groups) > 0 {
		if missing, err := g.addToGroups(acct.Name, spec.Groups); err != nil {
			g.logf("default user %s: groups: %v", acct.Name, err)
		} else if len(missing) > 0 {
			g.logf("default user %s: the image has no group %s", acct.Name, strings.Join(missing, ", "))
		}
	}
	g.allowSudo(acct.Name, spec.Sudo)
	if md.PublicKey == "" {
		g.logf("default user %s: the instance has no key pair; no key installed", acct.Name)
		return acct
	}
	if err := g.authorizeKey(acct, md.PublicKey); err != nil {
		g.logf("default user %s: installing the launch key: %v", acct.Name, err)
	}
	return acct
}

// allowSudo writes the default user's sudoers rules when the image has /etc/sudoers.d.
func (g *Guest) allowSudo(user string, rules []string) {
	dir := g.path("/etc/sudoers.d")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() || len(rules) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString("# Created by strato-guest for the default user\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "%s %s\n", user, r)
	}
	path := g.path(sudoersFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == b.String() {
		return
	}
	if err := writeFileAtomic(path, []byte(b.String()), 0o440); err != nil {
		g.logf("default user %s: sudoers: %v", user, err)
	}
}

// errSymlink refuses to follow a link the user could have planted in their own home.
var errSymlink = errors.New("is a symbolic link; left alone")

// authorizeKey adds key to the user's authorized_keys unless it is there already, with
// the modes sshd insists on.
func (g *Guest) authorizeKey(acct *account, key string) error {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key))
	if err != nil {
		return fmt.Errorf("the metadata's key does not parse: %w", err)
	}
	if err := g.makeHome(acct); err != nil {
		return err
	}
	dir := g.path(filepath.Join(acct.Home, ".ssh"))
	if st, err := os.Lstat(dir); err == nil && st.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("~/.ssh %w", errSymlink)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	if err := os.Lchown(dir, acct.UID, acct.GID); err != nil {
		return err
	}
	path := filepath.Join(dir, "authorized_keys")
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("authorized_keys %w", errSymlink)
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	fingerprint := ssh.FingerprintSHA256(pub)
	if !hasKey(old, pub) {
		line := strings.TrimSpace(key)
		if err := appendLine(path, line, 0o600); err != nil {
			return err
		}
		g.logf("default user %s: installed the launch key %s", acct.Name, fingerprint)
	} else {
		g.logf("default user %s: the launch key %s is installed", acct.Name, fingerprint)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return err
	}
	return os.Lchown(path, acct.UID, acct.GID)
}

// hasKey reports whether an authorized_keys file has pub, whatever its comment.
func hasKey(file []byte, pub ssh.PublicKey) bool {
	want := pub.Marshal()
	for rest := file; len(bytes.TrimSpace(rest)) > 0; {
		k, _, _, next, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			return false
		}
		if bytes.Equal(k.Marshal(), want) {
			return true
		}
		rest = next
	}
	return false
}
