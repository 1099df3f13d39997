package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"strato/internal/blockstore"
	"strato/internal/cloud"
	"strato/internal/imagebuild"
	"strato/internal/server"
)

// imageBuild runs `strato image build minimal|debian-12`: it makes the disk on
// the host, then publishes it as one of the cloud's public base images in every
// Region. `strato image build vm-kernel` installs the kernel and initramfs the qemu
// driver boots those images with instead.
func imageBuild(args []string) error {
	fs, dir := newFlags("image build")
	mirror := fs.String("mirror", imagebuild.DebianMirror, "the Debian mirror debootstrap uses (debian-12)")
	volumeType := fs.String("volume-type", "gp3", "the root volume's type: gp3 or gp2")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: strato image build [flags] minimal|debian-12|vm-kernel\n")
		fs.PrintDefaults()
	}
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		// The kind may come before the flags.
		args = append(args[1:], args[0])
	}
	fs.Parse(args)
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("image build: say minimal, debian-12 or vm-kernel")
	}
	if fs.Arg(0) == "vm-kernel" {
		return vmKernelBuild(*dir)
	}
	base, err := imagebuild.BaseFor(fs.Arg(0), time.Now())
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	work, err := workDir(*dir)
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	helper, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the instance helper (this binary): %w", err)
	}
	fmt.Printf("building %s (%s)\n", base.Name, base.Description)
	disk, err := base.Build(ctx, work, helper, *mirror, os.Stdout)
	if err != nil {
		return err
	}
	req := server.PublishInput{DiskPath: disk, Name: base.Name, Description: base.Description,
		Architecture: base.Architecture, VolumeType: *volumeType, Base: true, DefaultAlias: base.Kind == imagebuild.KindMinimal}
	images, err := publish(ctx, *dir, req)
	if err != nil {
		return err
	}
	fmt.Printf("built %s in %v: public, owner alias amazon, in %d Regions\n", base.Name, time.Since(start).Round(time.Second), len(images))
	printImages(images)
	return nil
}

// imageImport runs `strato image import`: a raw disk image or a root file
// system tarball becomes a private image of an account.
func imageImport(args []string) error {
	fs, dir := newFlags("image import")
	name := fs.String("name", "", "the image's name (required)")
	description := fs.String("description", "", "the image's description")
	account := fs.String("account", "", "the account that owns the image (default the operator's)")
	region := fs.String("region", "us-east-1", "the Region the image is registered in")
	arch := fs.String("architecture", imagebuild.HostArchitecture(), "x86_64 or arm64")
	instanceStore := fs.Bool("instance-store", false, "make an instance-store-backed image instead of an EBS-backed one")
	replace := fs.Bool("replace", false, "replace the account's image of the same name (keeping its ID)")
	sizeGiB := fs.Int64("size", 0, "for a tarball: the disk's size in GiB (default: what the files need, with room to spare)")
	volumeType := fs.String("volume-type", "gp3", "the root volume's type: gp3 or gp2")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: strato image import --name NAME [flags] FILE\n  FILE is a raw disk image (MBR or GPT) or a root file system tarball (.tar, .tar.gz, …)\n")
		fs.PrintDefaults()
	}
	fs.Parse(args)
	if fs.NArg() != 1 || *name == "" {
		fs.Usage()
		return fmt.Errorf("image import: want --name NAME and one FILE")
	}
	file, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	if *account != "" && !cloud.ValidAccountID(*account) {
		return fmt.Errorf("image import: --account must be a 12-digit account ID")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tarball, err := imagebuild.IsTarball(file)
	if err != nil {
		return err
	}
	disk := file
	if tarball {
		work, err := workDir(*dir)
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		if disk, err = diskFromTarball(ctx, file, work, *sizeGiB); err != nil {
			return err
		}
	}
	req := server.PublishInput{DiskPath: disk, Name: *name, Description: *description, Architecture: *arch,
		VolumeType: *volumeType, Account: *account, Region: *region, InstanceStore: *instanceStore, Replace: *replace}
	images, err := publish(ctx, *dir, req)
	if err != nil {
		return err
	}
	kind := "EBS-backed"
	if *instanceStore {
		kind = "instance-store-backed"
	}
	fmt.Printf("imported %s as a private %s image\n", *name, kind)
	printImages(images)
	return nil
}

func diskFromTarball(ctx context.Context, tarball, work string, sizeGiB int64) (string, error) {
	root := filepath.Join(work, "root")
	fmt.Printf("unpacking %s\n", tarball)
	if err := imagebuild.RootFromTarball(ctx, tarball, root); err != nil {
		return "", err
	}
	size := sizeGiB << 30
	if size <= 0 {
		var err error
		if size, err = imagebuild.DiskSizeFor(root); err != nil {
			return "", err
		}
	}
	disk := filepath.Join(work, "disk.img")
	fmt.Printf("making a %d GiB disk (MBR, ext4 labelled %s)\n", size>>30, imagebuild.RootLabel)
	return disk, imagebuild.Disk(ctx, root, disk, size, imagebuild.RootLabel)
}

