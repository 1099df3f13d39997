package cloud

import "fmt"

// NotFoundError: a resource the request names does not exist in the caller's scope.
type NotFoundError struct {
	Kind string // resource type, as in tags ("key-pair")
	ID   string // the ID or name the caller gave
	// ByName is set when ID is a name rather than an ID.
	ByName bool
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %q does not exist", e.Kind, e.ID)
}

// DuplicateError: a resource with that unique name exists.
type DuplicateError struct {
	Kind, Name string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%s %q already exists", e.Kind, e.Name)
}

// Error is a rule of the control plane broken by the request, with the AWS code that
// says so (the rule is EC2's, so the code is part of it).
type Error struct {
	code, msg string
}

func (e *Error) Error() string { return e.msg }

// Code is the AWS error code.
func (e *Error) Code() string { return e.code }

func errorf(code, format string, args ...any) *Error {
	return &Error{code: code, msg: fmt.Sprintf(format, args...)}
}
