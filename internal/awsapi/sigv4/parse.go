// Package sigv4 checks AWS Signature Version 4 on incoming requests, in both
// the Authorization-header form and the presigned query-string form.
//
// Verification re-signs the request with aws-sdk-go-v2's v4 signer, using the
// stored secret, the request's own timestamp and the region and service from
// its credential scope, and compares the result with the signature the client
// sent. See verify.go for how the re-signed request is built.
package sigv4

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm       = "AWS4-HMAC-SHA256"
	scopeTerminator = "aws4_request"
	amzDateLayout   = "20060102T150405Z"
	scopeDateLayout = "20060102"

	// maxSkew is how far X-Amz-Date may be from the server clock for
	// header-signed requests (either way), and how far in the future a
	// presigned request's X-Amz-Date may be.
	maxSkew = 15 * time.Minute
	// maxPresignExpires is the largest X-Amz-Expires accepted (7 days).
	maxPresignExpires = 7 * 24 * 60 * 60

	hdrAuthorization = "Authorization"
	hdrAmzDate       = "X-Amz-Date"
	hdrDate          = "Date"
	hdrSecurityToken = "X-Amz-Security-Token"
	hdrContentSHA256 = "X-Amz-Content-Sha256"

	qAlgorithm     = "X-Amz-Algorithm"
	qCredential    = "X-Amz-Credential"
	qDate          = "X-Amz-Date"
	qExpires       = "X-Amz-Expires"
	qSignedHeaders = "X-Amz-SignedHeaders"
	qSignature     = "X-Amz-Signature"
	qSecurityToken = "X-Amz-Security-Token"
	qContentSHA256 = "X-Amz-Content-Sha256"
)

// Scope is the credential scope of a signature:
// AccessKeyID/Date/Region/Service/aws4_request.
type Scope struct {
	AccessKeyID, Date, Region, Service string
}

// Signed describes a well-formed signature on a request.
type Signed struct {
	Scope Scope
	// Time is the signing time (X-Amz-Date, or the Date header), in UTC.
	Time time.Time
	// SecurityToken is the X-Amz-Security-Token header or query parameter,
	// if any.
	SecurityToken string
}

// parsed is everything Verify needs beyond Signed.
type parsed struct {
	Signed
	presigned bool
	// signedHeaders is the client's SignedHeaders list, split on ';'.
	signedHeaders []string
	// signature is the client's signature, lower-case hex.
	signature string
	// dateHeader is true when the time came from the Date header because
	// X-Amz-Date was absent (header form only).
	dateHeader bool
	// expires is X-Amz-Expires in seconds (presigned form); -1 when absent.
	expires int64
	// query is the parsed query string (presigned form only).
	query url.Values
}

// Parse checks that the request carries a well-formed SigV4 signature (header
// or presigned query) and returns its scope, without checking the secret.
// Used as-is in development mode (any well-formed signature accepted), and as
// the first step of Verify.
func Parse(r *http.Request) (Signed, error) {
	var p parsed
	if err := parseRequest(r, &p); err != nil {
		return Signed{}, err
	}
	return p.Signed, nil
}

func parseRequest(r *http.Request, p *parsed) *Error {
	if auth := r.Header.Get(hdrAuthorization); auth != "" {
		return parseHeaderAuth(r, auth, p)
	}
	if r.URL != nil && r.URL.RawQuery != "" && strings.Contains(r.URL.RawQuery, "X-Amz-") {
		q := r.URL.Query()
		if _, ok := q[qAlgorithm]; ok {
			return parsePresigned(q, p)
		}
		if _, ok := q[qSignature]; ok {
			return parsePresigned(q, p)
		}
		if _, ok := q[qCredential]; ok {
			return parsePresigned(q, p)
		}
	}
	return errMissingAuth()
}

func parseHeaderAuth(r *http.Request, auth string, p *parsed) *Error {
	auth = strings.TrimSpace(auth)
	alg, rest, _ := strings.Cut(auth, " ")
	if alg != algorithm {
		if strings.HasPrefix(alg, "AWS4-") {
			return errIncomplete("Unsupported AWS 'algorithm': '" + alg + "'. Only " + algorithm + " is supported.")
		}
		// A SigV2 "AWS AKID:sig" header, a bearer token, etc.: AWS answers
		// as if none of the SigV4 components were present.
		return errIncomplete(missingComponents(true, true, true, false))
	}

	var cred, signedHeaders, signature string
	var haveCred, haveSH, haveSig bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			// AWS quotes the offending text; it is left out here because a
			// misconfigured client may have put its secret there.
			return errIncomplete("Authorization header component is not a valid key=value pair (missing equal-sign).")
		}
		switch strings.TrimSpace(k) {
		case "Credential":
			if !haveCred {
				cred, haveCred = strings.TrimSpace(v), true
			}
		case "SignedHeaders":
			if !haveSH {
				signedHeaders, haveSH = strings.TrimSpace(v), true
			}
		case "Signature":
			if !haveSig {
				signature, haveSig = strings.TrimSpace(v), true
			}
		}
	}

	amzDate := r.Header.Get(hdrAmzDate)
	date := ""
	if amzDate == "" {
		date = r.Header.Get(hdrDate)
	}
	noDate := amzDate == "" && date == ""
	if !haveCred || !haveSH || !haveSig || noDate || cred == "" || signedHeaders == "" || signature == "" {
		return errIncomplete(missingComponents(cred == "", signature == "", signedHeaders == "", noDate))
	}

	if err := parseCredential(cred, &p.Scope); err != nil {
		return err
	}
	if err := parseSignedHeaders(signedHeaders, p, "Authorization header"); err != nil {
		return err
	}
	if err := parseSignature(signature, p); err != nil {
		return err
	}

	var err *Error
	if amzDate != "" {
		p.Time, err = parseAmzDate(amzDate)
		if err != nil {
			return err
		}
		if !hasHeader(p.signedHeaders, "x-amz-date") {
			return errIncomplete("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
		}
	} else {
		t, perr := http.ParseTime(date)
		if perr != nil {
			return errIncomplete("Date header '" + date + "' is not a valid HTTP date.")
		}
		p.Time = t.UTC()
		p.dateHeader = true
		if !hasHeader(p.signedHeaders, "date") {
			return errIncomplete("'Date' must be a 'SignedHeader' in the AWS Authorization.")
		}
	}
	p.SecurityToken = r.Header.Get(hdrSecurityToken)
	p.expires = -1
	return checkScopeDate(p)
}

