package cloud

import (
	"context"
	"testing"
	"time"
)

// Alias rules: alias/ prefix (ValidationException), alias/aws/ reserved
// (NotAuthorizedException), unique (AlreadyExistsException), targets by key ID or
// ARN only, not AWS-managed keys (AccessDeniedException) nor keys pending deletion
// (KMSInvalidStateException); DeleteAlias of a missing alias: NotFoundException.
func TestKMSAliasRules(t *testing.T) {
	c, _ := newInternalCloud(t)
	ctx := context.Background()
	s := internalScope
	k, _ := c.CreateKMSKey(ctx, s, "", nil)
	managed, _ := c.DescribeKMSKey(ctx, s, EBSManagedKeyAlias)
	gone, _ := c.CreateKMSKey(ctx, s, "", nil)
	c.ScheduleKMSKeyDeletion(ctx, s, gone.ID, 7)
	cases := []struct{ name, alias, target, code string }{
		{"no prefix", "volumes", k.ID, "ValidationException"},
		{"bad characters", "alias/vol umes", k.ID, "ValidationException"},
		{"reserved prefix", "alias/aws/mine", k.ID, "NotAuthorizedException"},
		{"alias as target", "alias/x", "alias/aws/ebs", "ValidationException"},
		{"managed key target", "alias/x", managed.ID, "AccessDeniedException"},
		{"pending deletion", "alias/x", gone.ID, "KMSInvalidStateException"},
		{"unknown key", "alias/x", "0b5e4c0e-1111-4222-8333-444455556666", "NotFoundException"},
		{"bad ARN", "alias/x", "arn:aws:kms:eu-west-1", "InvalidArnException"},
	}
	for _, tc := range cases {
		wantKMSCode(t, c.CreateKMSAlias(ctx, s, tc.alias, tc.target), tc.code)
	}
	if err := c.CreateKMSAlias(ctx, s, "alias/app/data", k.ARN); err != nil {
		t.Fatal(err)
	}
	wantKMSCode(t, c.CreateKMSAlias(ctx, s, "alias/app/data", k.ID), "AlreadyExistsException")
	list, err := c.ListKMSAliases(ctx, s, k.ID)
	if err != nil || len(list) != 1 || list[0].ARN != "arn:aws:kms:eu-west-1:111122223333:alias/app/data" || list[0].TargetKeyID != k.ID {
		t.Fatalf("aliases of key: %+v %v", list, err)
	}
	wantKMSCode(t, c.DeleteKMSAlias(ctx, s, "alias/aws/ebs"), "NotAuthorizedException")
	wantKMSCode(t, c.DeleteKMSAlias(ctx, s, "alias/other"), "NotFoundException")
	if err := c.DeleteKMSAlias(ctx, s, "alias/app/data"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeKMSKey(ctx, s, "alias/app/data"); err == nil {
		t.Fatal("deleted alias still resolves")
	}
	wantKMSCode(t, c.DeleteKMSAlias(ctx, s, "alias/app/data"), "NotFoundException")
}

// Deletion: 7..30 days' wait in PendingDeletion, cancel leaves the key Disabled;
// a key pending deletion can be neither enabled nor disabled nor scheduled again;
// past the date the key and its aliases are gone and the alias name is free.
func TestKMSKeyDeletion(t *testing.T) {
	c, clk := newInternalCloud(t)
	ctx := context.Background()
	s := internalScope
	k, _ := c.CreateKMSKey(ctx, s, "", nil)
	c.CreateKMSAlias(ctx, s, "alias/doomed", k.ID)
	_, err := c.CancelKMSKeyDeletion(ctx, s, k.ID)
	wantKMSCode(t, err, "KMSInvalidStateException")
	p, err := c.ScheduleKMSKeyDeletion(ctx, s, k.ID, 7)
	if err != nil || p.State != KMSKeyPendingDeletion || p.PendingWindowInDays != 7 || p.DeletionDate.Sub(clk.t) < 7*24*time.Hour {
		t.Fatalf("scheduled %+v %v", p, err)
	}
	_, err = c.ScheduleKMSKeyDeletion(ctx, s, k.ID, 7)
	wantKMSCode(t, err, "KMSInvalidStateException")
	wantKMSCode(t, c.SetKMSKeyEnabled(ctx, s, k.ID, true), "KMSInvalidStateException")
	wantKMSCode(t, c.SetKMSKeyEnabled(ctx, s, k.ID, false), "KMSInvalidStateException")
	back, err := c.CancelKMSKeyDeletion(ctx, s, k.ARN)
	if err != nil || back.State != KMSKeyDisabled || !back.DeletionDate.IsZero() {
		t.Fatalf("cancelled %+v %v", back, err)
	}
	c.ScheduleKMSKeyDeletion(ctx, s, k.ID, 7)
	clk.t = clk.t.Add(8 * 24 * time.Hour)
	_, err = c.DescribeKMSKey(ctx, s, k.ID)
	wantKMSCode(t, err, "NotFoundException")
	keys, _ := c.ListKMSKeys(ctx, s)
	aliases, _ := c.ListKMSAliases(ctx, s, "")
	if len(keys) != 0 || len(aliases) != 0 {
		t.Fatalf("deleted key still listed: %+v %+v", keys, aliases)
	}
	k2, _ := c.CreateKMSKey(ctx, s, "", nil)
	if err := c.CreateKMSAlias(ctx, s, "alias/doomed", k2.ID); err != nil {
		t.Fatal("alias name of a deleted key not freed:", err)
	}
}

// AWS-managed keys cannot be disabled or deleted by the account.
func TestManagedKeyIsNotTheAccounts(t *testing.T) {
	c, _ := newInternalCloud(t)
	ctx := context.Background()
	s := internalScope
	m, err := c.DescribeKMSKey(ctx, s, "arn:aws:kms:eu-west-1:111122223333:alias/aws/ebs")
	if err != nil || m.Manager != KMSManagerAWS || m.State != KMSKeyEnabled {
		t.Fatalf("managed key %+v %v", m, err)
	}
	wantKMSCode(t, c.SetKMSKeyEnabled(ctx, s, m.ID, false), "AccessDeniedException")
	_, err = c.ScheduleKMSKeyDeletion(ctx, s, m.ID, 30)
	wantKMSCode(t, err, "AccessDeniedException")
	again, _ := c.DescribeKMSKey(ctx, s, "alias/aws/ebs")
	if again.ID != m.ID {
		t.Fatal("managed key made twice")
	}
	_, err = c.DescribeKMSKey(ctx, s, "alias/aws/s3")
	wantKMSCode(t, err, "NotFoundException")
}
