package cloud

import (
	"fmt"

	"strato/internal/awserr"
)

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

// errorf reports a rule of the control plane broken by the request, with the AWS
// code that says so (the rule is EC2's, so the code is part of it).
var errorf = awserr.Errorf
