package mock_test

import (
	"path/filepath"
	"testing"

	"strato/internal/cloud"
	"strato/internal/compute"
	"strato/internal/compute/conformance"
	"strato/internal/compute/mock"
)

func TestConformance(t *testing.T) {
	root := t.TempDir()
	conformance.Run(t, func(t *testing.T) cloud.Compute {
		d, err := compute.Open(mock.Name, compute.Options{DataDir: filepath.Join(root, t.Name())})
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}
