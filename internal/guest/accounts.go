package guest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The helper reads and writes the image's own /etc/passwd, /etc/group and /etc/shadow
// (under the root), never the host's: it runs before any name service and in images
// without useradd (busybox's adduser has other flags than shadow's).

// rootFS is an image's root directory as the helper sees it ("/" inside an instance).
type rootFS string

// path is name (absolute inside the instance) under the root.
func (r rootFS) path(name string) string {
	return filepath.Join(string(r), strings.TrimPrefix(name, "/"))
}

// account is one /etc/passwd entry.
type account struct {
	Name  string
	UID   int
	GID   int
	Home  string
	Shell string
}

// readColonFile reads a passwd-style file as lines of fields.
func readColonFile(path string) ([][]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out, nil
}

// lookupUser finds name in the image's /etc/passwd; nil when it has no such user.
func (r rootFS) lookupUser(name string) (*account, error) {
	rows, err := readColonFile(r.path("/etc/passwd"))
	if err != nil {
		return nil, err
	}
	for _, f := range rows {
		if len(f) < 7 || f[0] != name {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("/etc/passwd: bad ids for %s", name)
		}
		return &account{Name: f[0], UID: uid, GID: gid, Home: f[5], Shell: f[6]}, nil
	}
	return nil, nil
}

// lookupGroup finds a group's id by name in the image's /etc/group.
func (r rootFS) lookupGroup(name string) (int, bool) {
	rows, _ := readColonFile(r.path("/etc/group"))
	for _, f := range rows {
		if len(f) >= 3 && f[0] == name {
			if gid, err := strconv.Atoi(f[2]); err == nil {
				return gid, true
			}
		}
	}
	return 0, false
}

// supplementaryGroups lists the ids of the groups that name the user as a member.
func (r rootFS) supplementaryGroups(user string) []uint32 {
	rows, _ := readColonFile(r.path("/etc/group"))
	var out []uint32
	for _, f := range rows {
		if len(f) < 4 {
			continue
		}
		if slices.Contains(strings.Split(f[3], ","), user) {
			if gid, err := strconv.Atoi(f[2]); err == nil {
				out = append(out, uint32(gid))
			}
		}
	}
	return out
}

// shellFor is the shell a new user gets: want when the image has it, else bash, else sh.
func (r rootFS) shellFor(want string) string {
	for _, s := range []string{want, "/bin/bash", "/bin/sh"} {
		if s == "" {
			continue
		}
		if _, err := os.Lstat(r.path(s)); err == nil {
			return s
		}
	}
	return "/bin/sh"
}

// createUser adds a user with its own group, a locked password and a home copied from
// /etc/skel, as useradd -m does. Ids are the first free from 1000 up, the same for
// user and group when possible.
func (r rootFS) createUser(name, shell string) (*account, error) {
	users, err := readColonFile(r.path("/etc/passwd"))
	if err != nil {
		return nil, err
	}
	groups, err := readColonFile(r.path("/etc/group"))
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	usedUID, usedGID := idSet(users, 2), idSet(groups, 2)
	uid := 1000
	for usedUID[uid] || usedGID[uid] {
		uid++
	}
	gid, haveGroup := r.lookupGroup(name)
	if !haveGroup {
		gid = uid
		for usedGID[gid] {
			gid++
		}
		if err := appendLine(r.path("/etc/group"), fmt.Sprintf("%s:x:%d:", name, gid), 0o644); err != nil {
			return nil, err
		}
		if _, err := os.Stat(r.path("/etc/gshadow")); err == nil {
			if err := appendLine(r.path("/etc/gshadow"), name+":!::", 0o640); err != nil {
				return nil, err
			}
		}
	}
	acct := &account{Name: name, UID: uid, GID: gid, Home: "/home/" + name, Shell: shell}
	line := fmt.Sprintf("%s:x:%d:%d::%s:%s", name, uid, gid, acct.Home, shell)
	if err := appendLine(r.path("/etc/passwd"), line, 0o644); err != nil {
		return nil, err
	}
	days := time.Now().Unix() / 86400
	if err := appendLine(r.path("/etc/shadow"), fmt.Sprintf("%s:!:%d:0:99999:7:::", name, days), 0o640); err != nil {
		return nil, err
	}
	if err := r.makeHome(acct); err != nil {
		return acct, err
	}
	return acct, nil
}

func idSet(rows [][]string, field int) map[int]bool {
	out := map[int]bool{}
	for _, f := range rows {
		if len(f) > field {
			if id, err := strconv.Atoi(f[field]); err == nil {
				out[id] = true
			}
		}
	}
	return out
}

// makeHome creates the home directory from /etc/skel when it does not exist.
func (r rootFS) makeHome(acct *account) error {
	home := r.path(acct.Home)
	if _, err := os.Lstat(home); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(home), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(home, 0o700); err != nil {
		return err
	}
	skel := r.path("/etc/skel")
	_ = filepath.WalkDir(skel, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == skel {
			return nil
		}
		rel, _ := filepath.Rel(skel, p)
		dst := filepath.Join(home, rel)
		switch {
		case d.IsDir():
			_ = os.Mkdir(dst, 0o755)
		case d.Type().IsRegular():
			_ = copyRegular(p, dst)
		default:
			return nil
		}
		_ = os.Lchown(dst, acct.UID, acct.GID)
		return nil
	})
	return os.Chown(home, acct.UID, acct.GID)
}

func copyRegular(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// addToGroups makes user a member of each named group the image has; it returns the
// groups it has no such group for.
func (r rootFS) addToGroups(user string, names []string) (missing []string, err error) {
	path := r.path("/etc/group")
	b, err := os.ReadFile(path)
	if err != nil {
		return names, err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	found := map[string]bool{}
	changed := false
	for i, line := range lines {
		f := strings.Split(line, ":")
		if len(f) < 4 || !slices.Contains(names, f[0]) {
			continue
		}
		found[f[0]] = true
		members := strings.Split(f[3], ",")
		if f[3] == "" {
			members = nil
		}
		if slices.Contains(members, user) {
			continue
		}
		f[3] = strings.Join(append(members, user), ",")
		lines[i] = strings.Join(f, ":")
		changed = true
	}
	for _, n := range names {
		if !found[n] {
			missing = append(missing, n)
		}
	}
	if !changed {
		return missing, nil
	}
	return missing, writeFileAtomic(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// appendLine adds one line to a file, adding the newline the file may lack at its end.
func appendLine(path, line string, mode os.FileMode) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		old = append(old, '\n')
	}
	return writeFileAtomic(path, append(old, line+"\n"...), mode)
}

// resolveOwner turns cloud-config's "user:group" (or "user") into ids from the image's
// own files.
func (r rootFS) resolveOwner(owner string) (uid, gid int, err error) {
	if owner == "" {
		return 0, 0, nil
	}
	userName, groupName, hasGroup := strings.Cut(owner, ":")
	if id, err := strconv.Atoi(userName); err == nil {
		uid, gid = id, id
	} else {
		acct, err := r.lookupUser(userName)
		if err != nil || acct == nil {
			return 0, 0, fmt.Errorf("owner %q: no such user", owner)
		}
		uid, gid = acct.UID, acct.GID
	}
	if hasGroup && groupName != "" {
		if id, err := strconv.Atoi(groupName); err == nil {
			gid = id
		} else if id, ok := r.lookupGroup(groupName); ok {
			gid = id
		} else {
			return 0, 0, fmt.Errorf("owner %q: no such group", owner)
		}
	}
	return uid, gid, nil
}
