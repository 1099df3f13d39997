package guest

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBootSetsHostnameAndCreatesUserWithKey(t *testing.T) {
	_, pub := newKey(t)
	imds := &fakeIMDS{values: standardMetadata(pub)}
	srv := newFakeIMDS(t, imds)
	root := newRoot(t)
	_, console := bootGuest(t, root, srv.URL)

	if got := readFile(t, filepath.Join(root, "etc/hostname")); got != "ip-10-0-1-5\n" {
		t.Errorf("/etc/hostname = %q, want ip-10-0-1-5", got)
	}
	hosts := readFile(t, filepath.Join(root, "etc/hosts"))
	if !strings.Contains(hosts, "127.0.0.1 localhost\n") || !strings.Contains(hosts, "10.0.1.5 ip-10-0-1-5.ec2.internal ip-10-0-1-5 # strato-guest\n") {
		t.Errorf("/etc/hosts:\n%s", hosts)
	}
	if !strings.Contains(readFile(t, filepath.Join(root, "etc/passwd")), "ec2-user:x:1000:1000::/home/ec2-user:/bin/sh\n") {
		t.Errorf("passwd:\n%s", readFile(t, filepath.Join(root, "etc/passwd")))
	}
	if !strings.Contains(readFile(t, filepath.Join(root, "etc/group")), "ec2-user:x:1000:\n") {
		t.Errorf("group has no ec2-user group")
	}
	if !strings.Contains(readFile(t, filepath.Join(root, "etc/group")), "wheel:x:10:ec2-user\n") {
		t.Errorf("ec2-user is not in wheel:\n%s", readFile(t, filepath.Join(root, "etc/group")))
	}
	if !strings.Contains(readFile(t, filepath.Join(root, "etc/shadow")), "ec2-user:!:") {
		t.Errorf("shadow has no locked ec2-user")
	}
	keys := filepath.Join(root, "home/ec2-user/.ssh/authorized_keys")
	if got := readFile(t, keys); got != pub+"\n" {
		t.Errorf("authorized_keys = %q", got)
	}
	for path, mode := range map[string]os.FileMode{keys: 0o600, filepath.Dir(keys): 0o700} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %o, want %o", path, st.Mode().Perm(), mode)
		}
		if os.Geteuid() == 0 {
			if uid, _ := ownerOf(st); uid != 1000 {
				t.Errorf("%s: owner %d, want 1000", path, uid)
			}
		}
	}
	assertContains(t, "console", console.String(), "strato-guest: hostname: ip-10-0-1-5", "installed the launch key SHA256:",
		"BEGIN SSH HOST KEY FINGERPRINTS", "-----BEGIN SSH HOST KEY KEYS-----\nssh-ed25519 ", "strato-guest: finished at")
	if !imds.sawRequest("PUT /latest/api/token") {
		t.Error("no IMDSv2 token was asked for")
	}
	// The console's copy in the log file.
	if !strings.Contains(readFile(t, filepath.Join(root, LogPath)), "hostname: ip-10-0-1-5") {
		t.Error("the log file lacks the console's lines")
	}
}

func TestBootIsIdempotent(t *testing.T) {
	_, pub := newKey(t)
	srv := newFakeIMDS(t, &fakeIMDS{values: standardMetadata(pub)})
	root := newRoot(t)
	bootGuest(t, root, srv.URL)
	bootGuest(t, root, srv.URL)
	if n := strings.Count(readFile(t, filepath.Join(root, "etc/passwd")), "\nec2-user:x:"); n != 1 {
		t.Errorf("ec2-user appears %d times in passwd", n)
	}
	if got := readFile(t, filepath.Join(root, "home/ec2-user/.ssh/authorized_keys")); got != pub+"\n" {
		t.Errorf("authorized_keys after a reboot = %q", got)
	}
	if n := strings.Count(readFile(t, filepath.Join(root, "etc/hosts")), "# strato-guest"); n != 1 {
		t.Errorf("/etc/hosts has %d lines of the helper's", n)
	}
}

