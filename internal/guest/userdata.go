package guest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// A part of user data, after gzip and MIME multipart are taken apart.
type userDataPart struct {
	kind    string // partScript, partCloudConfig, or what it is when unsupported
	content []byte
}

const (
	partScript      = "shell script"
	partCloudConfig = "cloud-config"
)

// unsupportedStarts are the user-data forms cloud-init knows that the helper does not run.
var unsupportedStarts = map[string]string{
	"#include":              "#include (URL list)",
	"#cloud-boothook":       "#cloud-boothook",
	"#part-handler":         "#part-handler",
	"#upstart-job":          "#upstart-job",
	"#cloud-config-archive": "#cloud-config-archive",
	"#cloud-config-jsonp":   "#cloud-config-jsonp",
	"## template: jinja":    "jinja template",
}

// mimeKinds maps multipart Content-Types to parts the helper runs.
var mimeKinds = map[string]string{
	"text/x-shellscript": partScript,
	"text/cloud-config":  partCloudConfig,
}

// splitUserData finds the parts of user data: gzip is undone (cloud-init accepts
// compressed user data to fit more in 16 KB), MIME multipart is split, and each piece is
// recognised by its first line as cloud-init does.
func splitUserData(data []byte, depth int) []userDataPart {
	if depth > 4 {
		return []userDataPart{{kind: "deeply nested user data"}}
	}
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return []userDataPart{{kind: "corrupt gzip data"}}
		}
		plain, err := io.ReadAll(io.LimitReader(zr, 16<<20))
		if err != nil {
			return []userDataPart{{kind: "corrupt gzip data"}}
		}
		return splitUserData(plain, depth+1)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return nil
	case bytes.HasPrefix(trimmed, []byte("#!")):
		return []userDataPart{{kind: partScript, content: data}}
	case firstLineIs(trimmed, "#cloud-config"):
		return []userDataPart{{kind: partCloudConfig, content: data}}
	}
	for start, kind := range unsupportedStarts {
		if firstLineIs(trimmed, start) {
			return []userDataPart{{kind: kind}}
		}
	}
	if parts, ok := splitMultipart(data, depth); ok {
		return parts
	}
	return []userDataPart{{kind: "text that is neither a #! script nor #cloud-config"}}
}

func firstLineIs(data []byte, word string) bool {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	return string(bytes.TrimSpace(line)) == word
}

// splitMultipart reads a MIME multipart message (what cloud-init's make-mime and
// Terraform's cloudinit_config produce).
func splitMultipart(data []byte, depth int) ([]userDataPart, bool) {
	msg, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return nil, false
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") || params["boundary"] == "" {
		return nil, false
	}
	var parts []userDataPart
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return append(parts, userDataPart{kind: "corrupt multipart data"}), true
		}
		body, err := io.ReadAll(io.LimitReader(p, 16<<20))
		if err != nil {
			return append(parts, userDataPart{kind: "corrupt multipart data"}), true
		}
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			if body, err = base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(body), nil))); err != nil {
				parts = append(parts, userDataPart{kind: "corrupt base64 part"})
				continue
			}
		}
		ctype, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch {
		case strings.HasPrefix(ctype, "multipart/"):
			// A nested multipart needs its own headers to be read again.
			nested := "Content-Type: " + p.Header.Get("Content-Type") + "\r\n\r\n"
			sub, _ := splitMultipart(append([]byte(nested), body...), depth+1)
			parts = append(parts, sub...)
		case mimeKinds[ctype] != "":
			parts = append(parts, userDataPart{kind: mimeKinds[ctype], content: body})
		default:
			sub := splitUserData(body, depth+1)
			for i := range sub {
				if sub[i].content == nil && ctype != "" {
					sub[i].kind = ctype
				}
			}
			parts = append(parts, sub...)
		}
	}
	return parts, true
}

// validInstanceID keeps the metadata's instance ID usable as a directory name.
var validInstanceID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (g *Guest) instanceDir(id string) string {
	return g.path(filepath.Join(StateDir, "instances", id))
}

