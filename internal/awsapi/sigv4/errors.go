package sigv4

import "net/http"

// Error is an authentication failure, carrying the code, message and HTTP
// status that the EC2 endpoint answers with. The HTTP layer renders it in
// the EC2 <Response><Errors><Error> envelope.
type Error struct {
	Code       string
	Message    string
	HTTPStatus int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes returned by this package.
const (
	codeMissingAuth       = "MissingAuthenticationToken"
	codeIncomplete        = "IncompleteSignature"
	codeAuthFailure       = "AuthFailure"
	codeSignatureMismatch = "SignatureDoesNotMatch"
	codeRequestExpired    = "RequestExpired"
)

// Fixed messages, as EC2 words them.
const (
	msgMissingAuth       = "Request is missing Authentication Token"
	msgAuthFailure       = "AWS was not able to validate the provided access credentials"
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgRequestExpired    = "Request has expired."
)

func errMissingAuth() *Error {
	return &Error{Code: codeMissingAuth, Message: msgMissingAuth, HTTPStatus: http.StatusUnauthorized}
}

func errIncomplete(msg string) *Error {
	return &Error{Code: codeIncomplete, Message: msg, HTTPStatus: http.StatusBadRequest}
}

func errAuthFailure() *Error {
	return &Error{Code: codeAuthFailure, Message: msgAuthFailure, HTTPStatus: http.StatusUnauthorized}
}

func errMismatch(msg string) *Error {
	if msg == "" {
		msg = msgSignatureMismatch
	}
	return &Error{Code: codeSignatureMismatch, Message: msg, HTTPStatus: http.StatusForbidden}
}

func errExpired() *Error {
	return &Error{Code: codeRequestExpired, Message: msgRequestExpired, HTTPStatus: http.StatusBadRequest}
}