func TestDefaultUserFromCloudCfg(t *testing.T) {
	_, pub := newKey(t)
	srv := newFakeIMDS(t, &fakeIMDS{values: standardMetadata(pub)})
	root := newRoot(t)
	writeFiles(t, root, map[string]string{
		"etc/cloud/cloud.cfg": "system_info:\n  default_user:\n    name: debian\n",
		// Later files win, as cloud-init merges cloud.cfg.d (debian-12's image has this one).
		"etc/cloud/cloud.cfg.d/01_strato.cfg": "system_info:\n  default_user:\n    name: admin\n" +
			"    sudo: ['ALL=(ALL) NOPASSWD:ALL']\n    shell: /bin/bash\n    groups: [adm, sudo]\n",
		"bin/bash":             "",
		"etc/sudoers.d/README": "",
	})
	_, console := bootGuest(t, root, srv.URL)
	if !strings.Contains(readFile(t, filepath.Join(root, "etc/passwd")), "admin:x:1000:1000::/home/admin:/bin/bash\n") {
		t.Errorf("passwd:\n%s", readFile(t, filepath.Join(root, "etc/passwd")))
	}
	if _, err := os.Stat(filepath.Join(root, "home/admin/.ssh/authorized_keys")); err != nil {
		t.Error(err)
	}
	sudoers := filepath.Join(root, "etc/sudoers.d/90-cloud-init-users")
	if got := readFile(t, sudoers); !strings.Contains(got, "admin ALL=(ALL) NOPASSWD:ALL\n") {
		t.Errorf("sudoers = %q", got)
	}
	if st, _ := os.Stat(sudoers); st.Mode().Perm() != 0o440 {
		t.Errorf("sudoers mode %o", st.Mode().Perm())
	}
	if !strings.Contains(console.String(), "the image has no group adm, sudo") {
		t.Errorf("missing groups not reported:\n%s", console)
	}
}

func TestExistingUserKeepsItsIDs(t *testing.T) {
	_, pub := newKey(t)
	srv := newFakeIMDS(t, &fakeIMDS{values: standardMetadata(pub)})
	root := newRoot(t)
	writeFiles(t, root, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nec2-user:x:1500:1500:EC2 Default User:/home/ec2-user:/bin/sh\n",
	})
	bootGuest(t, root, srv.URL)
	if n := strings.Count(readFile(t, filepath.Join(root, "etc/passwd")), "\nec2-user:x:"); n != 1 {
		t.Fatalf("ec2-user appears %d times", n)
	}
	if os.Geteuid() == 0 {
		st, err := os.Stat(filepath.Join(root, "home/ec2-user/.ssh/authorized_keys"))
		if err != nil {
			t.Fatal(err)
		}
		if uid, gid := ownerOf(st); uid != 1500 || gid != 1500 {
			t.Errorf("authorized_keys owned by %d:%d, want 1500:1500", uid, gid)
		}
	}
}

func TestMetadataFallsBackToIMDSv1OnlyWhenTheTokenRequestIsRefused(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed} {
		_, pub := newKey(t)
		imds := &fakeIMDS{values: standardMetadata(pub), tokenStatus: status}
		srv := newFakeIMDS(t, imds)
		g := New(Config{Root: newRoot(t), MetadataURL: srv.URL, MetadataTimeout: 5 * time.Second, Console: &syncBuffer{}})
		md, err := g.fetchMetadata(context.Background())
		if err != nil {
			t.Fatalf("token answered %d: %v", status, err)
		}
		if md.InstanceID != "i-0123456789abcdef0" || md.PublicKey != pub {
			t.Errorf("token answered %d: got %+v", status, md)
		}
	}
	// A 400 is not a reason to fall back: the request was wrong, not the version.
	imds := &fakeIMDS{values: standardMetadata("k"), tokenStatus: http.StatusBadRequest}
	srv := newFakeIMDS(t, imds)
	g := New(Config{Root: newRoot(t), MetadataURL: srv.URL, MetadataTimeout: time.Second, Console: &syncBuffer{}})
	if _, err := g.fetchMetadata(context.Background()); err == nil {
		t.Error("a 400 to the token request fell back to IMDSv1")
	}
}

func TestMetadataUsesTokensWhenRequired(t *testing.T) {
	imds := &fakeIMDS{values: standardMetadata(""), requireToken: true}
	imds.values["user-data"] = "#!/bin/sh\ntrue\n"
	srv := newFakeIMDS(t, imds)
	g := New(Config{Root: newRoot(t), MetadataURL: srv.URL, MetadataTimeout: 5 * time.Second, Console: &syncBuffer{}})
	md, err := g.fetchMetadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if md.LocalIPv4 != "10.0.1.5" || string(md.UserData) != "#!/bin/sh\ntrue\n" || md.PublicKey != "" {
		t.Errorf("got %+v", md)
	}
}

