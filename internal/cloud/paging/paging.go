// Package paging implements EC2's MaxResults / NextToken pagination over a
// slice sorted by a unique string key.
//
// Tokens are opaque to clients: the last key returned, sealed with AES-256-GCM
// under the installation's secret, with the version and the request scope as
// associated data. A token therefore reveals nothing, and cannot be forged,
// edited, or replayed against a different query (another operation, account,
// region or filter set); and because it records the last key rather than an
// offset, resources created or deleted between two calls neither repeat nor skip
// the surviving items.
package paging

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sort"

	"strato/internal/awserr"
)

// Error is the error type returned by this package.
type Error = awserr.Error

// Error codes produced by this package.
const (
	CodeInvalidParameterValue       = "InvalidParameterValue"
	CodeInvalidParameterCombination = "InvalidParameterCombination"
	CodeInvalidPaginationToken      = "InvalidPaginationToken"
)

// invalidTokenMessage is the description EC2's error-code reference gives
// for InvalidPaginationToken.
const invalidTokenMessage = "The specified pagination token is not valid or is expired."

// ErrInvalidToken is returned for a malformed, forged, or out-of-scope token.
var ErrInvalidToken = awserr.New(CodeInvalidPaginationToken, invalidTokenMessage)

// MaxResultsError is the InvalidParameterValue AWS gives for an out-of-range
// MaxResults. Below the minimum AWS words it "Value ( 2 ) for parameter
// maxResults is invalid. Expecting a value greater than 5." (sic: 5 itself is
// accepted); the same form is used for the upper bound.
func MaxResultsError(value, min, max int32) *Error {
	if value < min {
		return awserr.Errorf(CodeInvalidParameterValue,
			"Value ( %d ) for parameter maxResults is invalid. Expecting a value greater than %d.", value, min)
	}
	return awserr.Errorf(CodeInvalidParameterValue,
		"Value ( %d ) for parameter maxResults is invalid. Expecting a value less than %d.", value, max)
}

// CheckIDsWithMaxResults enforces EC2's rule that a Describe call may not
// combine an explicit ID list with MaxResults ("If you call a describe API
// action with both a list of IDs and MaxResults, the request fails with the
// error InvalidParameterCombination"). idParam is the ID list's wire name as
// AWS spells it in the message, e.g. "instancesSet" for DescribeInstances or
// "volumeSet" for DescribeVolumes.
func CheckIDsWithMaxResults(idParam string, numIDs int, maxResults *int32) error {
	if numIDs > 0 && maxResults != nil {
		return awserr.Errorf(CodeInvalidParameterCombination,
			"The parameter %s cannot be used with the parameter maxResults", idParam)
	}
	return nil
}

// Request describes one paginated call.
type Request struct {
	MaxResults *int32  // as sent by the client; nil when absent
	NextToken  *string // as sent by the client; nil or "" when absent
	// Min and Max bound MaxResults for this operation (e.g. 5..1000 for
	// DescribeInstances); 0 leaves that side unbounded.
	Min, Max int32
	// Default is the page size when MaxResults is absent; 0 means "return
	// everything" (EC2's behaviour for unpaginated calls).
	Default int32
	// Scope identifies the query: operation, account, region and a digest
	// of the filters / IDs / other parameters that shape the result set.
	// A token is only accepted by a request with the same Scope. Use the
	// Scope function to build one.
	Scope string
}

// Codec signs and verifies tokens. It is safe for concurrent use.
type Codec struct {
	aead cipher.AEAD // AES-256-GCM; safe for concurrent use
}

// NewCodec returns a Codec keyed by secret (any length; it is hashed to an AES-256
// key). Every process of a deployment that may serve the next page must share the
// secret. An empty secret is replaced by a random one (tokens then do not survive
// restarts).
func NewCodec(secret []byte) *Codec {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			panic("paging: no randomness for codec key: " + err.Error())
		}
	}
	key := sha256.Sum256(secret)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic("paging: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("paging: " + err.Error())
	}
	return &Codec{aead: aead}
}

const tokenVersion = 2

var b64 = base64.RawURLEncoding

// associated binds a token to its version and scope.
func associated(scope string) []byte {
	return append([]byte{tokenVersion}, scope...)
}

// Encode returns the token meaning "continue after key" for scope.
func (c *Codec) Encode(scope, key string) string {
	ns := c.aead.NonceSize()
	raw := make([]byte, 1+ns, 1+ns+len(key)+c.aead.Overhead())
	raw[0] = tokenVersion
	if _, err := rand.Read(raw[1 : 1+ns]); err != nil {
		panic("paging: no randomness for a token nonce: " + err.Error())
	}
	raw = c.aead.Seal(raw, raw[1:1+ns], []byte(key), associated(scope))
	return b64.EncodeToString(raw)
}

// Decode opens token for scope and returns the key it continues after. Any
// failure yields ErrInvalidToken.
func (c *Codec) Decode(scope, token string) (string, error) {
	raw, err := b64.DecodeString(token)
	ns := c.aead.NonceSize()
	if err != nil || len(raw) < 1+ns+c.aead.Overhead() || raw[0] != tokenVersion {
		return "", ErrInvalidToken
	}
	key, err := c.aead.Open(nil, raw[1:1+ns], raw[1+ns:], associated(scope))
	if err != nil {
		return "", ErrInvalidToken
	}
	return string(key), nil
}

// Scope builds a Request.Scope from its parts (operation, account, region,
// canonicalised filters, ...). Parts are length-delimited before hashing, so
// ("ab","c") and ("a","bc") differ. Callers should canonicalise
// order-insensitive inputs (e.g. sort filter values) before passing them.
func Scope(parts ...string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, p := range parts {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		h.Write([]byte(p))
	}
	return b64.EncodeToString(h.Sum(nil))
}

// Limit validates req.MaxResults and returns the page size to use; 0 means
// unlimited.
func (req Request) Limit() (int, error) {
	if req.MaxResults == nil {
		return int(req.Default), nil
	}
	v := *req.MaxResults
	if (req.Min > 0 && v < req.Min) || (req.Max > 0 && v > req.Max) || v <= 0 {
		min := req.Min
		if min <= 0 {
			min = 1
		}
		return 0, MaxResultsError(v, min, req.Max)
	}
	return int(v), nil
}

// Page returns the window of items that req asks for and the token for the
// following page ("" when there is none). items must be sorted ascending by
// key, and keys must be unique. The token records the last key returned, so
// the next call resumes at the first item whose key sorts after it, whatever
// was inserted or deleted meanwhile.
func Page[T any](c *Codec, req Request, items []T, key func(T) string) (page []T, next string, err error) {
	limit, err := req.Limit()
	if err != nil {
		return nil, "", err
	}
	start := 0
	if req.NextToken != nil && *req.NextToken != "" {
		after, err := c.Decode(req.Scope, *req.NextToken)
		if err != nil {
			return nil, "", err
		}
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > after })
	}
	end := len(items)
	if limit > 0 && start+limit < end {
		end = start + limit
	}
	page = items[start:end]
	if end < len(items) && end > start {
		next = c.Encode(req.Scope, key(items[end-1]))
	}
	return page, next, nil
}
