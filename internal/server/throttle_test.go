package server

import (
	"testing"

	"strato/internal/awsapi/throttle"
)

func TestThrottleConfig(t *testing.T) {
	cfg := ThrottleConfig(0.5, map[string]throttle.Bucket{"mutating": {Size: 7, RefillPerSecond: 1}})
	if got := cfg.Categories["non-mutating"]; got != (throttle.Bucket{Size: 50, RefillPerSecond: 10}) {
		t.Errorf("scaled non-mutating: %+v", got)
	}
	if got := cfg.Categories["mutating"]; got != (throttle.Bucket{Size: 7, RefillPerSecond: 1}) {
		t.Errorf("an override is taken as given, not scaled: %+v", got)
	}
	if got := ThrottleConfig(1, nil).Categories["RunInstances"]; got != (throttle.Bucket{Size: 5, RefillPerSecond: 2}) {
		t.Errorf("AWS's RunInstances bucket: %+v", got)
	}
}
