package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"

	"strato/internal/awsapi"
	"strato/internal/cloud"
)

// The operator endpoint lets strato's own commands hand work to a serving
// strato when they cannot do it themselves: the block store belongs to one
// process, so `strato image build` and `strato image import` give serve the
// disk they made (a file on the same machine) and poll its publication. Only
// the operator's account (the default profile of DATA/credentials) may call it.
//
// Its protocol is AWS JSON 1.1 under the SigV4 service name "strato": the
// action in X-Amz-Target ("StratoOperator.StartImagePublish"), a JSON body,
// errors as {"__type": code, "message": …}.

// OperatorServiceName is the SigV4 service name of the operator endpoint.
const OperatorServiceName = "strato"

// OperatorTargetPrefix prefixes the operator actions in X-Amz-Target.
const OperatorTargetPrefix = "StratoOperator."

const operatorContentType = "application/x-amz-json-1.1"

// PublishInput is StartImagePublish's request: cloud.PublishRequest on the wire.
type PublishInput struct {
	DiskPath      string
	Name          string
	Description   string `json:",omitempty"`
	Architecture  string
	VolumeType    string `json:",omitempty"`
	Base          bool   `json:",omitempty"`
	DefaultAlias  bool   `json:",omitempty"`
	Account       string `json:",omitempty"`
	Region        string `json:",omitempty"`
	InstanceStore bool   `json:",omitempty"`
	Replace       bool   `json:",omitempty"`
}

// PublishStarted is StartImagePublish's answer.
type PublishStarted struct {
	TaskId string
}

// PublishPoll is DescribeImagePublish's request: the task, and the index of the
// first progress line wanted (the count already read).
type PublishPoll struct {
	TaskId string
	From   int
}

// PublishStatus is DescribeImagePublish's answer.
type PublishStatus struct {
	Lines  []string
	Done   bool
	Error  string            `json:",omitempty"`
	Images []PublishedOnWire `json:",omitempty"`
}

// PublishedOnWire is one image a publication registered.
type PublishedOnWire struct {
	Region, ImageId string
}

// operatorService answers the operator endpoint.
type operatorService struct {
	cloud *cloud.Cloud
	mu    sync.Mutex
	tasks map[string]*cloud.PublishTask
}

func newOperatorService(c *cloud.Cloud) *operatorService {
	return &operatorService{cloud: c, tasks: map[string]*cloud.PublishTask{}}
}

// Action implements awsapi.BodyService.
func (*operatorService) Action(r *http.Request) (string, error) {
	action, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), OperatorTargetPrefix)
	if !ok || action == "" {
		return "", awsapi.Errorf("UnknownOperationException", "The X-Amz-Target header must name an operator action (%sAction).", OperatorTargetPrefix)
	}
	return action, nil
}

// ContentType implements awsapi.BodyService.
func (*operatorService) ContentType() string { return operatorContentType }

// UnfilteredUnpaginated implements awsapi.Service.
func (*operatorService) UnfilteredUnpaginated(*awsapi.Call) bool { return false }

// WriteError implements awsapi.Service.
func (*operatorService) WriteError(w http.ResponseWriter, requestID string, e *awsapi.Error) {
	body, err := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	if err != nil {
		body = []byte(fmt.Sprintf(`{"__type":%q}`, e.Code))
	}
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	awsapi.WriteBody(w, operatorContentType, requestID, e.Status, body)
}

// Serve implements awsapi.Service.
func (s *operatorService) Serve(ctx context.Context, c *awsapi.Call) ([]byte, error) {
	operator, err := s.cloud.OperatorAccount(ctx)
	if err != nil {
		return nil, err
	}
	if operator == "" || c.AccountID != operator {
		return nil, &awsapi.Error{Code: "AccessDenied", Message: "Only the operator's account may call strato's operator actions.", Status: http.StatusForbidden}
	}
	var out any
	switch c.Action {
	case "StartImagePublish":
		var in PublishInput
		if err = decodeOperator(c.Body, &in); err == nil {
			out, err = s.start(in, operator)
		}
	case "DescribeImagePublish":
		var in PublishPoll
		if err = decodeOperator(c.Body, &in); err == nil {
			out, err = s.poll(in)
		}
	default:
		return nil, awsapi.Errorf("UnknownOperationException", "strato's operator endpoint has no action %s.", c.Action)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

func decodeOperator(body []byte, in any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		return awsapi.Errorf("SerializationException", "The request body is not valid JSON for this action: %v", err)
	}
	return nil
}

func (s *operatorService) start(in PublishInput, operator string) (PublishStarted, error) {
	if !filepath.IsAbs(in.DiskPath) {
		return PublishStarted{}, awsapi.Errorf("ValidationException", "DiskPath must be an absolute path on strato's host, not %q.", in.DiskPath)
	}
	if !in.Base && in.Account == "" {
		in.Account = operator
	}
	t := s.cloud.StartPublish(cloud.PublishRequest{
		DiskPath: in.DiskPath, Name: in.Name, Description: in.Description, Architecture: in.Architecture,
		VolumeType: in.VolumeType, Base: in.Base, DefaultAlias: in.DefaultAlias, Account: in.Account,
		Region: in.Region, InstanceStore: in.InstanceStore, Replace: in.Replace,
	})
	s.mu.Lock()
	s.tasks[t.ID] = t
	s.mu.Unlock()
	return PublishStarted{TaskId: t.ID}, nil
}

func (s *operatorService) poll(in PublishPoll) (PublishStatus, error) {
	s.mu.Lock()
	t, ok := s.tasks[in.TaskId]
	s.mu.Unlock()
	if !ok {
		return PublishStatus{}, awsapi.Errorf("ResourceNotFoundException", "No image publication %q is running or has run since strato started.", in.TaskId)
	}
	lines, done, images, err := t.Status(in.From)
	out := PublishStatus{Lines: lines, Done: done}
	if lines == nil {
		out.Lines = []string{}
	}
	if err != nil {
		out.Error = err.Error()
	}
	for _, img := range images {
		out.Images = append(out.Images, PublishedOnWire{Region: img.Region, ImageId: img.ID})
	}
	return out, nil
}
