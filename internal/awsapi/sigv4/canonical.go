package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// ownSignature computes the signature from a canonical request built here,
// for the cases the SDK signer cannot reproduce (see needsOwnCanonicalRequest):
// a request dated by the Date header with no x-amz-date signed, or a signed
// content-length that is zero. It follows the same canonicalisation as the
// SDK signer (double-encoded path except for s3, sorted encoded query, values
// trimmed with inner spaces collapsed, multiple values joined by ',').
func ownSignature(r *http.Request, p *parsed, payloadHash, secret string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')

	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	if p.Scope.Service != "s3" {
		path = escapePath(path)
	}
	b.WriteString(path)
	b.WriteByte('\n')

	var q url.Values
	if p.presigned {
		q = p.query
	} else {
		q = r.URL.Query()
	}
	b.WriteString(canonicalQuery(q, p.presigned))
	b.WriteByte('\n')

	names := append([]string(nil), p.signedHeaders...)
	sort.Strings(names)
	for _, name := range names {
		b.WriteString(name)
		b.WriteByte(':')
		switch name {
		case "host":
			b.WriteString(collapseSpaces(r.Host))
		case "content-length":
			b.WriteString(strconv.FormatInt(contentLength(r), 10))
		default:
			for i, v := range headerValues(r, name) {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strings.TrimSpace(collapseSpaces(v)))
			}
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(names, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)

	crHash := sha256.Sum256([]byte(b.String()))
	scope := p.Scope.Date + "/" + p.Scope.Region + "/" + p.Scope.Service + "/" + scopeTerminator
	sts := algorithm + "\n" + p.Time.Format(amzDateLayout) + "\n" + scope + "\n" + hex.EncodeToString(crHash[:])

	key := hmacSHA256([]byte("AWS4"+secret), p.Scope.Date)
	key = hmacSHA256(key, p.Scope.Region)
	key = hmacSHA256(key, p.Scope.Service)
	key = hmacSHA256(key, scopeTerminator)
	return hex.EncodeToString(hmacSHA256(key, sts))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalQuery encodes every name and value (RFC 3986 unreserved characters
// kept, everything else %XX) and sorts the pairs after encoding. For a
// presigned request X-Amz-Signature is left out.
func canonicalQuery(q url.Values, presigned bool) string {
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(q))
	for k, vs := range q {
		if presigned && k == qSignature {
			continue
		}
		ek := uriEncode(k, true)
		for _, v := range vs {
			pairs = append(pairs, pair{ek, uriEncode(v, true)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, kv := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv.k)
		b.WriteByte('=')
		b.WriteString(kv.v)
	}
	return b.String()
}

// escapePath encodes an already-escaped path once more, keeping '/'.
func escapePath(p string) string { return uriEncode(p, false) }

func uriEncode(s string, encodeSlash bool) string {
	const hexUpper = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !keepByte(s[i], encodeSlash) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	buf := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keepByte(c, encodeSlash) {
			buf = append(buf, c)
		} else {
			buf = append(buf, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return string(buf)
}

func keepByte(c byte, encodeSlash bool) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '_', c == '.', c == '~':
		return true
	case c == '/':
		return !encodeSlash
	}
	return false
}

// collapseSpaces trims leading and trailing spaces and turns each run of
// spaces into one.
func collapseSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	prevSpace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if prevSpace {
				continue
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
		b.WriteByte(c)
	}
	return b.String()
}
