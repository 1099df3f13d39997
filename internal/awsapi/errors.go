package awsapi

import (
	"errors"
	"fmt"
	"net/http"

	"strato/internal/awsapi/sigv4"
)

// Error is an answer with an AWS error code. Service code returns it (or any error with
// a Code() method); everything else becomes InternalError.
type Error struct {
	Code    string
	Message string
	// Status is the HTTP status; zero means the status StatusFor gives the code.
	Status int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// coded is what awserr.Error, and any other error that names its AWS code, offers.
type coded interface {
	error
	Code() string
}

// statusByCode holds the codes that are not HTTP 400.
var statusByCode = map[string]int{
	"AuthFailure":                http.StatusUnauthorized,
	"MissingAuthenticationToken": http.StatusUnauthorized,
	"SignatureDoesNotMatch":      http.StatusForbidden,
	"UnauthorizedOperation":      http.StatusForbidden,
	"OptInRequired":              http.StatusForbidden,
	"DryRunOperation":            http.StatusPreconditionFailed,
	"RequestLimitExceeded":       http.StatusServiceUnavailable,
	"ServiceUnavailable":         http.StatusServiceUnavailable,
	"Unavailable":                http.StatusServiceUnavailable,
	"InternalError":              http.StatusInternalServerError,
}

// StatusFor is the HTTP status EC2 answers a code with.
func StatusFor(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// AsError turns any error into the Error the client sees. The second result is false
// for errors that carry no code: those are strato's own faults and are logged.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		if e.Status == 0 {
			c := *e
			c.Status = StatusFor(e.Code)
			return &c, true
		}
		return e, true
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		return &Error{Code: se.Code, Message: se.Message, Status: se.HTTPStatus}, true
	}
	var c coded
	if errors.As(err, &c) {
		return &Error{Code: c.Code(), Message: c.Error(), Status: StatusFor(c.Code())}, true
	}
	return &Error{Code: "InternalError", Message: "An internal error has occurred.", Status: http.StatusInternalServerError}, false
}
