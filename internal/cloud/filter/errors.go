package filter

import "strato/internal/awserr"

// Error is the error type returned by this package.
type Error = awserr.Error

// Error codes produced by this package.
const (
	CodeInvalidParameterValue = "InvalidParameterValue"
	CodeFilterLimitExceeded   = "FilterLimitExceeded"
)

func newError(code, msg string) *Error { return awserr.New(code, msg) }
