// Package paging implements EC2's MaxResults / NextToken pagination over a
// slice sorted by a unique string key.
//
// Tokens are opaque to clients: base64url of (version, last key returned)
// followed by an HMAC-SHA256 tag computed over the version, the request
// scope and the key. A token therefore cannot be forged, edited, or replayed
// against a different query (another operation, account, region or filter
// set), and because it records the last key rather than an offset, resources
// created or deleted between two calls neither repeat nor skip the surviving
// items.
package paging

import (
	"strato/internal/awserr"

	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"sort"
	"sync"
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
	pool sync.Pool // of hash.Hash (HMAC-SHA256 with the secret)
}

// NewCodec returns a Codec using secret as the HMAC key. Every process of a
// deployment that may serve the next page must share the secret. An empty
// secret is replaced by a random one (tokens then do not survive restarts).
func NewCodec(secret []byte) *Codec {
	key := append([]byte(nil), secret...)
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic("paging: no randomness for codec key: " + err.Error())
		}
	}
	c := &Codec{}
	c.pool.New = func() any { return hmac.New(sha256.New, key) }
	return c
}

const (
	tokenVersion = 1
	macLen       = 16 // truncated HMAC-SHA256: 128-bit tag
)

var b64 = base64.RawURLEncoding

func (c *Codec) mac(scope, key string) []byte {
	h := c.pool.Get().(hash.Hash)
	defer c.pool.Put(h)
	h.Reset()
	var n [binary.MaxVarintLen64]byte
	h.Write([]byte{tokenVersion})
	// Length-prefix the scope so (scope, key) boundaries are unambiguous.
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(scope)))])
	h.Write([]byte(scope))
	h.Write([]byte(key))
	return h.Sum(nil)[:macLen]
}

// Encode returns the token meaning "continue after key" for scope.
func (c *Codec) Encode(scope, key string) string {
	raw := make([]byte, 0, 1+len(key)+macLen)
	raw = append(raw, tokenVersion)
	raw = append(raw, key...)
	raw = append(raw, c.mac(scope, key)...)
	return b64.EncodeToString(raw)
}

// Decode verifies token against scope and returns the key it continues
// after. Any failure yields ErrInvalidToken.
func (c *Codec) Decode(scope, token string) (string, error) {
	raw, err := b64.DecodeString(token)
	if err != nil || len(raw) < 1+macLen || raw[0] != tokenVersion {
		return "", ErrInvalidToken
	}
	key := string(raw[1 : len(raw)-macLen])
	if !hmac.Equal(raw[len(raw)-macLen:], c.mac(scope, key)) {
		return "", ErrInvalidToken
	}
	return key, nil
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