// workDir is a fresh directory in the data dir for a build: a serving strato
// (same user, same machine) can read the disk made there.
func workDir(dataDir string) (string, error) {
	parent := filepath.Join(dataDir, "image-work")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(parent, "build-")
}

func printImages(images []server.PublishedOnWire) {
	for _, img := range images {
		fmt.Printf("  %-16s %s\n", img.Region, img.ImageId)
	}
}

// publish registers the disk: in this process when the block store is free,
// else through the serving strato that holds it.
func publish(ctx context.Context, dataDir string, in server.PublishInput) ([]server.PublishedOnWire, error) {
	blocks, err := blockstore.Open(server.BlocksPath(dataDir))
	if errors.Is(err, syscall.EWOULDBLOCK) {
		fmt.Printf("strato serve holds the block store: handing the disk to it\n")
		return publishRemote(ctx, dataDir, in)
	}
	if err != nil {
		return nil, err
	}
	defer blocks.Close()
	c, closeStore, err := server.OpenCloud(ctx, dataDir, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return nil, err
	}
	defer closeStore()
	c.UseBlocks(blocks)
	defer c.Close() // waits for the deletion of replaced snapshots
	if !in.Base && in.Account == "" {
		if in.Account, err = c.OperatorAccount(ctx); err != nil {
			return nil, err
		}
		if in.Account == "" {
			return nil, fmt.Errorf("there is no operator account yet (start strato serve once), so say --account")
		}
	}
	list, err := c.PublishImage(ctx, cloud.PublishRequest{
		DiskPath: in.DiskPath, Name: in.Name, Description: in.Description, Architecture: in.Architecture,
		VolumeType: in.VolumeType, Base: in.Base, DefaultAlias: in.DefaultAlias, Account: in.Account,
		Region: in.Region, InstanceStore: in.InstanceStore, Replace: in.Replace,
	}, func(line string) { fmt.Println(line) })
	if err != nil {
		return nil, err
	}
	out := make([]server.PublishedOnWire, 0, len(list))
	for _, img := range list {
		out = append(out, server.PublishedOnWire{Region: img.Region, ImageId: img.ID})
	}
	c.WaitBlockJobs()
	return out, nil
}

// publishRemote starts the publication on the serving strato with the
// operator's credentials and prints its progress until it ends.
func publishRemote(ctx context.Context, dataDir string, in server.PublishInput) ([]server.PublishedOnWire, error) {
	keys, err := readProfile(server.CredentialsPath(dataDir), "default")
	if err != nil {
		return nil, err
	}
	op := operatorClient{endpoint: server.Endpoint(dataDir), creds: aws.Credentials{
		AccessKeyID: keys["aws_access_key_id"], SecretAccessKey: keys["aws_secret_access_key"]}}
	var started server.PublishStarted
	if err := op.call(ctx, "StartImagePublish", in, &started); err != nil {
		return nil, err
	}
	poll := server.PublishPoll{TaskId: started.TaskId}
	for {
		var st server.PublishStatus
		if err := op.call(ctx, "DescribeImagePublish", poll, &st); err != nil {
			return nil, err
		}
		for _, line := range st.Lines {
			fmt.Println(line)
		}
		poll.From += len(st.Lines)
		if st.Done {
			if st.Error != "" {
				return nil, errors.New(st.Error)
			}
			return st.Images, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped waiting; strato serve goes on with publication %s", started.TaskId)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// operatorClient calls strato serve's operator endpoint (AWS JSON 1.1, SigV4
// under the service name strato).
type operatorClient struct {
	endpoint string
	creds    aws.Credentials
}

func (o operatorClient) call(ctx context.Context, action string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", server.OperatorTargetPrefix+action)
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, o.creds, req, hex.EncodeToString(sum[:]), server.OperatorServiceName, server.DefaultRegion, time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("calling strato serve at %s: %w", o.endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &e) == nil && e.Type != "" {
			return fmt.Errorf("strato serve: %s: %s", e.Type, e.Message)
		}
		return fmt.Errorf("strato serve answered %s: %s", resp.Status, data)
	}
	return json.Unmarshal(data, out)
}

// vmKernelBuild is `strato image build vm-kernel`: Debian's cloud kernel, fetched with
// apt, and strato's initramfs, installed in the data directory for the qemu driver.
func vmKernelBuild(dataDir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	files, err := imagebuild.InstallVMBoot(ctx, dataDir, "", imagebuild.HostArchitecture(), os.Stdout)
	if err != nil {
		return err
	}
	fmt.Printf("installed the VM kernel %s in %v:\n  kernel    %s\n  initramfs %s\n", files.Version,
		time.Since(start).Round(100*time.Millisecond), files.Kernel, files.Initramfs)
	return nil
}
