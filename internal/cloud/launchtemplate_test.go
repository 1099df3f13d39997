package cloud_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"strato/internal/cloud"
	"strato/internal/cloud/cloudtest"
)

var ltScope = cloud.Scope{Account: "111122223333", Region: "us-east-1"}

func ltData(image string) cloud.LaunchTemplateData {
	doc, _ := json.Marshal(map[string]string{"ImageId": image})
	return cloud.LaunchTemplateData{Doc: doc, Fields: map[string][]string{"image-id": {image}}}
}

func createTemplate(t *testing.T, c *cloud.Cloud, name string) cloud.LaunchTemplate {
	t.Helper()
	lt, err := c.CreateLaunchTemplate(context.Background(), ltScope, "", cloud.LaunchTemplateRequest{Name: name, Description: "first", CreatedBy: "arn:aws:iam::111122223333:root", Data: ltData("ami-00000000000000001")})
	if err != nil {
		t.Fatal(err)
	}
	return lt
}

func addTemplateVersion(t *testing.T, c *cloud.Cloud, ref cloud.LaunchTemplateRef, image string) cloud.LaunchTemplateVersion {
	t.Helper()
	v, err := c.CreateLaunchTemplateVersion(context.Background(), ltScope, "", cloud.LaunchTemplateVersionRequest{Template: ref, Data: ltData(image)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCreateLaunchTemplateRules(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	lt := createTemplate(t, c, "web-servers")
	if !cloud.ValidID("lt", lt.ID) || lt.DefaultVersion != 1 || lt.LatestVersion != 1 {
		t.Fatalf("new template %+v", lt)
	}
	create := func(name string) error {
		_, err := c.CreateLaunchTemplate(ctx, ltScope, "", cloud.LaunchTemplateRequest{Name: name, Data: ltData("ami-00000000000000001")})
		return err
	}
	wantCode(t, "name taken", create("web-servers"), "InvalidLaunchTemplateName.AlreadyExistsException")
	wantCode(t, "name too short", create("ab"), "InvalidLaunchTemplateName.MalformedException")
	wantCode(t, "name with a space", create("web servers"), "InvalidLaunchTemplateName.MalformedException")
	wantCode(t, "no name", create(""), "MissingParameter")
	_, err := c.CreateLaunchTemplate(ctx, ltScope, "", cloud.LaunchTemplateRequest{Name: "long-description", Description: strings.Repeat("x", 256)})
	wantCode(t, "description over 255", err, "InvalidParameterValue")
	// The same name in another Region is another template.
	if _, err := c.CreateLaunchTemplate(ctx, cloud.Scope{Account: ltScope.Account, Region: "eu-west-1"}, "", cloud.LaunchTemplateRequest{Name: "web-servers"}); err != nil {
		t.Errorf("the name in another Region: %v", err)
	}
	// A client token makes a repeat return the first template.
	req := cloud.LaunchTemplateRequest{Name: "tokened", Data: ltData("ami-00000000000000001")}
	a, err := c.CreateLaunchTemplate(ctx, ltScope, "tok", req)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := c.CreateLaunchTemplate(ctx, ltScope, "tok", req); err != nil || b.ID != a.ID {
		t.Fatalf("repeat: %+v %v", b, err)
	}

	if err := c.EnsureAccount(ctx, ltScope.Account, "test"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetQuota(ctx, ltScope.Account, cloud.QuotaLaunchTemplates, 2); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "templates over the quota", create("third"), "LaunchTemplateLimitExceeded")
	if err := c.SetQuota(ctx, ltScope.Account, cloud.QuotaLaunchTemplateVersions, 2); err != nil {
		t.Fatal(err)
	}
	ref := cloud.LaunchTemplateRef{ID: lt.ID}
	addTemplateVersion(t, c, ref, "ami-00000000000000002")
	_, err = c.CreateLaunchTemplateVersion(ctx, ltScope, "", cloud.LaunchTemplateVersionRequest{Template: ref, Data: ltData("x")})
	wantCode(t, "versions over the quota", err, "LaunchTemplateVersionLimitExceeded")
}

func TestLaunchTemplateReferences(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	lt := createTemplate(t, c, "web")
	for _, tc := range []struct {
		name string
		ref  cloud.LaunchTemplateRef
		code string
	}{
		{"both", cloud.LaunchTemplateRef{ID: lt.ID, Name: "web"}, "InvalidParameterCombination"},
		{"neither", cloud.LaunchTemplateRef{}, "MissingParameter"},
		{"malformed ID", cloud.LaunchTemplateRef{ID: "lt-xyz"}, "InvalidLaunchTemplateId.Malformed"},
		{"unknown ID", cloud.LaunchTemplateRef{ID: "lt-0123456789abcdef0"}, "InvalidLaunchTemplateId.NotFound"},
		{"unknown name", cloud.LaunchTemplateRef{Name: "nope"}, "InvalidLaunchTemplateName.NotFoundException"},
	} {
		_, err := c.GetLaunchTemplateVersion(ctx, ltScope, tc.ref, "")
		wantCode(t, tc.name, err, tc.code)
	}
	_, err := c.GetLaunchTemplateVersion(ctx, ltScope, cloud.LaunchTemplateRef{Name: "web"}, "7")
	wantCode(t, "unknown version", err, "InvalidLaunchTemplateId.VersionNotFound")
	_, err = c.GetLaunchTemplateVersion(ctx, ltScope, cloud.LaunchTemplateRef{Name: "web"}, "newest")
	wantCode(t, "not a version", err, "InvalidLaunchTemplateId.VersionNotFound")
	_, _, err = c.DescribeLaunchTemplates(ctx, ltScope, []string{"lt-0123456789abcdef0"}, nil, nil, cloud.Page{})
	wantCode(t, "describe unknown ID", err, "InvalidLaunchTemplateId.NotFound")
	_, _, err = c.DescribeLaunchTemplates(ctx, ltScope, nil, []string{"nope"}, nil, cloud.Page{})
	wantCode(t, "describe unknown name", err, "InvalidLaunchTemplateName.NotFoundException")
}

// Versions: numbered in order, the first the default until another is made
// the default; $Latest and $Default resolve; the default cannot be deleted.
func TestLaunchTemplateVersions(t *testing.T) {
	c := cloudtest.New(t)
	ctx := context.Background()
	lt := createTemplate(t, c, "web")
	ref := cloud.LaunchTemplateRef{Name: "web"}
	v2 := addTemplateVersion(t, c, ref, "ami-00000000000000002")
	v3 := addTemplateVersion(t, c, cloud.LaunchTemplateRef{ID: lt.ID}, "ami-00000000000000003")
	if v2.Number != 2 || v3.Number != 3 || v3.Default {
		t.Fatalf("versions %d %d default=%v", v2.Number, v3.Number, v3.Default)
	}
	for version, want := range map[string]int64{"": 1, "$Default": 1, "$Latest": 3, "2": 2} {
		v, err := c.GetLaunchTemplateVersion(ctx, ltScope, ref, version)
		if err != nil || v.Number != want {
			t.Errorf("version %q: %d %v, want %d", version, v.Number, err, want)
		}
	}
	got, err := c.ModifyLaunchTemplate(ctx, ltScope, ref, "2")
	if err != nil || got.DefaultVersion != 2 || got.LatestVersion != 3 {
		t.Fatalf("modify: %+v %v", got, err)
	}
	_, err = c.ModifyLaunchTemplate(ctx, ltScope, ref, "9")
	wantCode(t, "default version that does not exist", err, "InvalidLaunchTemplateId.VersionNotFound")

	list, _, err := c.DescribeLaunchTemplateVersions(ctx, ltScope, cloud.VersionQuery{Template: ref}, nil, cloud.Page{})
	if err != nil || len(list) != 3 || list[0].Number != 3 || list[2].Number != 1 || !list[1].Default {
		t.Fatalf("all versions, newest first: %+v %v", list, err)
	}
	list, _, err = c.DescribeLaunchTemplateVersions(ctx, ltScope, cloud.VersionQuery{Template: ref, MinVersion: "2", MaxVersion: "2"}, nil, cloud.Page{})
	if err != nil || len(list) != 1 || list[0].Number != 2 {
		t.Fatalf("MinVersion..MaxVersion: %+v %v", list, err)
	}
	list, _, err = c.DescribeLaunchTemplateVersions(ctx, ltScope, cloud.VersionQuery{Template: ref}, filterOf("image-id", "ami-00000000000000003"), cloud.Page{})
	if err != nil || len(list) != 1 || list[0].Number != 3 {
		t.Fatalf("image-id filter: %+v %v", list, err)
	}
	list, _, err = c.DescribeLaunchTemplateVersions(ctx, ltScope, cloud.VersionQuery{Template: ref}, filterOf("is-default-version", "true"), cloud.Page{})
	if err != nil || len(list) != 1 || list[0].Number != 2 {
		t.Fatalf("is-default-version filter: %+v %v", list, err)
	}
	_, _, err = c.DescribeLaunchTemplateVersions(ctx, ltScope, cloud.VersionQuery{Template: ref, Versions: []string{"1", "8"}}, nil, cloud.Page{})
	wantCode(t, "describe a version that does not exist", err, "InvalidLaunchTemplateId.VersionNotFound")
	// Without a template: the $Latest and $Default of every template.
	createTemplate(t, c, "database")
	list, _, err = c.DescribeLaunchTemplateVersions(ctx, ltScope, cloud.VersionQuery{Versions: []string{"$Latest", "$Default"}}, nil, cloud.Page{})
	if err != nil || len(list) != 3 {
		t.Fatalf("$Latest and $Default of every template: %+v %v", list, err)
	}
	_, _, err = c.DescribeLaunchTemplateVersions(ctx, ltScope, cloud.VersionQuery{Versions: []string{"2"}}, nil, cloud.Page{})
	wantCode(t, "a number without a template", err, "InvalidParameterValue")
	// Pages of one.
	one := int32(1)
	page, next, err := c.DescribeLaunchTemplateVersions(ctx, ltScope, cloud.VersionQuery{Template: ref}, nil, cloud.Page{MaxResults: &one})
	if err != nil || len(page) != 1 || page[0].Number != 3 || next == "" {
		t.Fatalf("first page: %+v %q %v", page, next, err)
	}
	page, _, err = c.DescribeLaunchTemplateVersions(ctx, ltScope, cloud.VersionQuery{Template: ref}, nil, cloud.Page{MaxResults: &one, NextToken: &next})
	if err != nil || len(page) != 1 || page[0].Number != 2 {
		t.Fatalf("second page: %+v %v", page, err)
	}

	res, err := c.DeleteLaunchTemplateVersions(ctx, ltScope, ref, []string{"2", "3", "9", "x"})
	if err != nil || len(res) != 4 {
		t.Fatalf("delete versions: %+v %v", res, err)
	}
	for i, want := range []string{"unexpectedError", "", "launchTemplateVersionDoesNotExist", "launchTemplateVersionDoesNotExist"} {
		if res[i].Code != want {
			t.Errorf("version %s: code %q, want %q (%s)", []string{"2", "3", "9", "x"}[i], res[i].Code, want, res[i].Message)
		}
	}
	got, err = c.ModifyLaunchTemplate(ctx, ltScope, ref, "")
	if err != nil || got.LatestVersion != 2 || got.DefaultVersion != 2 {
		t.Fatalf("after deleting the latest: %+v %v", got, err)
	}
	// Numbers are not given again.
	if v := addTemplateVersion(t, c, ref, "ami-00000000000000004"); v.Number != 4 {
		t.Fatalf("new version after a deletion is %d", v.Number)
	}
	res, err = c.DeleteLaunchTemplateVersions(ctx, ltScope, cloud.LaunchTemplateRef{ID: "lt-0123456789abcdef0"}, []string{"1"})
	if err != nil || len(res) != 1 || res[0].Code != "launchTemplateIdDoesNotExist" {
		t.Fatalf("unknown template: %+v %v", res, err)
	}
	res, err = c.DeleteLaunchTemplateVersions(ctx, ltScope, cloud.LaunchTemplateRef{Name: "no such name"}, []string{"1"})
	if err != nil || len(res) != 1 || res[0].Code != "launchTemplateNameMalformed" {
		t.Fatalf("malformed name: %+v %v", res, err)
	}
	_, err = c.DeleteLaunchTemplateVersions(ctx, ltScope, ref, nil)
	wantCode(t, "no versions", err, "MissingParameter")
	_, err = c.DeleteLaunchTemplateVersions(ctx, ltScope, ref, make([]string, 201))
	wantCode(t, "over 200 versions", err, "InvalidParameterValue")
}

func TestDescribeAndDeleteLaunchTemplates(t *testing.T) {
	clock := cloudtest.NewClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	c := cloudtest.NewWithClock(t, clock)
	ctx := context.Background()
	web := createTemplate(t, c, "web")
	clock.Advance(time.Second)
	createTemplate(t, c, "database")
	if err := c.CreateTags(ctx, ltScope, []string{web.ID}, []cloud.Tag{{Key: "team", Value: "a"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter, value string
		want          int
	}{
		{"launch-template-name", "web", 1},
		{"launch-template-name", "*", 2},
		{"tag:team", "a", 1},
		{"tag-key", "team", 1},
		{"create-time", "2026-03-01T10:00:00.000Z", 1},
	} {
		list, _, err := c.DescribeLaunchTemplates(ctx, ltScope, nil, nil, filterOf(tc.filter, tc.value), cloud.Page{})
		if err != nil || len(list) != tc.want {
			t.Errorf("filter %s=%s: %d %v, want %d", tc.filter, tc.value, len(list), err, tc.want)
		}
	}
	list, _, err := c.DescribeLaunchTemplates(ctx, ltScope, nil, []string{"web"}, nil, cloud.Page{})
	if err != nil || len(list) != 1 || list[0].ID != web.ID || list[0].Tags["team"] != "a" {
		t.Fatalf("by name: %+v %v", list, err)
	}
	zero := int32(0)
	_, _, err = c.DescribeLaunchTemplates(ctx, ltScope, nil, nil, nil, cloud.Page{MaxResults: &zero})
	wantCode(t, "MaxResults 0", err, "InvalidParameterValue")
	addTemplateVersion(t, c, cloud.LaunchTemplateRef{ID: web.ID}, "ami-00000000000000002")
	if _, err := c.DeleteLaunchTemplate(ctx, ltScope, cloud.LaunchTemplateRef{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.DescribeLaunchTemplateVersions(ctx, ltScope, cloud.VersionQuery{Template: cloud.LaunchTemplateRef{ID: web.ID}}, nil, cloud.Page{})
	wantCode(t, "versions of a deleted template", err, "InvalidLaunchTemplateId.NotFound")
	// The name is free again.
	createTemplate(t, c, "web")
}
