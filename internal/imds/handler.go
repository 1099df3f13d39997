package imds

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Header names of IMDSv2.
const (
	headerToken    = "X-Aws-Ec2-Metadata-Token"
	headerTokenTTL = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	tokenPath      = "/latest/api/token"
)

// versions are the API versions "/" lists, as AWS lists them; every one serves the latest
// tree (older versions on AWS only lack entries added since).
var versions = []string{
	"1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
	"2008-02-01", "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12",
	"2014-02-25", "2014-11-05", "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02",
	"2018-03-28", "2018-08-17", "2018-09-24", "2019-10-01", "2020-10-27", "2021-01-03",
	"2021-03-23", "2021-07-15", "2022-09-24", "latest",
}

type handler struct {
	resolver Resolver
	signer   Signer
	clock    func() time.Time
	tokens   *tokenSealer
}

// NewHandler serves the metadata service. The caller is found from the request's
// RemoteAddr and the interface recorded with WithInterface; signer signs the identity
// document (nil: no signature or pkcs7 entries); clock is the time tokens expire by
// (nil: time.Now). Tokens are sealed with a key drawn here, so they are good only for
// this handler's lifetime.
func NewHandler(r Resolver, signer Signer, clock func() time.Time) http.Handler {
	if clock == nil {
		clock = time.Now
	}
	return &handler{resolver: r, signer: signer, clock: clock, tokens: newTokenSealer()}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "EC2ws")
	remote, ok := remoteAddr(r.RemoteAddr)
	if !ok {
		fail(w, http.StatusForbidden)
		return
	}
	inst, err := h.resolver.InstanceFor(remote, interfaceFrom(r.Context()))
	if errors.Is(err, ErrUnknownCaller) || (err == nil && inst == nil) {
		// Not an instance: nothing here is for it.
		fail(w, http.StatusForbidden)
		return
	}
	if err != nil {
		slog.Error("imds: resolving the caller", "remote", remote, "err", err)
		fail(w, http.StatusInternalServerError)
		return
	}
	if inst.Options.HttpEndpoint == "disabled" {
		fail(w, http.StatusForbidden)
		return
	}
	if r.URL.Path == tokenPath {
		if r.Method != http.MethodPut {
			w.Header().Set("Allow", http.MethodPut)
			fail(w, http.StatusMethodNotAllowed)
			return
		}
		h.issueToken(w, r, inst)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		fail(w, http.StatusMethodNotAllowed)
		return
	}
	if token := r.Header.Get(headerToken); token != "" {
		if h.tokens.open(token, inst.InstanceID, h.clock()) != nil {
			fail(w, http.StatusUnauthorized)
			return
		}
	} else if inst.Options.HttpTokens == "required" {
		fail(w, http.StatusUnauthorized)
		return
	}
	body, found, err := h.lookup(inst, r.URL.Path)
	if err != nil {
		slog.Error("imds: serving", "path", r.URL.Path, "instance", inst.InstanceID, "err", err)
		fail(w, http.StatusInternalServerError)
		return
	}
	if !found {
		fail(w, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// issueToken answers PUT /latest/api/token.
func (h *handler) issueToken(w http.ResponseWriter, r *http.Request, inst *Instance) {
	// A request that went through a proxy is refused, as AWS refuses it: the token must
	// not be obtainable by something that forwards requests for others.
	if _, proxied := r.Header["X-Forwarded-For"]; proxied {
		fail(w, http.StatusForbidden)
		return
	}
	raw := r.Header.Get(headerTokenTTL)
	ttl, err := strconv.Atoi(raw)
	if raw == "" || err != nil || ttl < minTokenTTL || ttl > maxTokenTTL {
		fail(w, http.StatusBadRequest)
		return
	}
	token := h.tokens.seal(inst.InstanceID, h.clock().Add(time.Duration(ttl)*time.Second))
	if set, ok := r.Context().Value(hopLimitKey).(func(int)); ok {
		set(HopLimit(inst))
	}
	w.Header().Set(headerTokenTTL, strconv.Itoa(ttl))
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(token)))
	_, _ = w.Write([]byte(token))
}

// lookup finds what path shows to inst.
func (h *handler) lookup(inst *Instance, path string) ([]byte, bool, error) {
	path = strings.TrimPrefix(path, "/")
	if path == "" {
		return []byte(strings.Join(versions, "\n")), true, nil
	}
	version, rest, _ := strings.Cut(path, "/")
	if !isVersion(version) {
		return nil, false, nil
	}
	segments := strings.Split(rest, "/")
	switch segments[0] {
	case "":
		if len(segments) > 1 {
			return nil, false, nil
		}
		// The version's own listing names no directories with "/", as on AWS.
		entries := []string{"dynamic", "meta-data"}
		if inst.UserData != nil {
			entries = append(entries, "user-data")
		}
		return []byte(lines(entries...)), true, nil
	case "user-data":
		if inst.UserData == nil || strings.Trim(strings.Join(segments[1:], ""), "/") != "" {
			return nil, false, nil
		}
		return inst.UserData, true, nil
	case "meta-data":
		return render(metaData(inst).lookup(segments[1:]))
	case "dynamic":
		dyn, err := h.dynamic(inst, segments[1:])
		if err != nil {
			return nil, false, err
		}
		return render(dyn.lookup(segments[1:]))
	}
	return nil, false, nil
}

func render(n *node) ([]byte, bool, error) {
	if n == nil {
		return nil, false, nil
	}
	if n.isDir() {
		return []byte(n.list()), true, nil
	}
	return []byte(n.value), true, nil
}

// dynamic builds dynamic/; the signatures are made only when one of them is asked for.
func (h *handler) dynamic(inst *Instance, segments []string) (*node, error) {
	root := newDir()
	identity := root.dir("instance-identity")
	doc := IdentityDocument(inst)
	identity.set("document", string(doc))
	if h.signer == nil {
		return root, nil
	}
	identity.set("signature", "-")
	identity.set("pkcs7", "-")
	if len(segments) < 2 || segments[0] != "instance-identity" {
		return root, nil
	}
	switch segments[1] {
	case "signature":
		sig, err := h.signer.Sign(doc)
		if err != nil {
			return nil, err
		}
		identity.set("signature", wrapBase64(sig))
	case "pkcs7":
		p7, err := h.signer.PKCS7(doc)
		if err != nil {
			return nil, err
		}
		identity.set("pkcs7", wrapBase64(p7))
	}
	return root, nil
}

// wrapBase64 is base64 in lines of 64 characters, the way AWS prints its signatures.
func wrapBase64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 64 {
		out.WriteString(s[:64])
		out.WriteByte('\n')
		s = s[64:]
	}
	out.WriteString(s)
	return out.String()
}

func isVersion(v string) bool { return slices.Contains(versions, v) }

func remoteAddr(s string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func fail(w http.ResponseWriter, status int) {
	http.Error(w, http.StatusText(status), status)
}
