package guest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func TestUserDataScriptRunsOncePerInstance(t *testing.T) {
	root := newRoot(t)
	marker := filepath.Join(root, "ran")
	imds := &fakeIMDS{values: standardMetadata("")}
	imds.values["user-data"] = "#!/bin/sh\necho user-data-output\necho ran >> " + marker + "\n"
	srv := newFakeIMDS(t, imds)

	_, console := bootGuest(t, root, srv.URL)
	if got := readFile(t, marker); got != "ran\n" {
		t.Fatalf("after the first boot the script left %q", got)
	}
	assertContains(t, "console", console.String(), "user data: running part-001", "user-data-output\n", "part-001 finished in", "exit status 0")
	_, console = bootGuest(t, root, srv.URL)
	if got := readFile(t, marker); got != "ran\n" {
		t.Errorf("a reboot ran the user data again: %q", got)
	}
	if !strings.Contains(console.String(), "already run for i-0123456789abcdef0") {
		t.Errorf("console:\n%s", console)
	}
	if got := readFile(t, filepath.Join(root, StateDir, "instances/i-0123456789abcdef0/user-data.txt")); got != imds.values["user-data"] {
		t.Errorf("kept user data %q", got)
	}
}

func TestFailingUserDataDoesNotStopTheBoot(t *testing.T) {
	root := newRoot(t)
	console := bootWithUserData(t, root, "#!/bin/sh\nexit 7\n")
	assertContains(t, "console", console.String(), "part-001 finished in", "exit status 7", "finished at")
}

func TestCloudConfigRuncmdAndWriteFiles(t *testing.T) {
	root := newRoot(t)
	writeFiles(t, root, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nec2-user:x:1000:1000::/home/ec2-user:/bin/sh\n",
		"etc/group":  "root:x:0:\nec2-user:x:1000:\n",
		"etc/append": "first\n",
	})
	gz := base64.StdEncoding.EncodeToString(gzipped(t, "compressed\n"))
	userData := `#cloud-config
packages:
  - nginx
  - [git, "1:2.39"]
package_update: true
timezone: Europe/Paris
write_files:
  - path: /etc/plain.conf
    content: |
      hello world
    permissions: '0600'
  - path: /etc/b64
    encoding: b64
    content: ` + base64.StdEncoding.EncodeToString([]byte("decoded\n")) + `
  - path: /etc/deep/dir/gz
    encoding: gz+b64
    content: ` + gz + `
    owner: ec2-user:ec2-user
  - path: /etc/append
    content: "second\n"
    append: true
runcmd:
  - echo one > ` + root + `/one
  - [sh, -c, "echo two > '` + root + `/two with space'"]
  - cd ` + root + `
  - [touch, "three; not run"]
`
	console := bootWithUserData(t, root, userData)

	for name, want := range map[string]string{
		"etc/plain.conf": "hello world\n", "etc/b64": "decoded\n", "etc/deep/dir/gz": "compressed\n",
		"etc/append": "first\nsecond\n", "one": "one\n", "two with space": "two\n", "three; not run": "",
	} {
		if got := readFile(t, filepath.Join(root, name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if st, _ := os.Stat(filepath.Join(root, "etc/plain.conf")); st.Mode().Perm() != 0o600 {
		t.Errorf("permissions %o", st.Mode().Perm())
	}
	if os.Geteuid() == 0 {
		st, _ := os.Stat(filepath.Join(root, "etc/deep/dir/gz"))
		if uid, gid := ownerOf(st); uid != 1000 || gid != 1000 {
			t.Errorf("owner %d:%d", uid, gid)
		}
	}
	assertContains(t, "console", console.String(),
		"WARNING: packages are not installed by strato-guest; ignored: nginx, git=1:2.39",
		"package management is not done by strato-guest; ignored: package_update",
		"not supported by strato-guest, ignored: timezone",
		"user data: running runcmd")
}

func TestCloudConfigErrorsAreLoggedNotFatal(t *testing.T) {
	root := newRoot(t)
	console := bootWithUserData(t, root, "#cloud-config\nwrite_files:\n  - path: relative\n    content: x\n  - path: /ok\n    encoding: base64\n    content: '!!!'\n  - path: /fine\n    content: y\n")
	if got := readFile(t, filepath.Join(root, "fine")); got != "y" {
		t.Errorf("fine = %q", got)
	}
	assertContains(t, "console", console.String(), "write_files relative: path must be absolute", "write_files /ok: content is not base64", "finished at")
}

func TestSplitUserData(t *testing.T) {
	multipart := "Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n" +
		"--XX\nContent-Type: text/cloud-config; charset=\"us-ascii\"\n\n#cloud-config\nruncmd: [ls]\n" +
		"--XX\nContent-Type: text/x-shellscript\nContent-Transfer-Encoding: base64\n\n" +
		base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n")) + "\n" +
		"--XX\nContent-Type: text/x-include-url\n\nhttp://example.com/x\n" +
		"--XX--\n"
	cases := []struct {
		name string
		data []byte
		want []string
	}{
		{"script", []byte("#!/bin/bash\necho\n"), []string{partScript}},
		{"cloud-config", []byte("#cloud-config\nruncmd: []\n"), []string{partCloudConfig}},
		{"gzip", gzipped(t, "#!/bin/sh\n"), []string{partScript}},
		{"boothook", []byte("#cloud-boothook\necho\n"), []string{"#cloud-boothook"}},
		{"include", []byte("#include\nhttp://x\n"), []string{"#include (URL list)"}},
		{"plain text", []byte("hello"), []string{"text that is neither a #! script nor #cloud-config"}},
		{"empty", []byte("  \n"), nil},
		{"multipart", []byte(multipart), []string{partCloudConfig, partScript, "text/x-include-url"}},
	}
	for _, c := range cases {
		parts := splitUserData(c.data, 0)
		var kinds []string
		for _, p := range parts {
			kinds = append(kinds, p.kind)
		}
		if strings.Join(kinds, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: parts %q, want %q", c.name, kinds, c.want)
		}
	}
	parts := splitUserData([]byte(multipart), 0)
	if string(parts[1].content) != "#!/bin/sh\necho hi\n" {
		t.Errorf("base64 part decoded to %q", parts[1].content)
	}
}

func TestUnsupportedUserDataIsLogged(t *testing.T) {
	root := newRoot(t)
	console := bootWithUserData(t, root, "#cloud-boothook\necho\n")
	if !strings.Contains(console.String(), "user data: part 1: #cloud-boothook is not supported by strato-guest; ignored") {
		t.Errorf("console:\n%s", console)
	}
}

func TestRuncmdLines(t *testing.T) {
	cc, err := parseCloudConfig([]byte("#cloud-config\nruncmd:\n  - echo $HOME\n  - [echo, \"it's\", a b, plain]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"echo $HOME", `echo 'it'"'"'s' 'a b' plain`}
	if strings.Join(cc.runcmd, "\n") != strings.Join(want, "\n") {
		t.Errorf("runcmd %q, want %q", cc.runcmd, want)
	}
	if _, err := parseCloudConfig([]byte("#cloud-config\nruncmd: ls\n")); err == nil {
		t.Error("runcmd that is not a list was accepted")
	}
}

// bootWithUserData boots a helper on root for an instance with that user data.
func bootWithUserData(t *testing.T, root, userData string) *syncBuffer {
	t.Helper()
	imds := &fakeIMDS{values: standardMetadata("")}
	imds.values["user-data"] = userData
	_, console := bootGuest(t, root, newFakeIMDS(t, imds).URL)
	return console
}
