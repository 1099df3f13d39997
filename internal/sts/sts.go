// Package sts serves the part of AWS STS that strato offers: GetCallerIdentity, so
// that `aws sts get-caller-identity` and SDK credential checks work, and so that the
// endpoint's routing by SigV4 service name is real.
package sts

import (
	"bytes"
	"context"
	"net/http"
	"text/template"

	"strato/internal/awsapi"
)

// Namespace is STS's XML namespace.
const Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// Service answers STS calls.
type Service struct{}

var identity = template.Must(template.New("id").Parse(`<GetCallerIdentityResponse xmlns="` + Namespace + `">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::{{.Account}}:root</Arn>
    <UserId>{{.Account}}</UserId>
    <Account>{{.Account}}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>{{.RequestID}}</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
`))

// Serve implements awsapi.Service.
func (Service) Serve(_ context.Context, c *awsapi.Call) ([]byte, error) {
	if c.Action != "GetCallerIdentity" {
		return nil, awsapi.Errorf("InvalidAction", "The STS action %s is not supported by strato yet; GetCallerIdentity is.", c.Action)
	}
	for k := range c.Params {
		return nil, awsapi.Errorf("InvalidParameterValue", "GetCallerIdentity takes no parameters; got %s.", k)
	}
	var buf bytes.Buffer
	// Account IDs are digits and request IDs hex: nothing needs escaping.
	err := identity.Execute(&buf, struct{ Account, RequestID string }{c.AccountID, c.RequestID})
	return buf.Bytes(), err
}

// WriteError writes STS's (AWS Query) error envelope.
func (Service) WriteError(w http.ResponseWriter, requestID string, e *awsapi.Error) {
	kind := "Sender"
	if e.Status >= 500 {
		kind = "Receiver"
	}
	var buf bytes.Buffer
	buf.WriteString(`<ErrorResponse xmlns="` + Namespace + `"><Error><Type>` + kind + `</Type><Code>`)
	template.HTMLEscape(&buf, []byte(e.Code))
	buf.WriteString(`</Code><Message>`)
	template.HTMLEscape(&buf, []byte(e.Message))
	buf.WriteString(`</Message></Error><RequestId>` + requestID + `</RequestId></ErrorResponse>`)
	awsapi.WriteXML(w, requestID, e.Status, buf.Bytes())
}

// UnfilteredUnpaginated implements awsapi.Service.
func (Service) UnfilteredUnpaginated(*awsapi.Call) bool { return false }
