package imagebuild

import (
	"bufio"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// kernelModules indexes one kernel's modules: which are built into the kernel
// (modules.builtin) and where the loadable ones are. Dependencies come from
// each module's own .modinfo section, the information depmod turns into
// modules.dep: Debian's package does not ship modules.dep (depmod writes it when
// the package is installed), and reading it from the modules needs no kmod on
// the host.
type kernelModules struct {
	dir     string
	builtin map[string]bool
	files   map[string]string // module name -> path relative to dir
}

// moduleName is a module's canonical name: the kernel treats - and _ alike.
func moduleName(s string) string {
	s = filepath.Base(s)
	s = strings.TrimSuffix(s, ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

func readKernelModules(dir string) (*kernelModules, error) {
	km := &kernelModules{dir: dir, builtin: map[string]bool{}, files: map[string]string{}}
	f, err := os.Open(filepath.Join(dir, "modules.builtin"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			km.builtin[moduleName(line)] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	err = filepath.WalkDir(filepath.Join(dir, "kernel"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		switch {
		case strings.HasSuffix(name, ".ko"):
			rel, _ := filepath.Rel(dir, path)
			km.files[moduleName(name)] = rel
		case strings.Contains(name, ".ko."):
			// Debian 13 compresses modules (.ko.xz); the kernel this
			// package fetches (Debian 12's) does not, and busybox insmod
			// would need them plain.
			return fmt.Errorf("%s is compressed; only plain .ko modules are supported", path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the modules in %s: %w", dir, err)
	}
	return km, nil
}

// modinfo returns a module's .modinfo entries (key=value strings, NUL-separated
// in the ELF section the kernel's modpost writes).
func (km *kernelModules) modinfo(name string) (map[string][]string, error) {
	f, err := elf.Open(filepath.Join(km.dir, km.files[name]))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s has no .modinfo section", name)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, err
	}
	info := map[string][]string{}
	for _, kv := range strings.Split(string(data), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			info[k] = append(info[k], v)
		}
	}
	return info, nil
}

// loadOrder returns the loadable modules that provide wanted, each after the
// modules it depends on (depends=, and softdep pre: when present), as paths
// relative to the modules directory. Modules built into the kernel need no
// loading and are left out; a wanted module that is neither built in nor
// present is an error, a missing soft dependency is not.
func (km *kernelModules) loadOrder(wanted []string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1: being visited, 2: done
	var visit func(name string, hard bool, from string) error
	visit = func(name string, hard bool, from string) error {
		name = moduleName(name)
		switch {
		case state[name] == 2 || km.builtin[name]:
			return nil
		case state[name] == 1:
			return fmt.Errorf("module %s depends on itself (through %s)", name, from)
		}
		if _, ok := km.files[name]; !ok {
			if !hard {
				return nil
			}
			if from == "" {
				return fmt.Errorf("kernel module %s is neither built in nor in %s", name, km.dir)
			}
			return fmt.Errorf("kernel module %s (needed by %s) is neither built in nor in %s", name, from, km.dir)
		}
		state[name] = 1
		info, err := km.modinfo(name)
		if err != nil {
			return err
		}
		for _, deps := range info["depends"] {
			for _, d := range strings.Split(deps, ",") {
				if d = strings.TrimSpace(d); d != "" {
					if err := visit(d, true, name); err != nil {
						return err
					}
				}
			}
		}
		for _, sd := range info["softdep"] {
			for _, d := range softdepsPre(sd) {
				if err := visit(d, false, name); err != nil {
					return err
				}
			}
		}
		state[name] = 2
		order = append(order, km.files[name])
		return nil
	}
	for _, w := range wanted {
		if err := visit(w, true, ""); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// softdepsPre returns the modules a softdep entry ("pre: a b post: c") wants
// loaded first.
func softdepsPre(s string) []string {
	var pre []string
	in := false
	for _, w := range strings.Fields(s) {
		switch w {
		case "pre:":
			in = true
		case "post:":
			in = false
		default:
			if in {
				pre = append(pre, w)
			}
		}
	}
	return pre
}
