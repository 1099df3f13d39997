package sshkey

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// ---------------------------------------------------------------------------
// helpers written independently of the package code

// hexColons formats a digest as "aa:bb:..." without using colonHex.
func hexColons(sum []byte) string {
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}

// pkcs8FromPKCS1 wraps a PKCS#1 RSAPrivateKey in a PKCS#8 PrivateKeyInfo
// by hand (RFC 5208): version 0, rsaEncryption with NULL parameters.
func pkcs8FromPKCS1(t *testing.T, pkcs1 []byte) []byte {
	t.Helper()
	info := struct {
		Version    int
		Algorithm  pkix.AlgorithmIdentifier
		PrivateKey []byte
	}{
		Algorithm: pkix.AlgorithmIdentifier{
			Algorithm:  asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1},
			Parameters: asn1.RawValue{Tag: asn1.TagNull},
		},
		PrivateKey: pkcs1,
	}
	der, err := asn1.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// sshString is the test's own SSH "string" encoder.
func sshString(b []byte) []byte {
	out := []byte{byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}
	return append(out, b...)
}

// readSSHString splits one SSH string off the front of b.
func readSSHString(t *testing.T, b []byte) ([]byte, []byte) {
	t.Helper()
	if len(b) < 4 {
		t.Fatalf("short SSH string")
	}
	n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if n > len(b)-4 {
		t.Fatalf("SSH string overruns buffer")
	}
	return b[4 : 4+n], b[4+n:]
}

type ppkFile struct {
	version int
	headers map[string]string
	pub     []byte
	priv    []byte
	mac     string
}

