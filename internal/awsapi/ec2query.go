package awsapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"strato/internal/awsapi/ec2api"
	"strato/internal/awsapi/query"
)

// EC2 serves the EC2 Query protocol: every operation of the model is recognised; those
// with a registered handler are decoded, answered and encoded, the others answer
// UnsupportedOperation naming the operation.
type EC2 struct {
	handlers map[string]ec2Handler
	// Prepare, when set, runs before every implemented operation (the EC2
	// service makes an account's default VPC on its first request in a Region).
	Prepare func(ctx context.Context, c *EC2Call) error
}

type ec2Handler func(ctx context.Context, c *EC2Call, in any) (any, error)

// EC2Call is a call with the EC2-specific facts the dispatcher derived.
type EC2Call struct {
	*Call
	// DryRun is set when the request asked for DryRun=true. A handler that would
	// succeed must not change state; the dispatcher then answers DryRunOperation.
	DryRun bool
}

// NewEC2 returns a dispatcher with no handlers.
func NewEC2() *EC2 {
	return &EC2{handlers: map[string]ec2Handler{}}
}

// HandleEC2 registers the handler of one operation. It panics at start-up when the
// action or its types do not match the model, so a mismatch can never reach a client.
func HandleEC2[In, Out any](d *EC2, action string, fn func(ctx context.Context, c *EC2Call, in *In) (*Out, error)) {
	op, ok := ec2api.Operations[action]
	if !ok {
		panic("awsapi: " + action + " is not an EC2 operation")
	}
	if _, ok := op.NewInput().(*In); !ok {
		panic(fmt.Sprintf("awsapi: %s takes %T, not %T", action, op.NewInput(), new(In)))
	}
	if op.NewOutput != nil {
		if _, ok := op.NewOutput().(*Out); !ok {
			panic(fmt.Sprintf("awsapi: %s answers %T, not %T", action, op.NewOutput(), new(Out)))
		}
	}
	d.handlers[action] = func(ctx context.Context, c *EC2Call, in any) (any, error) {
		out, err := fn(ctx, c, in.(*In))
		if err != nil || out == nil {
			return nil, err
		}
		return out, nil
	}
}

// Implemented lists the actions with handlers.
func (d *EC2) Implemented() []string {
	out := make([]string, 0, len(d.handlers))
	for a := range d.handlers {
		out = append(out, a)
	}
	return out
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Serve implements Service.
func (d *EC2) Serve(ctx context.Context, c *Call) ([]byte, error) {
	op, ok := ec2api.Operations[c.Action]
	if !ok {
		return nil, Errorf("InvalidAction", "The action %s is not valid for this web service.", c.Action)
	}
	h, ok := d.handlers[c.Action]
	if !ok {
		return nil, Errorf("UnsupportedOperation", "The operation %s is not supported by strato yet.", c.Action)
	}
	in := op.NewInput()
	if err := query.Decode(c.Params, in); err != nil {
		return nil, err
	}
	call := &EC2Call{Call: c, DryRun: dryRunRequested(in)}
	if d.Prepare != nil {
		if err := d.Prepare(ctx, call); err != nil {
			return nil, err
		}
	}
	out, err := h(ctx, call, in)
	if err != nil {
		return nil, err
	}
	if call.DryRun {
		return nil, Errorf("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<")
	buf.WriteString(c.Action)
	buf.WriteString(`Response xmlns="` + ec2api.XMLNamespace + `"><requestId>`)
	buf.WriteString(c.RequestID)
	buf.WriteString("</requestId>")
	if op.NewOutput == nil || out == nil {
		buf.WriteString("<return>true</return>")
	} else {
		query.Encode(buf, out)
	}
	buf.WriteString("</")
	buf.WriteString(c.Action)
	buf.WriteString("Response>")
	return bytes.Clone(buf.Bytes()), nil
}

var dryRunFields sync.Map // reflect.Type -> field index (-1: none)

// dryRunRequested reads the DryRun member most EC2 requests have.
func dryRunRequested(in any) bool {
	v := reflect.ValueOf(in).Elem()
	idx, ok := dryRunFields.Load(v.Type())
	if !ok {
		i := -1
		if f, found := v.Type().FieldByName("DryRun"); found && f.Type == reflect.TypeOf((*bool)(nil)) {
			i = f.Index[0]
		}
		dryRunFields.Store(v.Type(), i)
		idx = i
	}
	if idx.(int) < 0 {
		return false
	}
	p := v.Field(idx.(int)).Interface().(*bool)
	return p != nil && *p
}

// WriteError writes EC2's error envelope.
func (d *EC2) WriteError(w http.ResponseWriter, requestID string, e *Error) {
	var buf bytes.Buffer
	buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Response><Errors><Error><Code>")
	xmlEscape(&buf, e.Code)
	buf.WriteString("</Code><Message>")
	xmlEscape(&buf, e.Message)
	buf.WriteString("</Message></Error></Errors><RequestID>")
	buf.WriteString(requestID)
	buf.WriteString("</RequestID></Response>")
	WriteXML(w, requestID, e.Status, buf.Bytes())
}

// UnfilteredUnpaginated: a Describe call with nothing but DryRun lists everything.
func (d *EC2) UnfilteredUnpaginated(c *Call) bool {
	if !strings.HasPrefix(c.Action, "Describe") {
		return false
	}
	for k := range c.Params {
		if k != "DryRun" {
			return false
		}
	}
	return true
}
