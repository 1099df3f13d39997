// Package awserr is the one error type that carries an AWS error code from any layer
// (codec, filters, pagination, control plane) to the protocol layer, which renders it
// in the service's error envelope with the HTTP status the code calls for.
package awserr

import "fmt"

// Error is a failure with an AWS error code and a message for the client.
type Error struct {
	code string
	msg  string
}

// New returns an Error with a fixed message.
func New(code, msg string) *Error { return &Error{code: code, msg: msg} }

// Errorf returns an Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{code: code, msg: fmt.Sprintf(format, args...)}
}

// Code is the AWS error code, e.g. "InvalidParameterValue".
func (e *Error) Code() string { return e.code }

// Error is the message placed in the error envelope.
func (e *Error) Error() string { return e.msg }
