// Package ec2api holds the EC2 API's request and response types and its operation table,
// generated from the official service model. Wire names travel in struct tags that the
// query codec reads; see internal/awsapi/model for the rules.
package ec2api

//go:generate go run ./gen -out .

// Operation is one EC2 action.
type Operation struct {
	Name string
	// NewInput returns a pointer to a zero request structure.
	NewInput func() any
	// NewOutput returns a pointer to a zero response structure, or is nil when the
	// operation answers with <return>true</return> only.
	NewOutput func() any
}
