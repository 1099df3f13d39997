package cloud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// LaunchTemplateVersion is one numbered, immutable set of a template's
// launch parameters.
type LaunchTemplateVersion struct {
	TemplateID   string             `json:"templateId"`
	TemplateName string             `json:"templateName"`
	Number       int64              `json:"number"`
	Description  string             `json:"description,omitempty"`
	CreatedBy    string             `json:"createdBy"`
	CreateTime   time.Time          `json:"createTime"`
	Data         LaunchTemplateData `json:"data"`
	// Default says the version is its template's default; every read sets
	// it from the template (the stored value may be stale).
	Default bool `json:"default,omitempty"`
	// Versions carry no tags of their own (AWS tags the template only).
	tags map[string]string
}

// kindLaunchTemplateVersion is the store kind of versions, children of their template.
const kindLaunchTemplateVersion = "launch-template-version"

var launchTemplateVersions = docKind[LaunchTemplateVersion]{
	kind:   kindLaunchTemplateVersion,
	id:     func(v *LaunchTemplateVersion) string { return versionKey(v.TemplateID, v.Number) },
	parent: func(v *LaunchTemplateVersion) string { return v.TemplateID },
	tags:   func(v *LaunchTemplateVersion) *map[string]string { return &v.tags },
}

func versionKey(templateID string, n int64) string {
	return templateID + "/" + strconv.FormatInt(n, 10)
}

// Version aliases.
const (
	VersionLatest  = "$Latest"
	VersionDefault = "$Default"
)

// MaxVersionDescription is AWS's limit on VersionDescription.
const MaxVersionDescription = 255

func checkVersionDescription(d string) error {
	if utf8.RuneCountInString(d) > MaxVersionDescription {
		return errorf("InvalidParameterValue", "The version description must be at most %d characters long.", MaxVersionDescription)
	}
	return nil
}

func versionNotFound(version, templateID string) error {
	return errorf("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for launch template %s.", version, templateID)
}

// versionNumber turns a version as requests give it (a number, $Latest,
// $Default, or "" for the default) into a number.
func versionNumber(t *LaunchTemplate, version string) (int64, error) {
	switch version {
	case "", VersionDefault:
		return t.DefaultVersion, nil
	case VersionLatest:
		return t.LatestVersion, nil
	}
	n, err := strconv.ParseInt(version, 10, 64)
	if err != nil || n < 1 {
		return 0, versionNotFound(version, t.ID)
	}
	return n, nil
}

// resolveVersion reads the version of a template a request names.
func resolveVersion(tx store.Tx, s Scope, t *LaunchTemplate, version string) (LaunchTemplateVersion, error) {
	n, err := versionNumber(t, version)
	if err != nil {
		return LaunchTemplateVersion{}, err
	}
	v, err := launchTemplateVersions.get(tx, s, versionKey(t.ID, n))
	if isNotFound(err) {
		return v, versionNotFound(version, t.ID)
	}
	v.Default = n == t.DefaultVersion
	return v, err
}

// addVersion gives a template its next version (the first becomes the default).
func addVersion(tx store.Tx, s Scope, t *LaunchTemplate, description, createdBy string, data LaunchTemplateData, now time.Time) (LaunchTemplateVersion, error) {
	have, err := tx.ListChildren(s, kindLaunchTemplateVersion, t.ID)
	if err != nil {
		return LaunchTemplateVersion{}, err
	}
	if err := checkQuota(tx, s.Account, QuotaLaunchTemplateVersions, len(have)); err != nil {
		return LaunchTemplateVersion{}, err
	}
	t.LastNumber++
	t.LatestVersion = t.LastNumber
	if t.DefaultVersion == 0 {
		t.DefaultVersion = t.LastNumber
	}
	v := LaunchTemplateVersion{
		TemplateID: t.ID, TemplateName: t.Name, Number: t.LastNumber, Description: description,
		CreatedBy: createdBy, CreateTime: now, Data: data, Default: t.DefaultVersion == t.LastNumber,
	}
	if err := launchTemplateVersions.insert(tx, s, &v, now, nil); err != nil {
		return LaunchTemplateVersion{}, err
	}
	return v, launchTemplates.update(tx, s, t)
}

// LaunchTemplateVersionRequest is what CreateLaunchTemplateVersion asks for;
// the API layer has merged SourceVersion's data into Data already.
type LaunchTemplateVersionRequest struct {
	Template    LaunchTemplateRef
	Description string
	CreatedBy   string
	Data        LaunchTemplateData
}

// CreateLaunchTemplateVersion adds a version to a template (idempotent with a
// client token); it becomes the latest, not the default.
func (c *Cloud) CreateLaunchTemplateVersion(ctx context.Context, s Scope, token string, req LaunchTemplateVersionRequest) (LaunchTemplateVersion, error) {
	if err := checkVersionDescription(req.Description); err != nil {
		return LaunchTemplateVersion{}, err
	}
	return Idempotent(ctx, c, s, "CreateLaunchTemplateVersion", token, req, func(tx store.Tx) (LaunchTemplateVersion, error) {
		t, err := getLaunchTemplate(tx, s, req.Template)
		if err != nil {
			return LaunchTemplateVersion{}, err
		}
		return addVersion(tx, s, &t, req.Description, req.CreatedBy, req.Data, c.clock.Now())
	})
}

