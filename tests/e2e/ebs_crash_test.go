package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// kill ends the server with SIGKILL, as a crash would.
func (s *server) kill() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

func waitVolume(t *testing.T, c *ec2.Client, id string, want types.VolumeState) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out := answer(c.DescribeVolumes(ctx(t), &ec2.DescribeVolumesInput{VolumeIds: []string{id}})).must(t)
		if out.Volumes[0].State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume %s is %s, want %s", id, out.Volumes[0].State, want)
		}
	}
}

func snapshotState(t *testing.T, c *ec2.Client, id string) types.SnapshotState {
	t.Helper()
	out := answer(c.DescribeSnapshots(ctx(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}})).must(t)
	return out.Snapshots[0].State
}

func waitSnapshot(t *testing.T, c *ec2.Client, id string) types.SnapshotState {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if st := snapshotState(t, c, id); st != types.SnapshotStatePending || time.Now().After(deadline) {
			return st
		}
	}
}

// fileSum is the SHA-256 of a file's first n bytes.
func fileSum(t *testing.T, path string, n int64) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, f, n); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// TestEBSSurvivesKills kills strato (SIGKILL) while a snapshot is being taken and
// while one is being deleted, restarts it on the same data dir, and checks that no
// completed snapshot was lost, the volume is intact, the snapshot in flight ended
// as AWS would (completed, or error when its point in time was lost), and the
// delete finished.
func TestEBSSurvivesKills(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	c := s.ec2("default")
	vol := answer(c.CreateVolume(ctx(t), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(2)})).must(t)
	waitVolume(t, c, *vol.VolumeId, types.VolumeStateAvailable)
	volFile := filepath.Join(dir, "blocks", "volumes", *vol.VolumeId+".img")
	const written = 256 << 20
	data := make([]byte, written)
	rand.Read(data)
	writeAt := func(b []byte, off int64) {
		f, err := os.OpenFile(volFile, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
		f.Sync()
	}
	writeAt(data, 0)
	first := answer(c.CreateSnapshot(ctx(t), &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})).must(t)
	if st := waitSnapshot(t, c, *first.SnapshotId); st != types.SnapshotStateCompleted {
		t.Fatalf("first snapshot %s", st)
	}
	firstSum := fileSum(t, volFile, written)

	// Change everything, then kill strato right after it starts the second snapshot.
	rand.Read(data)
	writeAt(data, 0)
	second := answer(c.CreateSnapshot(ctx(t), &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})).must(t)
	s.kill()
	s = startServer(t, dir)
	c = s.ec2("default")
	switch st := waitSnapshot(t, c, *second.SnapshotId); st {
	case types.SnapshotStateCompleted, types.SnapshotStateError:
	default:
		t.Fatalf("the snapshot in flight is %s after the restart, want completed or error", st)
	}
	if st := snapshotState(t, c, *first.SnapshotId); st != types.SnapshotStateCompleted {
		t.Fatalf("the completed snapshot is %s after the crash", st)
	}
	waitVolume(t, c, *vol.VolumeId, types.VolumeStateAvailable)
	if got := fileSum(t, volFile, written); got != sha256.Sum256(data) {
		t.Fatal("the volume's data changed across the crash")
	}

	// The first snapshot still restores byte for byte.
	restored := answer(c.CreateVolume(ctx(t), &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), SnapshotId: first.SnapshotId})).must(t)
	waitVolume(t, c, *restored.VolumeId, types.VolumeStateAvailable)
	if got := fileSum(t, filepath.Join(dir, "blocks", "volumes", *restored.VolumeId+".img"), written); got != firstSum {
		t.Fatal("the completed snapshot restores different data after the crash")
	}

	// Kill during a delete: after the restart the delete has finished.
	answer(c.DeleteSnapshot(ctx(t), &ec2.DeleteSnapshotInput{SnapshotId: first.SnapshotId})).must(t)
	s.kill()
	s = startServer(t, dir)
	c = s.ec2("default")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err := c.DescribeSnapshots(ctx(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{*first.SnapshotId}})
		if err != nil {
			wantCode(t, err, "InvalidSnapshot.NotFound")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deleted snapshot is still there after the restart")
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "blocks", "manifests", *first.SnapshotId+".manifest")); !os.IsNotExist(err) {
		t.Errorf("the deleted snapshot's manifest is still on disk: %v", err)
	}
}
