package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"strato/internal/cloud"
	"strato/internal/server"
)

// snapshot runs `strato snapshot list`: an account's snapshots with what each
// added to the chunk store (EBS's API has no field for a snapshot's own
// incremental size).
func snapshot(args []string) error {
	if len(args) == 0 || args[0] != "list" {
		return fmt.Errorf("snapshot: say list")
	}
	fs, dir := newFlags("snapshot list")
	accountID := fs.String("account", "", "the account (see strato account list)")
	region := fs.String("region", "us-east-1", "the Region")
	fs.Parse(args[1:])
	if !cloud.ValidAccountID(*accountID) {
		return fmt.Errorf("snapshot list: --account must be a 12-digit account ID")
	}
	ctx := context.Background()
	c, closeStore, err := server.OpenCloud(ctx, *dir, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	defer closeStore()
	s := cloud.Scope{Account: *accountID, Region: *region}
	fmt.Printf("%-22s %-22s %8s %-10s %14s\n", "SNAPSHOT", "VOLUME", "SIZE-GIB", "STATE", "STORED-BYTES")
	for page := (cloud.Page{}); ; {
		list, next, err := c.DescribeSnapshots(ctx, s, cloud.SnapshotQuery{OwnerIDs: []string{"self"}, Page: page})
		if err != nil {
			return err
		}
		for _, sn := range list {
			fmt.Printf("%-22s %-22s %8d %-10s %14d\n", sn.ID, sn.VolumeID, sn.VolumeSize, sn.State, sn.StoredBytes)
		}
		if next == "" {
			return nil
		}
		page = cloud.Page{NextToken: &next}
	}
}