// GetLaunchTemplateVersion reads one version of a template (a number,
// $Latest, or $Default; "" is the default), as RunInstances and
// CreateLaunchTemplateVersion's SourceVersion name it.
func (c *Cloud) GetLaunchTemplateVersion(ctx context.Context, s Scope, ref LaunchTemplateRef, version string) (LaunchTemplateVersion, error) {
	var v LaunchTemplateVersion
	err := c.view(ctx, func(tx store.Tx) error {
		t, err := getLaunchTemplate(tx, s, ref)
		if err != nil {
			return err
		}
		v, err = resolveVersion(tx, s, &t, version)
		return err
	})
	return v, err
}

// VersionQuery selects the versions DescribeLaunchTemplateVersions lists: of
// one template (Versions, or MinVersion..MaxVersion, or all), or without a
// template the $Latest and/or $Default versions of every template.
type VersionQuery struct {
	Template               LaunchTemplateRef
	Versions               []string
	MinVersion, MaxVersion string
}

// launchTemplateDataFilters are the filters on a version's data; the API
// layer extracts their values into LaunchTemplateData.Fields.
var launchTemplateDataFilters = []string{
	"ebs-optimized", "http-endpoint", "http-protocol-ipv4", "host-resource-group-arn", "http-tokens",
	"iam-instance-profile", "image-id", "instance-type", "kernel-id", "license-configuration-arn",
	"network-card-index", "ram-disk-id",
}

var launchTemplateVersionFields = func() filter.Fields[LaunchTemplateVersion] {
	f := filter.Fields[LaunchTemplateVersion]{
		"create-time":        func(v LaunchTemplateVersion) []string { return one(v.CreateTime.UTC().Format(apiTime)) },
		"is-default-version": func(v LaunchTemplateVersion) []string { return []string{strconv.FormatBool(v.Default)} },
	}
	for _, name := range launchTemplateDataFilters {
		f[name] = func(v LaunchTemplateVersion) []string { return v.Data.Fields[name] }
	}
	return f
}()

