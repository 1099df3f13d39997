// Package awsapi is strato's protocol layer: it reads AWS Query requests (POST forms or
// GET query strings), verifies SigV4, routes by the signature's service name and
// region, throttles per account, and writes responses and error envelopes. It knows
// nothing of instances or key pairs: services plug in behind the Service interface.
package awsapi

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"strato/internal/awsapi/sigv4"
	"strato/internal/awsapi/throttle"
)

// MaxBodyBytes bounds a request body. EC2's largest parameters (user data 16 KiB, key
// material, import manifests) stay far below it.
const MaxBodyBytes = 8 << 20

// Call is one authenticated request on its way to a service.
type Call struct {
	RequestID   string
	AccountID   string
	AccessKeyID string
	Region      string
	Service     string
	Action      string
	// Params holds the request's parameters without Action, Version and the
	// authentication parameters of presigned requests.
	Params url.Values
	// Body is the request body of a BodyService's call (Params is then empty).
	Body []byte
	// Time is when the request arrived.
	Time time.Time
}

// Service answers the calls routed to one SigV4 service name.
type Service interface {
	// Serve answers the call, returning the response body (the service writes its own
	// envelope) or an error for WriteError.
	Serve(ctx context.Context, c *Call) ([]byte, error)
	// WriteError renders an error in the service's envelope.
	WriteError(w http.ResponseWriter, requestID string, e *Error)
	// UnfilteredUnpaginated tells the throttle whether a call lists everything.
	UnfilteredUnpaginated(c *Call) bool
}

// BodyService is a Service whose requests are not AWS Query forms: the JSON
// protocols (KMS) name the action in a header and carry a JSON body, which the
// service reads from Call.Body and answers in its own content type.
type BodyService interface {
	Service
	// Action names the call's action from the request (X-Amz-Target).
	Action(r *http.Request) (string, error)
	// ContentType is the type of the service's answers.
	ContentType() string
}

// Principal is who a request acts for.
type Principal struct {
	AccountID   string
	AccessKeyID string
	Scope       sigv4.Scope
}

// Authenticator decides who signed a request.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte, now time.Time) (Principal, error)
}

// Throttle limits calls per account.
type Throttle interface {
	Allow(accountID, region, action string, unfilteredUnpaginated bool) bool
}

// Clock gives the time; tests replace it.
type Clock interface{ Now() time.Time }

// Server is the HTTP front door.
type Server struct {
	Auth     Authenticator
	Services map[string]Service // by SigV4 service name
	// KnownRegion reports whether a region exists (every service but global ones).
	KnownRegion func(name string) bool
	Throttle    Throttle // nil: no throttling
	Clock       Clock
	Log         *slog.Logger
	// DefaultService answers errors that happen before the service is known.
	DefaultService string
}

// ServeHTTP handles one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.Clock.Now()
	c := &Call{RequestID: newRequestID(), Time: start}
	svc := s.Services[s.DefaultService]
	body, err := s.read(r)
	if err == nil {
		var p Principal
		p, err = s.Auth.Authenticate(r, body, start)
		if err != nil {
			// Refused, but answer in the envelope of the service the client signed
			// for, which is the one its SDK parses.
			if signed, perr := sigv4.Parse(r); perr == nil {
				p.Scope = signed.Scope
			}
		}
		if named, ok := s.Services[p.Scope.Service]; ok {
			svc = named
		}
		if err == nil {
			err = s.route(r, body, p, c)
		}
	}
	var out []byte
	if err == nil {
		out, err = s.dispatch(r.Context(), svc, c)
	}
	if err != nil {
		e, known := AsError(err)
		if !known {
			s.Log.Error("request failed", "request_id", c.RequestID, "action", c.Action, "account", c.AccountID, "error", err)
		}
		svc.WriteError(w, c.RequestID, e)
		s.logRequest(r.Context(), c, e.Code, start)
		return
	}
	if bs, ok := svc.(BodyService); ok {
		WriteBody(w, bs.ContentType(), c.RequestID, http.StatusOK, out)
	} else {
		WriteXML(w, c.RequestID, http.StatusOK, out)
	}
	s.logRequest(r.Context(), c, "", start)
}

