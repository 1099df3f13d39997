package ec2

import (
	"errors"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/cloud"
)

type ec2Filter = ec2api.Filter

// notFoundCodes gives, per resource type, the code and message AWS answers when a
// named resource does not exist. Each resource issue adds its kinds.
var notFoundCodes = map[string]struct{ code, byID, byName string }{
	cloud.KindKeyPair: {"InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", "The key pair '%s' does not exist"},
}

// duplicateCodes gives the code and message for a unique name that is taken.
var duplicateCodes = map[string]struct{ code, msg string }{
	cloud.KindKeyPair: {"InvalidKeyPair.Duplicate", "The keypair '%s' already exists."},
}

// toAPIError maps control-plane errors to AWS codes. Errors that already carry a code
// pass through; anything else is an internal error.
func toAPIError(err error) error {
	var nf *cloud.NotFoundError
	if errors.As(err, &nf) {
		if c, ok := notFoundCodes[nf.Kind]; ok {
			msg := c.byID
			if nf.ByName {
				msg = c.byName
			}
			return awsapi.Errorf(c.code, msg, nf.ID)
		}
		return awsapi.Errorf("InvalidID", "The ID '%s' does not exist", nf.ID)
	}
	var dup *cloud.DuplicateError
	if errors.As(err, &dup) {
		if c, ok := duplicateCodes[dup.Kind]; ok {
			return awsapi.Errorf(c.code, c.msg, dup.Name)
		}
		return awsapi.Errorf("InvalidParameterValue", "%s", dup.Error())
	}
	return err
}

func invalidValue(format string, args ...any) error {
	return awsapi.Errorf("InvalidParameterValue", format, args...)
}

func missing(param string) error {
	return awsapi.Errorf("MissingParameter", "The request must contain the parameter %s", param)
}