// missingComponents words the IncompleteSignature message the way AWS does:
// one sentence per missing component.
func missingComponents(cred, sig, sh, date bool) string {
	var b strings.Builder
	add := func(s string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	if cred {
		add("Authorization header requires 'Credential' parameter.")
	}
	if sig {
		add("Authorization header requires 'Signature' parameter.")
	}
	if sh {
		add("Authorization header requires 'SignedHeaders' parameter.")
	}
	if date {
		add("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	return b.String()
}

func parsePresigned(q url.Values, p *parsed) *Error {
	for _, k := range [...]string{qAlgorithm, qCredential, qSignature, qSignedHeaders, qDate} {
		if q.Get(k) == "" {
			return errIncomplete("AWS query-string parameters must include '" + k + "'. Re-examine the query-string parameters.")
		}
	}
	if alg := q.Get(qAlgorithm); alg != algorithm {
		return errIncomplete("Unsupported AWS 'algorithm': '" + alg + "'. Only " + algorithm + " is supported.")
	}
	if err := parseCredential(q.Get(qCredential), &p.Scope); err != nil {
		return err
	}
	if err := parseSignedHeaders(q.Get(qSignedHeaders), p, "X-Amz-SignedHeaders"); err != nil {
		return err
	}
	if err := parseSignature(q.Get(qSignature), p); err != nil {
		return err
	}
	var err *Error
	if p.Time, err = parseAmzDate(q.Get(qDate)); err != nil {
		return err
	}
	p.expires = -1
	if vs, ok := q[qExpires]; ok {
		v := ""
		if len(vs) > 0 {
			v = vs[0]
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 0 {
			return errIncomplete("X-Amz-Expires must be a non-negative integer number of seconds.")
		}
		if n > maxPresignExpires {
			return errIncomplete("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds")
		}
		p.expires = n
	}
	p.SecurityToken = q.Get(qSecurityToken)
	p.presigned = true
	p.query = q
	return checkScopeDate(p)
}

func parseCredential(cred string, s *Scope) *Error {
	// AKID/YYYYMMDD/region/service/aws4_request
	// Messages do not quote the credential: clients that swap the key ID
	// and the secret send the secret here.
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return errIncomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got " + strconv.Itoa(len(parts)) + ".")
	}
	if parts[4] != scopeTerminator {
		return errIncomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '" + parts[4] + "'.")
	}
	if parts[0] == "" {
		return errIncomplete("Credential must name an access key ID.")
	}
	if parts[2] == "" {
		return errIncomplete("Credential should be scoped to a valid region, not ''.")
	}
	if parts[3] == "" {
		return errIncomplete("Credential should be scoped to a valid service, not ''.")
	}
	s.AccessKeyID, s.Date, s.Region, s.Service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func parseSignedHeaders(v string, p *parsed, where string) *Error {
	hs := strings.Split(v, ";")
	for _, h := range hs {
		if h == "" {
			return errIncomplete(where + " has an empty entry in SignedHeaders '" + v + "'.")
		}
	}
	if !hasHeader(hs, "host") {
		return errIncomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	p.signedHeaders = hs
	return nil
}

func parseSignature(sig string, p *parsed) *Error {
	if len(sig) != 64 {
		return errIncomplete("Signature must be 64 hexadecimal characters.")
	}
	lower := true
	for i := 0; i < len(sig); i++ {
		c := sig[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			lower = false
		default:
			return errIncomplete("Signature must be 64 hexadecimal characters.")
		}
	}
	if !lower {
		sig = strings.ToLower(sig)
	}
	p.signature = sig
	return nil
}

func parseAmzDate(v string) (time.Time, *Error) {
	t, err := time.Parse(amzDateLayout, v)
	if err != nil || len(v) != len(amzDateLayout) {
		return time.Time{}, errIncomplete("Date must be in ISO-8601 'basic format'. Got '" + v + "'. See http://en.wikipedia.org/wiki/ISO_8601")
	}
	return t, nil
}

// checkScopeDate rejects a credential scope whose date is not the UTC day
// of the signing time.
func checkScopeDate(p *parsed) *Error {
	day := p.Time.Format(scopeDateLayout)
	if p.Scope.Date != day {
		return errMismatch("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			p.Scope.Date + "' != '" + day + "', from '" + p.Time.Format(amzDateLayout) + "'.")
	}
	return nil
}

func hasHeader(hs []string, name string) bool {
	for _, h := range hs {
		if h == name {
			return true
		}
	}
	return false
}
