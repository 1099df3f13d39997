package guest

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

const lsblkUsage = `Usage: lsblk [-a] [-b] [-d] [-n] [DEVICE...]

List the instance's block devices (strato-guest's lsblk: the columns of util-linux's
default output).

  -a, --all          also list empty loop devices
  -b, --bytes        print sizes in bytes
  -d, --nodeps       do not print partitions
  -n, --noheadings   do not print the header line
  -h, --help         this text
`

// Lsblk is the lsblk command: args are its arguments (without the program name).
// It returns the exit status.
func Lsblk(args []string, stdout, stderr io.Writer, src BlockSources) int {
	var opts lsblkOptions
	var only []string
	for _, a := range args {
		switch a {
		case "-a", "--all":
			opts.all = true
		case "-b", "--bytes":
			opts.bytes = true
		case "-d", "--nodeps":
			opts.noDeps = true
		case "-n", "--noheadings":
			opts.noHeadings = true
		case "-h", "--help":
			fmt.Fprint(stdout, lsblkUsage)
			return 0
		default:
			if strings.HasPrefix(a, "-") && len(a) > 1 {
				// Combined short flags, as in lsblk -nb.
				if !strings.HasPrefix(a, "--") && strings.Trim(a[1:], "abdn") == "" {
					opts.all = opts.all || strings.Contains(a, "a")
					opts.bytes = opts.bytes || strings.Contains(a, "b")
					opts.noDeps = opts.noDeps || strings.Contains(a, "d")
					opts.noHeadings = opts.noHeadings || strings.Contains(a, "n")
					continue
				}
				fmt.Fprintf(stderr, "lsblk: option %s is not supported by strato-guest's lsblk\n%s", a, lsblkUsage)
				return 1
			}
			only = append(only, filepath.Base(a))
		}
	}
	devs, err := listBlockDevices(src)
	if err != nil {
		fmt.Fprintf(stderr, "lsblk: %v\n", err)
		return 32
	}
	if len(only) > 0 {
		var picked []*blockDevice
		for _, name := range only {
			d := findDevice(devs, name)
			if d == nil {
				fmt.Fprintf(stderr, "lsblk: %s: not a block device\n", name)
				return 32
			}
			picked = append(picked, d)
		}
		devs = picked
	}
	writeLsblk(stdout, devs, opts)
	return 0
}

func findDevice(devs []*blockDevice, name string) *blockDevice {
	for _, d := range devs {
		if d.Name == name || (d.Kernel != "" && d.Kernel == name) {
			return d
		}
		if p := findDevice(d.Parts, name); p != nil {
			return p
		}
	}
	return nil
}

type lsblkOptions struct {
	all, bytes, noDeps, noHeadings bool
}

// lsblk's default columns: alignment and the least width util-linux gives them.
var lsblkColumns = []struct {
	header string
	right  bool
	width  int
}{{"NAME", false, 0}, {"MAJ:MIN", true, 0}, {"RM", true, 0}, {"SIZE", true, 5}, {"RO", true, 0}, {"TYPE", false, 0}, {"MOUNTPOINTS", false, 0}}

// writeLsblk prints the table as util-linux's lsblk does by default: partitions under
// their disk with tree lines, sizes in binary units with one decimal, one line per
// further mount point (the latest mount first).
func writeLsblk(w io.Writer, devs []*blockDevice, opts lsblkOptions) {
	var rows [][]string
	if !opts.noHeadings {
		header := make([]string, len(lsblkColumns))
		for i, c := range lsblkColumns {
			header[i] = c.header
		}
		rows = append(rows, header)
	}
	var add func(d *blockDevice, prefix string)
	add = func(d *blockDevice, prefix string) {
		if d.Size == 0 && d.Type == "loop" && !opts.all {
			return // util-linux leaves out unbound loop devices without -a
		}
		size := humanSize(d.Size)
		if opts.bytes {
			size = strconv.FormatInt(d.Size, 10)
		}
		first := ""
		if len(d.Mounts) > 0 {
			first = d.Mounts[0]
		}
		rows = append(rows, []string{prefix + d.Name, fmt.Sprintf("%3d:%-3d", d.Major, d.Minor),
			flag(d.Removable), size, flag(d.ReadOnly), d.Type, first})
		for _, m := range d.Mounts[min(1, len(d.Mounts)):] {
			rows = append(rows, []string{"", "", "", "", "", "", m})
		}
		if opts.noDeps {
			return
		}
		var parts []*blockDevice
		for _, p := range d.Parts {
			if p.Size != 0 || p.Type != "loop" || opts.all {
				parts = append(parts, p)
			}
		}
		for i, p := range parts {
			branch := "├─"
			if i == len(parts)-1 {
				branch = "└─"
			}
			add(p, branch)
		}
	}
	for _, d := range devs {
		add(d, "")
	}
	widths := make([]int, len(lsblkColumns))
	for i, c := range lsblkColumns {
		// The header counts even with -n, as in util-linux: columns do not shift.
		widths[i] = max(c.width, len(c.header))
	}
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, cell := range r {
			if i > 0 {
				b.WriteByte(' ')
			}
			pad := strings.Repeat(" ", widths[i]-len([]rune(cell)))
			switch {
			case i == len(r)-1:
				b.WriteString(cell)
			case lsblkColumns[i].right:
				b.WriteString(pad + cell)
			default:
				b.WriteString(cell + pad)
			}
		}
		b.WriteByte('\n')
	}
	_, _ = io.WriteString(w, b.String())
}

func flag(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// humanSize writes a size as util-linux does: the largest binary unit the size reaches,
// one decimal when it is not zero after rounding (8G, 238.5G, 512M, 0B).
func humanSize(n int64) string {
	if n < 0 {
		n = 0
	}
	bytes := uint64(n)
	exp := 0
	for shift := 10; shift <= 60; shift += 10 {
		if bytes < 1<<shift {
			break
		}
		exp = shift
	}
	letters := "BKMGTPE"
	unit := string(letters[exp/10])
	dec := bytes >> exp
	frac := uint64(0)
	if exp > 0 {
		rem := bytes & (1<<exp - 1)
		if rem >= ^uint64(0)/1000 {
			frac = ((rem / 1024) * 1000) / (1 << (exp - 10))
		} else {
			frac = rem * 1000 / (1 << exp)
		}
		frac = (frac + 50) / 100
		if frac == 10 {
			dec++
			frac = 0
		}
	}
	if frac != 0 {
		return fmt.Sprintf("%d.%d%s", dec, frac, unit)
	}
	return fmt.Sprintf("%d%s", dec, unit)
}
