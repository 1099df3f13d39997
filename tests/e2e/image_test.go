package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// needImageTools skips without mke2fs and busybox-static, unless
// STRATO_TEST_REQUIRE_TOOLS is set, when their absence fails the test.
func needImageTools(t *testing.T) {
	t.Helper()
	_, errMkfs := exec.LookPath("mke2fs")
	_, errBusybox := os.Stat("/bin/busybox")
	if errMkfs == nil && errBusybox == nil {
		return
	}
	if os.Getenv("STRATO_TEST_REQUIRE_TOOLS") != "" {
		t.Fatal("mke2fs (e2fsprogs) or busybox-static is not installed")
	}
	t.Skip("mke2fs (e2fsprogs) or busybox-static is not installed")
}

// TestImageBuildThroughServe runs `strato image build minimal` while strato
// serve holds the block store: the command hands the disk to serve through the
// operator endpoint and prints its progress. Another account then finds the
// image with DescribeImages --owners amazon in any Region, and restores a
// volume from its public snapshot.
func TestImageBuildThroughServe(t *testing.T) {
	needImageTools(t)
	s := startServer(t, "")
	s.account("user")

	start := time.Now()
	out, err := exec.Command(stratoBin, "image", "build", "minimal", "--data-dir", s.dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("image build: %v\n%s", err, out)
	}
	t.Logf("strato image build minimal took %v", time.Since(start))
	for _, want := range []string{"handing the disk to it", "snapshot 100%", "in 34 Regions"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the build's output lacks %q:\n%s", want, out)
		}
	}

	akid, secret := s.profile("user")
	ids := map[string]bool{}
	for _, region := range []string{"us-east-1", "eu-west-1", "ap-southeast-2"} {
		c := ec2.NewFromConfig(s.config(akid, secret, region))
		got, err := c.DescribeImages(ctx(t), &ec2.DescribeImagesInput{Owners: []string{"amazon"},
			Filters: []types.Filter{{Name: aws.String("name"), Values: []string{"strato-minimal-*"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Images) != 1 {
			t.Fatalf("%s: %d minimal images owned by amazon", region, len(got.Images))
		}
		img := got.Images[0]
		if aws.ToString(img.ImageOwnerAlias) != "amazon" || !aws.ToBool(img.Public) || img.State != types.ImageStateAvailable ||
			aws.ToString(img.RootDeviceName) != "/dev/xvda" || img.Architecture == "" {
			t.Errorf("%s: %+v", region, img)
		}
		ids[aws.ToString(img.ImageId)] = true
		if region != "eu-west-1" {
			continue
		}
		snap := aws.ToString(img.BlockDeviceMappings[0].Ebs.SnapshotId)
		v, err := c.CreateVolume(ctx(t), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("eu-west-1a"), SnapshotId: aws.String(snap)})
		if err != nil {
			t.Fatalf("a volume from the public snapshot: %v", err)
		}
		if aws.ToInt32(v.Size) != 1 {
			t.Errorf("the volume has %d GiB, want 1", aws.ToInt32(v.Size))
		}
	}
	if len(ids) != 3 {
		t.Errorf("three Regions, %d distinct image IDs", len(ids))
	}

	// The operator endpoint answers the operator's account only.
	body := []byte(`{"TaskId":"publish-0123456789abcdef0"}`)
	req, _ := http.NewRequest(http.MethodPost, s.endpoint+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "StratoOperator.DescribeImagePublish")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req, hex.EncodeToString(sum[:]), "strato", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "AccessDenied" {
		t.Errorf("another account called the operator endpoint: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}

	// Built again the same day: the same IDs.
	again, err := exec.Command(stratoBin, "image", "build", "minimal", "--data-dir", s.dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("second build: %v\n%s", err, again)
	}
	for id := range ids {
		if !strings.Contains(string(again), id) {
			t.Errorf("the rebuild does not keep %s:\n%s", id, again)
		}
	}
}
