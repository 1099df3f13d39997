package filter

// Error is the error type returned by this package. The API layer recognises
// it (and the identically shaped errors of the paging and throttle packages)
// through an interface with Code() and Error() and renders it in the EC2
// error envelope.
type Error struct {
	code string
	msg  string
}

// Code returns the EC2 error code, e.g. "InvalidParameterValue".
func (e *Error) Code() string { return e.code }

// Error returns the human-readable message placed in the envelope.
func (e *Error) Error() string { return e.msg }

// Error codes produced by this package.
const (
	CodeInvalidParameterValue = "InvalidParameterValue"
	CodeFilterLimitExceeded   = "FilterLimitExceeded"
)

func newError(code, msg string) *Error { return &Error{code: code, msg: msg} }