// parsePPK is a small, strict reader of unencrypted PPK files.
func parsePPK(t *testing.T, s string) ppkFile {
	t.Helper()
	if !strings.HasSuffix(s, "\n") {
		t.Errorf("PPK does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	var f ppkFile
	f.headers = map[string]string{}
	i := 0
	next := func() (string, string) {
		if i >= len(lines) {
			t.Fatalf("PPK truncated")
		}
		k, v, ok := strings.Cut(lines[i], ": ")
		if !ok {
			t.Fatalf("PPK line %d is not a header: %q", i, lines[i])
		}
		i++
		return k, v
	}
	blob := func(n string) []byte {
		cnt, err := strconv.Atoi(n)
		if err != nil || cnt < 1 {
			t.Fatalf("bad line count %q", n)
		}
		var b strings.Builder
		for j := 0; j < cnt; j++ {
			l := lines[i]
			i++
			if j < cnt-1 && len(l) != 64 {
				t.Errorf("PPK base64 line of %d characters", len(l))
			}
			if len(l) > 64 || len(l) == 0 {
				t.Errorf("PPK base64 line of %d characters", len(l))
			}
			b.WriteString(l)
		}
		raw, err := base64.StdEncoding.DecodeString(b.String())
		if err != nil {
			t.Fatalf("PPK base64: %v", err)
		}
		return raw
	}
	k, v := next()
	switch k {
	case "PuTTY-User-Key-File-2":
		f.version = 2
	case "PuTTY-User-Key-File-3":
		f.version = 3
	default:
		t.Fatalf("PPK magic line %q", lines[0])
	}
	f.headers["Algorithm"] = v
	for _, want := range []string{"Encryption", "Comment"} {
		k, v = next()
		if k != want {
			t.Fatalf("PPK header %q, want %q", k, want)
		}
		f.headers[k] = v
	}
	if k, v = next(); k != "Public-Lines" {
		t.Fatalf("PPK header %q, want Public-Lines", k)
	}
	f.pub = blob(v)
	if k, v = next(); k != "Private-Lines" {
		t.Fatalf("PPK header %q, want Private-Lines", k)
	}
	f.priv = blob(v)
	if k, v = next(); k != "Private-MAC" {
		t.Fatalf("PPK header %q, want Private-MAC", k)
	}
	f.mac = v
	if i != len(lines) {
		t.Fatalf("PPK has %d extra lines", len(lines)-i)
	}
	return f
}

// wantPPKMAC recomputes the Private-MAC per the PuTTY specification.
func wantPPKMAC(f ppkFile) string {
	var data []byte
	for _, field := range []string{f.headers["Algorithm"], f.headers["Encryption"], f.headers["Comment"]} {
		data = append(data, sshString([]byte(field))...)
	}
	data = append(data, sshString(f.pub)...)
	data = append(data, sshString(f.priv)...)
	var m []byte
	if f.version == 2 {
		k := sha1.New()
		k.Write([]byte("putty-private-key-file-mac-key")) // + empty passphrase
		h := hmac.New(sha1.New, k.Sum(nil))
		h.Write(data)
		m = h.Sum(nil)
	} else {
		h := hmac.New(sha256.New, []byte{})
		h.Write(data)
		m = h.Sum(nil)
	}
	return hex.EncodeToString(m)
}

func blobOf(t *testing.T, authorizedLine string) []byte {
	t.Helper()
	f := strings.Fields(authorizedLine)
	if len(f) != 2 {
		t.Fatalf("public key %q is not exactly \"type base64\"", authorizedLine)
	}
	b, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

func run(t *testing.T, stdin []byte, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, errb.String())
	}
	return out.String()
}

// opensslSHA1OfPKCS8 runs AWS's documented verification command.
func opensslSHA1OfPKCS8(t *testing.T, pemKey []byte) string {
	t.Helper()
	openssl := tool(t, "openssl")
	der := run(t, pemKey, openssl, "pkcs8", "-topk8", "-nocrypt", "-inform", "PEM", "-outform", "DER")
	out := run(t, []byte(der), openssl, "sha1", "-c")
	_, fp, ok := strings.Cut(strings.TrimSpace(out), "= ")
	if !ok {
		t.Fatalf("unexpected openssl output %q", out)
	}
	return fp
}

// ---------------------------------------------------------------------------

func TestParseTypeAndFormat(t *testing.T) {
	types := []struct {
		in   string
		want Type
		ok   bool
	}{
		{"", TypeRSA, true},
		{"rsa", TypeRSA, true},
		{"ed25519", TypeED25519, true},
		{"dsa", "", false},
		{"ecdsa", "", false},
		{"RSA", "", false},
		{" rsa", "", false},
	}
	for _, tc := range types {
		got, err := ParseType(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseType(%q) = %q, %v", tc.in, got, err)
		}
		var ve *ValueError
		if !tc.ok && (!errors.As(err, &ve) || ve.Param != "KeyType" || ve.Value != tc.in) {
			t.Errorf("ParseType(%q) error %#v is not a KeyType *ValueError", tc.in, err)
		}
	}
	formats := []struct {
		in   string
		want Format
		ok   bool
	}{
		{"", FormatPEM, true},
		{"pem", FormatPEM, true},
		{"ppk", FormatPPK, true},
		{"der", "", false},
		{"PEM", "", false},
	}
	for _, tc := range formats {
		got, err := ParseFormat(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseFormat(%q) = %q, %v", tc.in, got, err)
		}
		var ve *ValueError
		if !tc.ok && (!errors.As(err, &ve) || ve.Param != "KeyFormat") {
			t.Errorf("ParseFormat(%q) error %#v is not a KeyFormat *ValueError", tc.in, err)
		}
	}
	if _, err := Create("dsa", FormatPEM, "x"); err == nil {
		t.Error("Create accepted type dsa")
	}
	if _, err := Create(TypeED25519, "der", "x"); err == nil {
		t.Error("Create accepted format der")
	}
}

func TestCreatePEM(t *testing.T) {
	cases := []struct {
		typ    Type
		header string
		algo   string
	}{
		{TypeRSA, "-----BEGIN RSA PRIVATE KEY-----\n", ssh.KeyAlgoRSA},
		{TypeED25519, "-----BEGIN OPENSSH PRIVATE KEY-----\n", ssh.KeyAlgoED25519},
	}
	for _, tc := range cases {
		t.Run(string(tc.typ), func(t *testing.T) {
			c, err := Create(tc.typ, FormatPEM, "my-key")
			if err != nil {
				t.Fatal(err)
			}
			if c.Type != tc.typ {
				t.Errorf("Type = %q", c.Type)
			}
			if !strings.HasPrefix(c.PrivateKey, tc.header) || !strings.HasSuffix(c.PrivateKey, "-----\n") {
				t.Errorf("private key framing:\n%s", c.PrivateKey)
			}
			if !strings.HasPrefix(c.PublicKey, tc.algo+" ") || len(strings.Fields(c.PublicKey)) != 2 {
				t.Errorf("PublicKey = %q", c.PublicKey)
			}
			signer, err := ssh.ParsePrivateKey([]byte(c.PrivateKey))
			if err != nil {
				t.Fatalf("ssh.ParsePrivateKey: %v", err)
			}
			if got := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); got != c.PublicKey {
				t.Errorf("public half %q\n!= PublicKey %q", got, c.PublicKey)
			}

			switch tc.typ {
			case TypeRSA:
				block, _ := pem.Decode([]byte(c.PrivateKey))
				key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				if key.N.BitLen() != 2048 {
					t.Errorf("RSA key has %d bits", key.N.BitLen())
				}
				sum := sha1.Sum(pkcs8FromPKCS1(t, block.Bytes))
				if want := hexColons(sum[:]); c.Fingerprint != want {
					t.Errorf("Fingerprint = %s, want SHA-1 of PKCS#8 %s", c.Fingerprint, want)
				}
				if _, err := exec.LookPath("openssl"); err == nil {
					if want := opensslSHA1OfPKCS8(t, []byte(c.PrivateKey)); c.Fingerprint != want {
						t.Errorf("Fingerprint = %s, openssl says %s", c.Fingerprint, want)
					}
				}
			case TypeED25519:
				sum := sha256.Sum256(blobOf(t, c.PublicKey))
				if want := base64.StdEncoding.EncodeToString(sum[:]); c.Fingerprint != want {
					t.Errorf("Fingerprint = %s, want %s", c.Fingerprint, want)
				}
				if len(c.Fingerprint) != 44 || !strings.HasSuffix(c.Fingerprint, "=") || strings.HasPrefix(c.Fingerprint, "SHA256:") {
					t.Errorf("Fingerprint %q is not padded bare base64", c.Fingerprint)
				}
				raw, err := ssh.ParseRawPrivateKey([]byte(c.PrivateKey))
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := raw.(*ed25519.PrivateKey); !ok {
					t.Errorf("OpenSSH key holds %T", raw)
				}
				if _, err := exec.LookPath("ssh-keygen"); err == nil {
					dir := t.TempDir()
					path := filepath.Join(dir, "id")
					if err := os.WriteFile(path, []byte(c.PrivateKey), 0o600); err != nil {
						t.Fatal(err)
					}
					out := run(t, nil, "ssh-keygen", "-l", "-E", "sha256", "-f", path)
					// "256 SHA256:<digest> my-key (ED25519)"
					f := strings.Fields(out)
					if len(f) < 3 || f[1] != "SHA256:"+strings.TrimRight(c.Fingerprint, "=") || f[2] != "my-key" {
						t.Errorf("ssh-keygen -l says %q, fingerprint %s", out, c.Fingerprint)
					}
					if pub := run(t, nil, "ssh-keygen", "-y", "-f", path); !strings.HasPrefix(pub, c.PublicKey) {
						t.Errorf("ssh-keygen -y gives %q", pub)
					}
				}
			}
		})
	}
}

