package guest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// HostKeyPath is the in-process SSH server's host key (under the root), where OpenSSH
// keeps its own ed25519 key, in OpenSSH's format: an image that later gets sshd keeps the
// same host identity.
const HostKeyPath = "/etc/ssh/ssh_host_ed25519_key"

// ensureHostKey loads the ed25519 host key, making it (and its .pub) on first boot.
func (g *Guest) ensureHostKey(hostname string) (ssh.Signer, error) {
	path := g.path(HostKeyPath)
	if b, err := os.ReadFile(path); err == nil {
		signer, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", HostKeyPath, err)
		}
		if _, err := os.Stat(path + ".pub"); os.IsNotExist(err) {
			_ = os.WriteFile(path+".pub", publicLine(signer.PublicKey(), hostname), 0o644)
		}
		return signer, nil
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "root@"+hostname)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path+".pub", publicLine(signer.PublicKey(), hostname), 0o644); err != nil {
		return nil, err
	}
	g.logf("ssh: generated host key %s", ssh.FingerprintSHA256(signer.PublicKey()))
	return signer, nil
}

func publicLine(pub ssh.PublicKey, hostname string) []byte {
	return []byte(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " root@" + hostname + "\n")
}

// printHostKeys writes the host keys' fingerprints and the keys to the console in the
// blocks cloud-init writes on EC2, which tools read from GetConsoleOutput to check a
// new instance's host key.
func (g *Guest) printHostKeys(hostname string) {
	files, _ := filepath.Glob(g.path("/etc/ssh/ssh_host_*_key.pub"))
	slices.Sort(files)
	var prints, keys []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			continue
		}
		name := "root@" + hostname
		prints = append(prints, fmt.Sprintf("%d %s %s (%s)", keyBits(pub), ssh.FingerprintSHA256(pub), name, keyLabel(pub.Type())))
		keys = append(keys, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))+" "+name)
	}
	if len(prints) == 0 {
		return
	}
	var b strings.Builder
	const rule = "#############################################################"
	b.WriteString("ec2: " + rule + "\nec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\n")
	for _, p := range prints {
		b.WriteString("ec2: " + p + "\n")
	}
	b.WriteString("ec2: -----END SSH HOST KEY FINGERPRINTS-----\nec2: " + rule + "\n")
	b.WriteString("-----BEGIN SSH HOST KEY KEYS-----\n")
	for _, k := range keys {
		b.WriteString(k + "\n")
	}
	b.WriteString("-----END SSH HOST KEY KEYS-----\n")
	_, _ = g.console.Write([]byte(b.String()))
}

// keyBits is the size ssh-keygen -l shows.
func keyBits(pub ssh.PublicKey) int {
	switch pub.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519:
		return 256
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoSKECDSA256:
		return 256
	case ssh.KeyAlgoECDSA384:
		return 384
	case ssh.KeyAlgoECDSA521:
		return 521
	}
	if ck, ok := pub.(ssh.CryptoPublicKey); ok {
		type sized interface{ Size() int }
		if s, ok := ck.CryptoPublicKey().(sized); ok {
			return s.Size() * 8
		}
	}
	return 0
}

// keyLabel is the key type as ssh-keygen -l names it.
func keyLabel(algo string) string {
	switch {
	case algo == ssh.KeyAlgoED25519:
		return "ED25519"
	case algo == ssh.KeyAlgoRSA:
		return "RSA"
	case algo == "ssh-dss":
		return "DSA"
	case strings.HasPrefix(algo, "ecdsa-"):
		return "ECDSA"
	}
	return strings.ToUpper(algo)
}
