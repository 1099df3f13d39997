package ec2

import (
	"context"
	"encoding/base64"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
)

func init() { areas = append(areas, (*Service).registerConsole) }

func (s *Service) registerConsole(d *awsapi.EC2) {
	handle(d, "GetConsoleOutput", s.getConsoleOutput)
}

// getConsoleOutput answers the instance's console log, base64 as EC2 sends it;
// Latest changes nothing: strato always answers the latest output.
func (s *Service) getConsoleOutput(ctx context.Context, c *awsapi.EC2Call, in *ec2api.GetConsoleOutputRequest) (*ec2api.GetConsoleOutputResult, error) {
	out, at, err := s.cloud.ConsoleOutput(ctx, scope(c), deref(in.InstanceId))
	if err != nil {
		return nil, err
	}
	res := &ec2api.GetConsoleOutputResult{InstanceId: in.InstanceId, Timestamp: &at}
	if len(out) > 0 {
		res.Output = ptr(base64.StdEncoding.EncodeToString(out))
	}
	return res, nil
}