func TestCreatePPK(t *testing.T) {
	for _, typ := range []Type{TypeRSA, TypeED25519} {
		t.Run(string(typ), func(t *testing.T) {
			c, err := Create(typ, FormatPPK, "my key\r\nssh-rsa injected")
			if err != nil {
				t.Fatal(err)
			}
			f := parsePPK(t, c.PrivateKey)
			if f.version != 2 {
				t.Errorf("PPK version %d", f.version)
			}
			algo := strings.Fields(c.PublicKey)[0]
			if f.headers["Algorithm"] != algo || f.headers["Encryption"] != "none" {
				t.Errorf("PPK headers %v", f.headers)
			}
			if f.headers["Comment"] != "my key  ssh-rsa injected" {
				t.Errorf("PPK comment %q", f.headers["Comment"])
			}
			if !bytes.Equal(f.pub, blobOf(t, c.PublicKey)) {
				t.Errorf("PPK public blob differs from PublicKey")
			}
			if want := wantPPKMAC(f); f.mac != want {
				t.Errorf("Private-MAC %s, want %s", f.mac, want)
			}

			switch typ {
			case TypeRSA:
				// public blob: string "ssh-rsa", mpint e, mpint n
				_, rest := readSSHString(t, f.pub)
				eb, rest := readSSHString(t, rest)
				nb, _ := readSSHString(t, rest)
				// private blob: mpint d, p, q, iqmp
				db, rest := readSSHString(t, f.priv)
				pb, rest := readSSHString(t, rest)
				qb, rest := readSSHString(t, rest)
				ib, rest := readSSHString(t, rest)
				if len(rest) != 0 {
					t.Errorf("%d stray bytes after the RSA private blob", len(rest))
				}
				for _, b := range [][]byte{db, pb, qb, ib} {
					if len(b) == 0 || b[0]&0x80 != 0 || (b[0] == 0 && len(b) > 1 && b[1]&0x80 == 0) {
						t.Errorf("non-canonical mpint %x...", b[:min(4, len(b))])
					}
				}
				n, e := new(big.Int).SetBytes(nb), new(big.Int).SetBytes(eb)
				d, p, q, iqmp := new(big.Int).SetBytes(db), new(big.Int).SetBytes(pb), new(big.Int).SetBytes(qb), new(big.Int).SetBytes(ib)
				if new(big.Int).Mul(p, q).Cmp(n) != 0 {
					t.Fatal("p*q != n")
				}
				if p.Cmp(q) <= 0 {
					t.Error("p is not the larger prime")
				}
				if new(big.Int).Mod(new(big.Int).Mul(iqmp, q), p).Cmp(big.NewInt(1)) != 0 {
					t.Error("iqmp*q != 1 mod p")
				}
				key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())}, D: d, Primes: []*big.Int{p, q}}
				if err := key.Validate(); err != nil {
					t.Fatalf("reconstructed key: %v", err)
				}
				key.Precompute()
				sum := sha1.Sum(pkcs8FromPKCS1(t, x509.MarshalPKCS1PrivateKey(key)))
				if want := hexColons(sum[:]); c.Fingerprint != want {
					t.Errorf("Fingerprint %s, want %s", c.Fingerprint, want)
				}
			case TypeED25519:
				seed, rest := readSSHString(t, f.priv)
				if len(seed) != ed25519.SeedSize || len(rest) != 0 {
					t.Fatalf("ED25519 private blob: %d-byte seed, %d extra", len(seed), len(rest))
				}
				pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
				sp, _ := ssh.NewPublicKey(pub)
				if !bytes.Equal(sp.Marshal(), f.pub) {
					t.Error("seed does not yield the public key")
				}
				sum := sha256.Sum256(f.pub)
				if want := base64.StdEncoding.EncodeToString(sum[:]); c.Fingerprint != want {
					t.Errorf("Fingerprint %s, want %s", c.Fingerprint, want)
				}
			}
		})
	}
}