// DescribeLaunchTemplateVersions lists versions, newest first within a
// template, filtered and paginated (MaxResults 1..200).
func (c *Cloud) DescribeLaunchTemplateVersions(ctx context.Context, s Scope, q VersionQuery, filters []filter.Filter, page Page) ([]LaunchTemplateVersion, string, error) {
	m, err := filter.Compile(filters, launchTemplateVersionFields, nil)
	if err != nil {
		return nil, "", err
	}
	all := q.Template == LaunchTemplateRef{}
	if all {
		if len(q.Versions) == 0 {
			return nil, "", errorf("MissingParameter", "The request must contain the parameter LaunchTemplateName or LaunchTemplateId")
		}
		for _, v := range q.Versions {
			if v != VersionLatest && v != VersionDefault {
				return nil, "", errorf("InvalidParameterValue", "Without a launch template ID or name, only the versions $Latest and $Default can be described, not '%s'.", v)
			}
		}
	}
	min, max, err := versionRange(q.MinVersion, q.MaxVersion)
	if err != nil {
		return nil, "", err
	}
	var out []LaunchTemplateVersion
	err = c.view(ctx, func(tx store.Tx) error {
		var templates []LaunchTemplate
		if all {
			var err error
			templates, err = launchTemplates.load(tx, s, nil, nil)
			if err != nil {
				return err
			}
		} else {
			t, err := getLaunchTemplate(tx, s, q.Template)
			if err != nil {
				return err
			}
			templates = []LaunchTemplate{t}
		}
		for i := range templates {
			vs, err := versionsOf(tx, s, &templates[i], q.Versions)
			if err != nil {
				return err
			}
			for _, v := range vs {
				if v.Number >= min && v.Number <= max {
					out = append(out, v)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	out = m.Filter(out)
	// Newest first within a template: the key counts down.
	key := func(v LaunchTemplateVersion) string {
		return fmt.Sprintf("%s/%019d", v.TemplateID, int64(1<<62)-v.Number)
	}
	sortByUniqueKey(out, key)
	return PageOf(c, s, "DescribeLaunchTemplateVersions", filters, page, 1, 200, out, key)
}

// versionRange parses MinVersion and MaxVersion (each optional).
func versionRange(minV, maxV string) (int64, int64, error) {
	min, max := int64(1), int64(1<<62)
	for _, b := range []struct {
		name, value string
		to          *int64
	}{{"MinVersion", minV, &min}, {"MaxVersion", maxV, &max}} {
		if b.value == "" {
			continue
		}
		n, err := strconv.ParseInt(b.value, 10, 64)
		if err != nil || n < 1 {
			return 0, 0, errorf("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Expected a version number.", b.value, b.name)
		}
		*b.to = n
	}
	return min, max, nil
}

// versionsOf reads the versions of a template the request names (each must
// exist), or all of them.
func versionsOf(tx store.Tx, s Scope, t *LaunchTemplate, names []string) ([]LaunchTemplateVersion, error) {
	if len(names) == 0 {
		vs, err := launchTemplateVersions.children(tx, s, t.ID)
		for i := range vs {
			vs[i].Default = vs[i].Number == t.DefaultVersion
		}
		return vs, err
	}
	var out []LaunchTemplateVersion
	for _, name := range names {
		v, err := resolveVersion(tx, s, t, name)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o LaunchTemplateVersion) bool { return o.Number == v.Number }) {
			out = append(out, v)
		}
	}
	return out, nil
}

// MaxVersionsPerDelete is how many versions DeleteLaunchTemplateVersions takes.
const MaxVersionsPerDelete = 200

// VersionDeletion is the outcome for one version of
// DeleteLaunchTemplateVersions: deleted when Code is "", else AWS's
// LaunchTemplateErrorCode and message. Number is 0 when the version given was
// not a number.
type VersionDeletion struct {
	TemplateID, TemplateName string
	Number                   int64
	Code, Message            string
}

// DeleteLaunchTemplateVersions deletes versions of a template, each on its
// own: a version that does not exist or is the default is reported, not
// deleted, and the others still go.
func (c *Cloud) DeleteLaunchTemplateVersions(ctx context.Context, s Scope, ref LaunchTemplateRef, versions []string) ([]VersionDeletion, error) {
	switch {
	case len(versions) == 0:
		return nil, errorf("MissingParameter", "The request must contain the parameter LaunchTemplateVersion")
	case len(versions) > MaxVersionsPerDelete:
		return nil, errorf("InvalidParameterValue", "You can delete up to %d launch template versions in a single request.", MaxVersionsPerDelete)
	case ref.ID != "" && ref.Name != "", ref.ID == "" && ref.Name == "":
		return nil, ref.check()
	}
	var out []VersionDeletion
	err := c.update(ctx, func(tx store.Tx) error {
		out = nil
		t, err := getLaunchTemplate(tx, s, ref)
		if code := templateErrorCode(ref, err); code != "" {
			for _, v := range versions {
				n, _ := strconv.ParseInt(v, 10, 64)
				out = append(out, VersionDeletion{TemplateID: ref.ID, TemplateName: ref.Name, Number: n, Code: code, Message: err.Error()})
			}
			return nil
		}
		if err != nil {
			return err
		}
		for _, v := range versions {
			d, err := deleteVersion(tx, s, &t, v)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return launchTemplates.update(tx, s, &t)
	})
	return out, err
}

// templateErrorCode is the LaunchTemplateErrorCode of a failed lookup, "" when
// the lookup worked or failed otherwise.
func templateErrorCode(ref LaunchTemplateRef, err error) string {
	if err == nil {
		return ""
	}
	var e interface{ Code() string }
	if !errors.As(err, &e) {
		return ""
	}
	switch e.Code() {
	case "InvalidLaunchTemplateId.Malformed":
		return "launchTemplateIdMalformed"
	case "InvalidLaunchTemplateName.MalformedException":
		return "launchTemplateNameMalformed"
	case "InvalidLaunchTemplateId.NotFound":
		return "launchTemplateIdDoesNotExist"
	case "InvalidLaunchTemplateName.NotFoundException":
		return "launchTemplateNameDoesNotExist"
	}
	return ""
}

// deleteVersion deletes one version of a template (whose latest version it
// updates) or says why not.
func deleteVersion(tx store.Tx, s Scope, t *LaunchTemplate, version string) (VersionDeletion, error) {
	d := VersionDeletion{TemplateID: t.ID, TemplateName: t.Name}
	n, err := strconv.ParseInt(version, 10, 64)
	if err != nil || n < 1 {
		d.Code, d.Message = "launchTemplateVersionDoesNotExist", fmt.Sprintf("The launch template version %s does not exist.", version)
		return d, nil
	}
	d.Number = n
	if n == t.DefaultVersion {
		d.Code, d.Message = "unexpectedError", "Cannot delete the default version of a launch template. Set another version as the default, or delete the launch template."
		return d, nil
	}
	err = launchTemplateVersions.remove(tx, s, versionKey(t.ID, n))
	if isNotFound(err) {
		d.Code, d.Message = "launchTemplateVersionDoesNotExist", fmt.Sprintf("The launch template version %d does not exist.", n)
		return d, nil
	}
	if err != nil {
		return d, err
	}
	if n == t.LatestVersion {
		rest, err := launchTemplateVersions.children(tx, s, t.ID)
		if err != nil {
			return d, err
		}
		t.LatestVersion = t.DefaultVersion
		for _, v := range rest {
			t.LatestVersion = max(t.LatestVersion, v.Number)
		}
	}
	return d, nil
}
