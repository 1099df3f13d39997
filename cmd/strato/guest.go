package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"strato/internal/guest"
)

// guestInit is `strato guest-init`: the instance's PID 1 in container instances (the
// driver copies this binary to /.strato/strato). It configures the instance as
// cloud-init would and serves as init until a shutdown signal, then exits 0 with the
// reason in /.strato/run/exit-reason. With --vm it is a virtual machine's init (the
// initramfs starts /sbin/init, in the minimal image a link to the helper, which runs
// as guest-init --vm under that name): it also mounts, names the
// disks, runs DHCP, and ends with reboot(2) instead of an exit.
func guestInit(args []string) error {
	fs := flag.NewFlagSet("strato guest-init", flag.ExitOnError)
	root := fs.String("root", "/", "the instance's root directory")
	metadataURL := fs.String("metadata-url", guest.DefaultMetadataURL, "the instance metadata service")
	sshListen := fs.String("ssh-listen", ":22", "where the built-in SSH server listens (images without sshd)")
	helper := fs.String("helper", guest.DefaultHelperPath, "this binary's path inside the instance (the target of the lsblk link)")
	cloudInit := fs.String("cloud-init", "auto", "auto: let the image's own cloud-init configure the instance when it has one; never")
	vm := fs.Bool("vm", false, "be a virtual machine's init: mount /proc, /sys, /dev, name the disks, configure the network by DHCP, power off with reboot(2)")
	fs.Parse(args)
	if *cloudInit != "auto" && *cloudInit != "never" {
		return fmt.Errorf("guest-init: --cloud-init must be auto or never")
	}
	if *vm {
		// It mounts, remounts / read-only and powers off: never on a host by mistake.
		if os.Getpid() != 1 {
			return fmt.Errorf("guest-init: --vm must be the virtual machine's init (PID 1)")
		}
		if !flagSet(fs, "helper") {
			*helper = guest.DefaultVMHelperPath
		}
	}
	g := guest.New(guest.Config{
		Root: *root, MetadataURL: *metadataURL, SSHListen: *sshListen, HelperPath: *helper,
		CloudInit: *cloudInit, PID1: os.Getpid() == 1, VM: *vm,
	})
	g.Run(context.Background())
	os.Exit(0)
	return nil
}

// flagSet says whether the command line gave the flag.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// multiCall runs the helper's other commands, chosen by the name the binary is started
// under (a link named lsblk inside the instance); it returns for every other name.
func multiCall() {
	switch filepath.Base(os.Args[0]) {
	case "lsblk":
		os.Exit(guest.Lsblk(os.Args[1:], os.Stdout, os.Stderr, guest.BlockSources{}))
	case "init":
		// The minimal image's /sbin/init: a virtual machine's kernel starts it.
		if err := guestInit([]string{"--vm"}); err != nil {
			fmt.Fprintln(os.Stderr, "strato:", err)
			os.Exit(1)
		}
	}
}