// TestPPKWithPuTTYgen loads our PPK files (versions 2 and 3) with puttygen,
// which checks the MAC, and compares the public key it derives.
func TestPPKWithPuTTYgen(t *testing.T) {
	puttygen := tool(t, "puttygen")
	for _, typ := range []Type{TypeRSA, TypeED25519} {
		for _, version := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s-v%d", typ, version), func(t *testing.T) {
				c, err := Create(typ, FormatPPK, "my-key")
				if err != nil {
					t.Fatal(err)
				}
				ppk := c.PrivateKey
				if version != ppkVersion {
					f := parsePPK(t, ppk)
					ppk = encodePPK(version, f.headers["Algorithm"], f.pub, f.priv, f.headers["Comment"])
				}
				dir := t.TempDir()
				path := filepath.Join(dir, "k.ppk")
				if err := os.WriteFile(path, []byte(ppk), 0o600); err != nil {
					t.Fatal(err)
				}
				out := run(t, nil, puttygen, path, "-O", "public-openssh", "-o", "/dev/stdout")
				if got, want := strings.TrimSpace(out), AuthorizedKey(c.PublicKey, "my-key"); got != want {
					t.Errorf("puttygen public key %q\nwant %q", got, want)
				}
				// Converting the private key makes puttygen check the MAC
				// (public-only output does not).
				pemPath := filepath.Join(dir, "k.pem")
				run(t, nil, puttygen, path, "-O", "private-openssh", "-o", pemPath)
				pemKey, err := os.ReadFile(pemPath)
				if err != nil {
					t.Fatal(err)
				}
				signer, err := ssh.ParsePrivateKey(pemKey)
				if err != nil {
					t.Fatalf("puttygen's conversion does not parse: %v", err)
				}
				if got := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); got != c.PublicKey {
					t.Errorf("converted key has public half %q, want %q", got, c.PublicKey)
				}
				if typ == TypeRSA {
					block, _ := pem.Decode(pemKey)
					if block == nil || block.Type != "RSA PRIVATE KEY" {
						t.Fatalf("puttygen wrote no PKCS#1 PEM:\n%s", pemKey)
					}
					sum := sha1.Sum(pkcs8FromPKCS1(t, block.Bytes))
					if got := hexColons(sum[:]); got != c.Fingerprint {
						t.Errorf("fingerprint after puttygen conversion %s, want %s", got, c.Fingerprint)
					}
				}
			})
		}
	}
}

