package imds

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// Signer signs instance identity documents. Sign gives the detached signature served as
// dynamic/instance-identity/signature; PKCS7 gives a DER CMS SignedData that carries the
// document, the signature and the signing certificate (dynamic/instance-identity/pkcs7).
type Signer interface {
	Sign(document []byte) ([]byte, error)
	PKCS7(document []byte) ([]byte, error)
}

// Ed25519Signer signs with an Ed25519 key and a self-signed certificate for it. strato
// publishes CertificatePEM so that anyone can verify a document the way AWS users verify
// theirs against the region's published certificate. (AWS signs with RSA and DSA; Ed25519
// is what we chose: small, fast and in the standard library. The entry names are AWS's,
// the algorithm is stated in the certificate.)
type Ed25519Signer struct {
	key  ed25519.PrivateKey
	cert *x509.Certificate
}

// NewEd25519Signer makes a signer from key (a fresh key when nil) with a self-signed
// certificate valid from notBefore for ten years.
func NewEd25519Signer(key ed25519.PrivateKey, notBefore time.Time) (*Ed25519Signer, error) {
	if key == nil {
		var err error
		if _, key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, err
		}
	}
	// The serial number comes from the key, so one key and notBefore always make
	// the same certificate (Ed25519 signs deterministically): the certificate
	// strato publishes stays valid across restarts.
	digest := sha256.Sum256(key.Public().(ed25519.PublicKey))
	serial := new(big.Int).SetBytes(digest[:8])
	serial.Rsh(serial, 1) // positive, 63 bits
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"strato"}, CommonName: "strato instance identity"},
		NotBefore:    notBefore,
		NotAfter:     notBefore.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("imds: identity certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Ed25519Signer{key: key, cert: cert}, nil
}

// PublicKey is the key that verifies signatures.
func (s *Ed25519Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Certificate is the self-signed certificate of the signing key.
func (s *Ed25519Signer) Certificate() *x509.Certificate { return s.cert }

// CertificatePEM is Certificate in PEM, for publishing.
func (s *Ed25519Signer) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw})
}

// Sign is the Ed25519 signature of document.
func (s *Ed25519Signer) Sign(document []byte) ([]byte, error) {
	return ed25519.Sign(s.key, document), nil
}

// Object identifiers of CMS (RFC 5652) with Ed25519 (RFC 8419).
var (
	oidData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSHA512     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidEd25519    = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidAttrType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
)

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT, built by hand: Marshal ignores tags on a RawValue
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     []byte `asn1:"explicit,optional,tag:0"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type signerInfo struct {
	Version            int
	SID                issuerAndSerial
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

// PKCS7 is a CMS SignedData (RFC 5652) of document with an Ed25519 signature (RFC 8419)
// over the signed attributes content-type and message-digest (SHA-512 of the document),
// carrying the certificate: the usual CMS form, which generic CMS verifiers expect.
func (s *Ed25519Signer) PKCS7(document []byte) ([]byte, error) {
	attrs, err := signedAttributes(document)
	if err != nil {
		return nil, err
	}
	sd := signedData{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{{Algorithm: oidSHA512}},
		EncapContentInfo: encapContentInfo{EContentType: oidData, EContent: document},
		Certificates: asn1.RawValue{
			Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: s.cert.Raw,
		},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                issuerAndSerial{Issuer: asn1.RawValue{FullBytes: s.cert.RawIssuer}, Serial: s.cert.SerialNumber},
			DigestAlgorithm:    pkix.AlgorithmIdentifier{Algorithm: oidSHA512},
			SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: attrs},
			SignatureAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidEd25519},
			// The signature covers the attributes encoded as a SET OF (RFC 5652 §5.4).
			Signature: ed25519.Sign(s.key, asSet(attrs)),
		}},
	}
	inner, err := asn1.Marshal(sd)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(contentInfo{
		ContentType: oidSignedData,
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner},
	})
}

// VerifyPKCS7 checks a SignedData made by an Ed25519Signer against the certificate cert
// and returns the document it carries. It is what a client of strato would do with the
// published certificate.
func VerifyPKCS7(der []byte, cert *x509.Certificate) ([]byte, error) {
	var ci contentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("imds: pkcs7: not a ContentInfo: %v", err)
	}
	if !ci.ContentType.Equal(oidSignedData) || ci.Content.Class != asn1.ClassContextSpecific || ci.Content.Tag != 0 {
		return nil, fmt.Errorf("imds: pkcs7: not SignedData")
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("imds: pkcs7: %w", err)
	}
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("imds: pkcs7: want one signer, got %d", len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	if !si.SignatureAlgorithm.Algorithm.Equal(oidEd25519) {
		return nil, fmt.Errorf("imds: pkcs7: signature algorithm %v is not Ed25519", si.SignatureAlgorithm.Algorithm)
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("imds: pkcs7: certificate key is not Ed25519")
	}
	content := sd.EncapContentInfo.EContent
	want, err := signedAttributes(content)
	if err != nil {
		return nil, err
	}
	// Only the attributes this signer writes are accepted, so comparing their encoding
	// checks the message digest too.
	if !bytes.Equal(si.SignedAttrs.Bytes, want) {
		return nil, fmt.Errorf("imds: pkcs7: signed attributes do not match the content")
	}
	if !ed25519.Verify(pub, asSet(si.SignedAttrs.Bytes), si.Signature) {
		return nil, fmt.Errorf("imds: pkcs7: bad signature")
	}
	return content, nil
}

// signedAttributes is the content of the signed attributes for document (the elements,
// without the SET header), in DER order.
func signedAttributes(document []byte) ([]byte, error) {
	digest := sha512.Sum512(document)
	typeValue, err := asn1.Marshal(oidData)
	if err != nil {
		return nil, err
	}
	digestValue, err := asn1.Marshal(digest[:])
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, a := range []attribute{
		{Type: oidAttrType, Values: []asn1.RawValue{{FullBytes: typeValue}}},
		{Type: oidAttrDigest, Values: []asn1.RawValue{{FullBytes: digestValue}}},
	} {
		der, err := asn1.Marshal(a)
		if err != nil {
			return nil, err
		}
		out = append(out, der...)
	}
	return out, nil
}

// asSet wraps DER elements in a SET header.
func asSet(elements []byte) []byte {
	der, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: elements})
	return der
}