// prepareInstance records the instance; on the first boot of a new instance ID (an
// instance launched from an image made of another instance) it removes the SSH host keys
// the image carries, as cloud-init's ssh_deletekeys does, so no two instances share them.
func (g *Guest) prepareInstance(md *metadata) {
	if !validInstanceID.MatchString(md.InstanceID) {
		g.logf("instance ID %q is not usable as a directory name; once-per-instance work is skipped", md.InstanceID)
		return
	}
	dir := g.instanceDir(md.InstanceID)
	if _, err := os.Stat(dir); err == nil {
		return
	}
	keys, _ := filepath.Glob(g.path("/etc/ssh/ssh_host_*_key*"))
	for _, k := range keys {
		os.Remove(k)
	}
	if len(keys) > 0 {
		g.logf("first boot of %s: removed the SSH host keys the image carried", md.InstanceID)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		g.logf("instance state: %v", err)
	}
	_ = writeFileAtomic(g.path(filepath.Join(StateDir, "instance-id")), []byte(md.InstanceID+"\n"), 0o644)
}

// runUserData runs the instance's user data once per instance ID; later boots of the
// same instance skip it. Nothing in it stops the boot.
func (g *Guest) runUserData(ctx context.Context, md *metadata, user *account) {
	if md.UserData == nil {
		g.logf("user data: none")
		return
	}
	if !validInstanceID.MatchString(md.InstanceID) {
		return
	}
	dir := g.instanceDir(md.InstanceID)
	sem := filepath.Join(dir, "sem", "user-data")
	if _, err := os.Stat(sem); err == nil {
		g.logf("user data: already run for %s; not run again", md.InstanceID)
		return
	}
	// The semaphore is taken before running, as cloud-init does: a script that reboots
	// the instance must not run again on the next boot.
	if err := writeFileSync(sem, []byte(time.Now().UTC().Format(time.RFC3339)+"\n")); err != nil {
		g.logf("user data: cannot record that it ran (%v); not running it", err)
		return
	}
	_ = os.WriteFile(filepath.Join(dir, "user-data.txt"), md.UserData, 0o600)
	parts := splitUserData(md.UserData, 0)
	var configs []*cloudConfig
	var scripts []string
	for i, p := range parts {
		switch p.kind {
		case partScript:
			path := filepath.Join(dir, "scripts", fmt.Sprintf("part-%03d", i+1))
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				g.logf("user data: %v", err)
				continue
			}
			if err := os.WriteFile(path, p.content, 0o700); err != nil {
				g.logf("user data: %v", err)
				continue
			}
			scripts = append(scripts, path)
		case partCloudConfig:
			cc, err := parseCloudConfig(p.content)
			if err != nil {
				g.logf("user data: part %d: cloud-config does not parse: %v", i+1, err)
				continue
			}
			configs = append(configs, cc)
		default:
			g.logf("user data: part %d: %s is not supported by strato-guest; ignored", i+1, p.kind)
		}
	}
	// cloud-init's order: files and keys in its init stage; then, in its final stage,
	// the scripts (part-001 …) and then runcmd.
	for _, cc := range configs {
		g.applyCloudConfig(cc, user)
	}
	for _, s := range scripts {
		if ctx.Err() != nil {
			return
		}
		g.runScript(s, filepath.Base(s))
	}
	var runcmd []string
	for _, cc := range configs {
		runcmd = append(runcmd, cc.runcmd...)
	}
	if len(runcmd) > 0 && ctx.Err() == nil {
		path := filepath.Join(dir, "scripts", "runcmd")
		script := "#!/bin/sh\n" + strings.Join(runcmd, "\n") + "\n"
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			g.logf("user data: %v", err)
		} else if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
			g.logf("user data: %v", err)
		} else {
			g.runScript(path, "runcmd")
		}
	}
}

// runScript runs one user-data script as root with its output on the console.
func (g *Guest) runScript(path, name string) {
	g.logf("user data: running %s", name)
	start := time.Now()
	ws, err := g.runToConsole(g.rootCommand(path))
	if err != nil {
		g.logf("user data: %s could not start: %v", name, err)
		return
	}
	g.logf("user data: %s finished in %.1fs: %s", name, time.Since(start).Seconds(), describeStatus(ws))
}