func TestPPKTamperedMACRefusedByPuTTYgen(t *testing.T) {
	puttygen := tool(t, "puttygen")
	c, err := Create(TypeED25519, FormatPPK, "k")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(c.PrivateKey, "Private-MAC: ") + len("Private-MAC: ")
	flip := byte('0')
	if c.PrivateKey[i] == '0' {
		flip = '1'
	}
	bad := c.PrivateKey[:i] + string(flip) + c.PrivateKey[i+1:]
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.ppk")
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(puttygen, path, "-O", "private-openssh", "-o", filepath.Join(dir, "out")).Run(); err == nil {
		t.Fatal("puttygen accepted a PPK with a wrong MAC; the MAC check in TestPPKWithPuTTYgen proves nothing")
	}
}

func TestImportAccepts(t *testing.T) {
	spki, _ := pem.Decode([]byte(fxRSA2048SPKI))
	bareB64 := strings.Join(strings.Split(fxRSA2048SPKI, "\n")[1:strings.Count(fxRSA2048SPKI, "\n")], "\n")
	rsa2048 := strings.Join(strings.Fields(fxRSA2048)[:2], " ")
	ed := strings.Join(strings.Fields(fxED25519)[:2], " ")
	rsaFromCreate, err := Create(TypeRSA, FormatPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		material string
		wantPub  string
		wantFP   string
		wantType Type
	}{
		{"openssh rsa with comment", fxRSA2048, rsa2048, fxRSA2048MD5, TypeRSA},
		{"openssh rsa no comment", rsa2048, rsa2048, fxRSA2048MD5, TypeRSA},
		{"openssh rsa trailing newline", fxRSA2048 + "\n", rsa2048, fxRSA2048MD5, TypeRSA},
		{"openssh rsa CRLF and blank lines", "\r\n" + fxRSA2048 + "\r\n\r\n", rsa2048, fxRSA2048MD5, TypeRSA},
		{"openssh rsa comment with spaces", rsa2048 + "  Alice's laptop  key", rsa2048, fxRSA2048MD5, TypeRSA},
		{"openssh rsa 1024 (minimum)", fxRSA1024, strings.Join(strings.Fields(fxRSA1024)[:2], " "), fxRSA1024MD5, TypeRSA},
		{"openssh rsa 4096 (maximum)", fxRSA4096, strings.Join(strings.Fields(fxRSA4096)[:2], " "), fxRSA4096MD5, TypeRSA},
		{"rfc4716 rsa", fxRSA2048RFC4716, rsa2048, fxRSA2048MD5, TypeRSA},
		{"rfc4716 rsa CRLF + continued header", strings.ReplaceAll(strings.Replace(fxRSA2048RFC4716, "Comment:", "x-long: a\\\nb: c\nComment:", 1), "\n", "\r\n"), rsa2048, fxRSA2048MD5, TypeRSA},
		{"pem spki", fxRSA2048SPKI, rsa2048, fxRSA2048MD5, TypeRSA},
		{"pem pkcs1", fxRSA2048PKCS1, rsa2048, fxRSA2048MD5, TypeRSA},
		{"base64 der multi-line", bareB64, rsa2048, fxRSA2048MD5, TypeRSA},
		{"base64 der one line", base64.StdEncoding.EncodeToString(spki.Bytes), rsa2048, fxRSA2048MD5, TypeRSA},
		{"binary der", string(spki.Bytes), rsa2048, fxRSA2048MD5, TypeRSA},
		{"created key re-imported", rsaFromCreate.PublicKey, rsaFromCreate.PublicKey, "", TypeRSA},
		{"openssh ed25519", fxED25519, ed, fxED25519SHA, TypeED25519},
		{"openssh ed25519 BOM", "\ufeff" + ed + "\n", ed, fxED25519SHA, TypeED25519},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Import([]byte(tc.material))
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if got.PublicKey != tc.wantPub || got.Type != tc.wantType {
				t.Errorf("got %q (%s), want %q (%s)", got.PublicKey, got.Type, tc.wantPub, tc.wantType)
			}
			if tc.wantFP != "" && got.Fingerprint != tc.wantFP {
				t.Errorf("Fingerprint %s, want %s", got.Fingerprint, tc.wantFP)
			}
		})
	}
}