func TestMetadataRetriesUntilTheServiceAnswers(t *testing.T) {
	imds := &fakeIMDS{values: standardMetadata(""), failFirst: 3}
	srv := newFakeIMDS(t, imds)
	g := New(Config{Root: newRoot(t), MetadataURL: srv.URL, MetadataTimeout: 10 * time.Second, Console: &syncBuffer{}})
	md, err := g.fetchMetadata(context.Background())
	if err != nil || md.InstanceID == "" {
		t.Fatalf("%+v %v", md, err)
	}
	if md.UserData != nil {
		t.Errorf("user data %q where the service has none (404)", md.UserData)
	}
}

func TestMetadataGivesUpAtTheDeadline(t *testing.T) {
	srv := newFakeIMDS(t, &fakeIMDS{failFirst: 1 << 30})
	g := New(Config{Root: newRoot(t), MetadataURL: srv.URL, MetadataTimeout: 300 * time.Millisecond, Console: &syncBuffer{}})
	start := time.Now()
	if _, err := g.fetchMetadata(context.Background()); err == nil {
		t.Fatal("no error from a service that never answers")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}

func TestShutdownSignalsMapToReasons(t *testing.T) {
	for sig, want := range map[syscall.Signal]string{
		syscall.SIGUSR2: ReasonPoweroff, syscall.SIGUSR1: ReasonPoweroff, syscall.SIGINT: ReasonPoweroff,
		syscall.SIGTERM: ReasonReboot, syscall.SIGHUP: ReasonReboot, syscall.SIGWINCH: "",
	} {
		if got := reasonFor(sig); got != want {
			t.Errorf("%v: %q, want %q", sig, got, want)
		}
	}
}

func TestShutdownRecordsTheReasonAndEndsChildren(t *testing.T) {
	root := newRoot(t)
	g := New(Config{Root: root, Console: &syncBuffer{}, ShutdownGrace: 2 * time.Second})
	// A child that ignores SIGTERM must still be gone, by SIGKILL.
	cmd := g.rootCommand("/bin/sh", "-c", "trap '' TERM; sleep 60")
	_, done, err := children.start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	g.Shutdown(ReasonReboot)
	select {
	case ws := <-done:
		if !ws.Signaled() {
			t.Errorf("child ended with %s", describeStatus(ws))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the child outlived the shutdown")
	}
	if got := readFile(t, filepath.Join(root, ExitReasonPath)); got != "reboot\n" {
		t.Errorf("exit reason %q", got)
	}
}

func TestRunShutsDownOnSignal(t *testing.T) {
	srv := newFakeIMDS(t, &fakeIMDS{values: standardMetadata("")})
	root := newRoot(t)
	console := &syncBuffer{}
	g := New(Config{Root: root, MetadataURL: srv.URL, SSHListen: "127.0.0.1:0", Console: console, CloudInit: "never"})
	reason := make(chan string, 1)
	go func() { reason <- g.Run(context.Background()) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(console.String(), "finished at") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// busybox poweroff sends SIGUSR2 to PID 1; here the test process stands in for it.
	syscall.Kill(os.Getpid(), syscall.SIGUSR2)
	select {
	case r := <-reason:
		if r != ReasonPoweroff {
			t.Errorf("reason %q", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after SIGUSR2")
	}
	if got := readFile(t, filepath.Join(root, ExitReasonPath)); got != "poweroff\n" {
		t.Errorf("exit reason %q", got)
	}
	if !strings.Contains(console.String(), "received SIGUSR2: poweroff") {
		t.Errorf("console:\n%s", console)
	}
}

func TestBootLinksLsblkWhenTheImageHasNone(t *testing.T) {
	srv := newFakeIMDS(t, &fakeIMDS{values: standardMetadata("")})
	root := newRoot(t)
	bootGuest(t, root, srv.URL)
	target, err := os.Readlink(filepath.Join(root, "usr/local/bin/lsblk"))
	if err != nil || target != DefaultHelperPath {
		t.Errorf("lsblk link: %q %v", target, err)
	}

	withLsblk := newRoot(t)
	writeFiles(t, withLsblk, map[string]string{"usr/bin/lsblk": ""})
	bootGuest(t, withLsblk, srv.URL)
	if _, err := os.Lstat(filepath.Join(withLsblk, "usr/local/bin/lsblk")); err == nil {
		t.Error("linked lsblk over the image's own")
	}
}

func TestFirstBootOfANewInstanceRemovesTheImagesHostKeys(t *testing.T) {
	srv := newFakeIMDS(t, &fakeIMDS{values: standardMetadata("")})
	root := newRoot(t)
	bootGuest(t, root, srv.URL)
	first := readFile(t, filepath.Join(root, HostKeyPath+".pub"))
	bootGuest(t, root, srv.URL) // a reboot keeps the key
	if again := readFile(t, filepath.Join(root, HostKeyPath+".pub")); again != first {
		t.Error("a reboot changed the host key")
	}
	// An instance launched from an image of this one: new instance ID, new host key.
	other := newFakeIMDS(t, &fakeIMDS{values: standardMetadata("")})
	other.Config.Handler.(*fakeIMDS).values["instance-id"] = "i-0fedcba9876543210"
	bootGuest(t, root, other.URL)
	if again := readFile(t, filepath.Join(root, HostKeyPath+".pub")); again == first {
		t.Error("a new instance kept the image's host key")
	}
}

func TestAnImagesOwnCloudInitConfiguresTheInstance(t *testing.T) {
	_, pub := newKey(t)
	imds := &fakeIMDS{values: standardMetadata(pub)}
	imds.values["user-data"] = "#!/bin/sh\necho helper-ran-user-data\n"
	srv := newFakeIMDS(t, imds)
	root := newRoot(t)
	// A stand-in for cloud-init: records its stages and, in "init", takes the instance.
	writeFiles(t, root, map[string]string{"usr/bin/cloud-init": "#!/bin/sh\necho \"$*\" >> " + root + "/stages\n" +
		"[ \"$1\" = init ] && mkdir -p " + root + "/var/lib/cloud/data && echo i-0123456789abcdef0 > " + root + "/var/lib/cloud/data/instance-id\nexit 0\n"})
	os.Chmod(filepath.Join(root, "usr/bin/cloud-init"), 0o755)
	console := &syncBuffer{}
	g := New(Config{Root: root, MetadataURL: srv.URL, SSHListen: "127.0.0.1:0", Console: console})
	t.Cleanup(func() { g.Shutdown(ReasonPoweroff) })
	g.Boot(context.Background())
	if got := readFile(t, filepath.Join(root, "stages")); got != "init\nmodules --mode config\nmodules --mode final\n" {
		t.Errorf("cloud-init stages run: %q", got)
	}
	// The network is strato's before boot: cloud-init is told to leave it (no DHCP).
	if got := readFile(t, filepath.Join(root, CloudInitNetworkOffPath)); !strings.Contains(got, "network: {config: disabled}") {
		t.Errorf("cloud-init network configuration: %q", got)
	}
	if strings.Contains(readFile(t, filepath.Join(root, "etc/passwd")), "ec2-user") {
		t.Error("the helper created the user although cloud-init configured the instance")
	}
	if strings.Contains(console.String(), "helper-ran-user-data") {
		t.Error("the helper ran the user data although cloud-init configured the instance")
	}

	// A cloud-init that does not take the instance from the metadata: the helper does it.
	root2 := newRoot(t)
	writeFiles(t, root2, map[string]string{"usr/bin/cloud-init": "#!/bin/sh\nexit 1\n"})
	os.Chmod(filepath.Join(root2, "usr/bin/cloud-init"), 0o755)
	console2 := &syncBuffer{}
	g2 := New(Config{Root: root2, MetadataURL: srv.URL, SSHListen: "127.0.0.1:0", Console: console2})
	t.Cleanup(func() { g2.Shutdown(ReasonPoweroff) })
	g2.Boot(context.Background())
	assertContains(t, "console", console2.String(), "did not configure i-0123456789abcdef0", "helper-ran-user-data")
	if !strings.Contains(readFile(t, filepath.Join(root2, "etc/passwd")), "ec2-user") {
		t.Error("no user after cloud-init failed")
	}
}
