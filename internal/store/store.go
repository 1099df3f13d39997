// Package store is strato's persistence boundary. The control plane sees only these
// interfaces; sqlite implements them now, PostgreSQL later. Resources are stored as
// documents (a JSON body per resource) keyed by account, region, kind and ID, so a new
// resource kind needs no schema change; tags live beside them so DescribeTags can read
// across kinds.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors every implementation returns (wrapped with context).
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict: a row with the same key or the same unique name exists.
	ErrConflict = errors.New("already exists")
)

// Store opens transactions. Every state change a request makes is committed by Update
// before the response is sent.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction, committed when fn returns nil and
	// rolled back otherwise.
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Account is a tenant.
type Account struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// AccessKey is a credential pair that acts for an account.
type AccessKey struct {
	ID        string
	Secret    string
	AccountID string
	CreatedAt time.Time
}

// Scope is where a resource lives: an account in a region.
type Scope struct {
	Account string
	Region  string
}

// Resource is one stored resource document.
type Resource struct {
	Scope
	Kind string
	ID   string
	// Name is unique per scope and kind when set (a key pair's name, say).
	Name string
	// Parent is the ID of the resource this one belongs to (a subnet's VPC), or
	// empty; children are listed by it without reading the whole kind.
	Parent    string
	CreatedAt time.Time
	Body      []byte
}

// Tag is one key/value on a resource.
type Tag struct {
	ResourceID   string
	ResourceKind string
	Key          string
	Value        string
}

// IdempotencyRecord remembers the answer to a request made with a client token.
type IdempotencyRecord struct {
	Scope
	Action     string
	Token      string
	ParamsHash string
	Response   []byte
	CreatedAt  time.Time
}

// Tx is one transaction.
type Tx interface {
	CreateAccount(a Account) error
	GetAccount(id string) (Account, error)
	ListAccounts() ([]Account, error)
	CreateAccessKey(k AccessKey) error
	GetAccessKey(id string) (AccessKey, error)

	// InsertResource fails with ErrConflict when the ID or the unique name is taken.
	InsertResource(r Resource) error
	// UpdateResource replaces the body of an existing resource.
	UpdateResource(r Resource) error
	GetResource(s Scope, kind, id string) (Resource, error)
	GetResourceByName(s Scope, kind, name string) (Resource, error)
	// ListResources returns a kind's resources ordered by ID.
	ListResources(s Scope, kind string) ([]Resource, error)
	// ListChildren returns a kind's resources whose Parent is parent, ordered by ID.
	ListChildren(s Scope, kind, parent string) ([]Resource, error)
	// TaggedIDs returns, ordered, the IDs of a kind's resources that carry the tag key
	// with one of the values.
	TaggedIDs(s Scope, kind, key string, values []string) ([]string, error)
	// DeleteResource removes a resource and its tags.
	DeleteResource(s Scope, kind, id string) error

	// ListTags returns tags in scope, ordered by resource ID then key; with resourceIDs
	// set only those resources' tags.
	ListTags(s Scope, resourceIDs ...string) ([]Tag, error)
	// ListTagsByKind returns the tags of every resource of one kind, ordered the same way.
	ListTagsByKind(s Scope, kind string) ([]Tag, error)
	PutTag(s Scope, t Tag) error
	DeleteTag(s Scope, resourceID, key string) error

	GetIdempotency(s Scope, action, token string) (IdempotencyRecord, error)
	PutIdempotency(r IdempotencyRecord) error

	// CountResources counts a kind's resources in scope.
	CountResources(s Scope, kind string) (int, error)

	// Quota overrides per account: GetQuota fails with ErrNotFound when the account
	// uses the default; DeleteQuota returns it to the default.
	GetQuota(account, name string) (int64, error)
	PutQuota(account, name string, value int64) error
	DeleteQuota(account, name string) error
	ListQuotas(account string) (map[string]int64, error)

	// GetSetting / PutSetting keep small installation-wide values (e.g. secrets).
	GetSetting(key string) ([]byte, error)
	PutSetting(key string, value []byte) error
}