// TestImportFingerprintOpenSSL recomputes the imported-RSA fingerprint of a
// fresh key with AWS's documented openssl pipeline.
func TestImportFingerprintOpenSSL(t *testing.T) {
	openssl := tool(t, "openssl")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	der := run(t, pkcs1, openssl, "pkey", "-pubout", "-outform", "DER")
	out := run(t, []byte(der), openssl, "md5", "-c")
	_, want, _ := strings.Cut(strings.TrimSpace(out), "= ")
	sp, _ := ssh.NewPublicKey(&key.PublicKey)
	got, err := Import(ssh.MarshalAuthorizedKey(sp))
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint != want {
		t.Errorf("Fingerprint %s, openssl says %s", got.Fingerprint, want)
	}
}

func TestImportRejects(t *testing.T) {
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edSSH, _ := ssh.NewPublicKey(edPub)
	edSPKI, _ := x509.MarshalPKIXPublicKey(edPub)
	edPrivPEM, _ := ssh.MarshalPrivateKey(edPriv, "c")
	edPKCS8, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	rsaCreated, err := Create(TypeRSA, FormatPEM, "x")
	if err != nil {
		t.Fatal(err)
	}
	rsaBlock, _ := pem.Decode([]byte(rsaCreated.PrivateKey))
	ppkCreated, err := Create(TypeED25519, FormatPPK, "x")
	if err != nil {
		t.Fatal(err)
	}
	rsaB64 := strings.Fields(fxRSA2048)[1]
	rsaBlob, _ := base64.StdEncoding.DecodeString(rsaB64)
	edRFC4716 := "---- BEGIN SSH2 PUBLIC KEY ----\n" + base64.StdEncoding.EncodeToString(edSSH.Marshal()) + "\n---- END SSH2 PUBLIC KEY ----\n"

	cases := []struct {
		name     string
		material string
		reason   string // substring expected in the reason
	}{
		{"empty", "", "empty"},
		{"whitespace", " \n\t\r\n", "empty"},
		{"garbage", "hello world, this is not a key", ""},
		{"garbage single token", "not-base64!!", ""},
		{"binary garbage", "\x00\x01\x02\xff\xfe", ""},
		{"dsa", fxDSA, "DSA"},
		{"ecdsa", fxECDSA, "ECDSA"},
		{"rsa 768", fxRSA768, "1024 to 4096"},
		{"rsa 4104", fxRSA4104, "1024 to 4096"},
		{"rsa 8192", fxRSA8192, "1024 to 4096"},
		{"rsa private pkcs1 pem", rsaCreated.PrivateKey, "private key"},
		{"rsa private pkcs1 der", string(rsaBlock.Bytes), "private key"},
		{"ed25519 private openssh", string(pem.EncodeToMemory(edPrivPEM)), "private key"},
		{"ed25519 private pkcs8 der", string(edPKCS8), "private key"},
		{"ppk private key", ppkCreated.PrivateKey, "private key"},
		{"ed25519 spki der (RSA only)", string(edSPKI), "OpenSSH"},
		{"ed25519 rfc4716 (RSA only)", edRFC4716, "OpenSSH"},
		{"type mismatch", "ssh-ed25519 " + rsaB64, "does not match"},
		{"type only", "ssh-rsa", ""},
		{"bad base64", "ssh-rsa AAAA@@@@", "base64"},
		{"truncated blob", "ssh-rsa " + base64.StdEncoding.EncodeToString(rsaBlob[:len(rsaBlob)-10]), "malformed"},
		{"trailing junk in blob", "ssh-rsa " + base64.StdEncoding.EncodeToString(append(append([]byte{}, rsaBlob...), 0, 0, 0, 0)), "malformed"},
		{"two keys", fxRSA2048 + "\n" + fxED25519 + "\n", "more than one"},
		{"authorized_keys options", `no-pty ` + fxRSA2048, "options"},
		{"ssh wire blob without type", rsaB64, ""},
		{"rfc4716 without end", strings.Replace(fxRSA2048RFC4716, "---- END SSH2 PUBLIC KEY ----", "", 1), "end line"},
		{"rfc4716 trailing data", fxRSA2048RFC4716 + "\nssh-rsa x", "after"},
		{"pem certificate type", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", ""},
		{"two pem blocks", fxRSA2048SPKI + "\n" + fxRSA2048SPKI, "more than one"},
		{"oversized", fxRSA2048 + strings.Repeat(" ", MaxMaterialBytes), "larger"},
		{"invalid utf-8 text", "ssh-rsa \xff\xfe", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Import([]byte(tc.material))
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not a *FormatError", err, err)
			}
			if !strings.HasPrefix(err.Error(), FormatErrorMessage) {
				t.Errorf("message %q", err.Error())
			}
			if tc.reason != "" && !strings.Contains(fe.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", fe.Reason, tc.reason)
			}
		})
	}
}

