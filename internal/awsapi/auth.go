package awsapi

import (
	"net/http"
	"time"

	"strato/internal/awsapi/sigv4"
)

// KeyLookup finds an access key's secret and account.
type KeyLookup func(accessKeyID string) (secret, accountID string, ok bool)

// SigV4Auth verifies every signature against the stored secrets.
type SigV4Auth struct {
	Lookup KeyLookup
}

// Authenticate implements Authenticator.
func (a SigV4Auth) Authenticate(r *http.Request, body []byte, now time.Time) (Principal, error) {
	var account string
	signed, err := sigv4.Verify(r, body, now, func(akid string) (string, bool) {
		secret, acct, ok := a.Lookup(akid)
		account = acct
		return secret, ok
	})
	if err != nil {
		return Principal{}, err
	}
	return Principal{AccountID: account, AccessKeyID: signed.Scope.AccessKeyID, Scope: signed.Scope}, nil
}

// DevAuth is development mode: any well-formed signature is accepted and every request
// acts for one account.
type DevAuth struct {
	AccountID string
}

// Authenticate implements Authenticator.
func (a DevAuth) Authenticate(r *http.Request, _ []byte, _ time.Time) (Principal, error) {
	signed, err := sigv4.Parse(r)
	if err != nil {
		return Principal{}, err
	}
	return Principal{AccountID: a.AccountID, AccessKeyID: signed.Scope.AccessKeyID, Scope: signed.Scope}, nil
}