// logRequest logs one request at debug level (checked first: this runs per request).
func (s *Server) logRequest(ctx context.Context, c *Call, code string, start time.Time) {
	if !s.Log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	s.Log.Debug("request", "request_id", c.RequestID, "account", c.AccountID, "action", c.Action, "code", code, "took", s.Clock.Now().Sub(start))
}

func (s *Server) read(r *http.Request) ([]byte, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, &Error{Code: "InvalidHttpRequest", Message: "The EC2 Query API accepts GET and POST requests only.", Status: http.StatusMethodNotAllowed}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, Errorf("InvalidHttpRequest", "reading the request body: %v", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, &Error{Code: "RequestEntityTooLarge", Message: fmt.Sprintf("The request body is larger than %d bytes.", MaxBodyBytes), Status: http.StatusRequestEntityTooLarge}
	}
	return body, nil
}

// route fills the call from the principal and the parameters.
func (s *Server) route(r *http.Request, body []byte, p Principal, c *Call) error {
	c.AccountID, c.AccessKeyID, c.Service, c.Region = p.AccountID, p.AccessKeyID, p.Scope.Service, p.Scope.Region
	if _, ok := s.Services[c.Service]; !ok {
		return Errorf("InvalidAction", "strato does not serve the AWS service %q on this endpoint.", c.Service)
	}
	// Global services (STS, IAM) answer in any region, but it must be one.
	if !s.KnownRegion(c.Region) {
		return &Error{Code: "AuthFailure", Message: fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", c.Region), Status: http.StatusUnauthorized}
	}
	if bs, ok := s.Services[c.Service].(BodyService); ok {
		var err error
		c.Params, c.Body = url.Values{}, body
		c.Action, err = bs.Action(r)
		return err
	}
	params, err := parseParams(r, body)
	if err != nil {
		return err
	}
	c.Action = params.Get("Action")
	if c.Action == "" {
		return Errorf("MissingAction", "The request must contain the parameter Action.")
	}
	delete(params, "Action")
	delete(params, "Version")
	for k := range params {
		if strings.HasPrefix(k, "X-Amz-") {
			delete(params, k)
		}
	}
	c.Params = params
	return nil
}

func (s *Server) dispatch(ctx context.Context, svc Service, c *Call) ([]byte, error) {
	if s.Throttle != nil && !s.Throttle.Allow(c.AccountID, c.Region, c.Action, svc.UnfilteredUnpaginated(c)) {
		return nil, throttle.ErrRequestLimitExceeded
	}
	return svc.Serve(ctx, c)
}

// WriteXML sends a complete XML answer with its length, as AWS does (clients reuse
// the connection only once they have read a body to its end).
func WriteXML(w http.ResponseWriter, requestID string, status int, body []byte) {
	WriteBody(w, "text/xml;charset=UTF-8", requestID, status, body)
}

// WriteBody sends a complete answer of any content type, as WriteXML does.
func WriteBody(w http.ResponseWriter, contentType, requestID string, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("x-amzn-RequestId", requestID)
	w.WriteHeader(status)
	w.Write(body)
}

// parseParams merges the query string with a form body.
func parseParams(r *http.Request, body []byte) (url.Values, error) {
	var params url.Values
	if r.URL.RawQuery != "" {
		var err error
		if params, err = url.ParseQuery(r.URL.RawQuery); err != nil {
			return nil, Errorf("MalformedQueryString", "The query string is not valid: %v", err)
		}
	}
	if len(body) == 0 {
		if params == nil {
			params = url.Values{}
		}
		return params, nil
	}
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		return nil, Errorf("InvalidHttpRequest", "The request body must be application/x-www-form-urlencoded, not %q.", ct)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, Errorf("MalformedQueryString", "The request body is not a valid form: %v", err)
	}
	if params == nil {
		return form, nil
	}
	for k, v := range form {
		params[k] = append(params[k], v...)
	}
	return params, nil
}

// newRequestID makes a random UUID (version 4), the form AWS request IDs take. Request
// IDs need to be unique, not secret: the runtime's ChaCha8 generator is enough and
// costs no system call.
func newRequestID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