func TestFormatErrorMessage(t *testing.T) {
	if got := (&FormatError{}).Error(); got != "Key is not in valid OpenSSH public key format" {
		t.Errorf("got %q", got)
	}
	if got := (&FormatError{Reason: "x"}).Error(); got != "Key is not in valid OpenSSH public key format: x" {
		t.Errorf("got %q", got)
	}
}

func TestAuthorizedKey(t *testing.T) {
	cases := []struct{ pub, comment, want string }{
		{"ssh-rsa AAAA", "my-key", "ssh-rsa AAAA my-key"},
		{"ssh-rsa AAAA old comment", "my-key", "ssh-rsa AAAA my-key"},
		{"ssh-ed25519 AAAA", "", "ssh-ed25519 AAAA"},
		{"ssh-ed25519 AAAA\n", "  ", "ssh-ed25519 AAAA"},
		{"ssh-rsa AAAA", "two words", "ssh-rsa AAAA two words"},
		{"ssh-rsa AAAA", "evil\nssh-rsa BBBB attacker", "ssh-rsa AAAA evil ssh-rsa BBBB attacker"},
		{"ssh-rsa AAAA", "cr\rlf\u2028", "ssh-rsa AAAA cr lf"},
	}
	for _, tc := range cases {
		if got := AuthorizedKey(tc.pub, tc.comment); got != tc.want {
			t.Errorf("AuthorizedKey(%q, %q) = %q, want %q", tc.pub, tc.comment, got, tc.want)
		}
	}
	// The line must be accepted by an authorized_keys parser.
	c, err := Create(TypeED25519, FormatPEM, "k")
	if err != nil {
		t.Fatal(err)
	}
	line := AuthorizedKey(c.PublicKey, "my key pair")
	_, comment, _, rest, err := ssh.ParseAuthorizedKey([]byte(line + "\n"))
	if err != nil || comment != "my key pair" || len(rest) != 0 {
		t.Errorf("ParseAuthorizedKey(%q): comment %q, rest %q, %v", line, comment, rest, err)
	}
}

func TestCreateConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := 0; i < 8; i++ {
		typ, f := TypeED25519, FormatPEM
		if i%2 == 0 {
			typ = TypeRSA
		}
		if i%4 < 2 {
			f = FormatPPK
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Create(typ, f, "k")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[c.PublicKey] {
				t.Error("duplicate key generated")
			}
			seen[c.PublicKey] = true
		}()
	}
	wg.Wait()
}
