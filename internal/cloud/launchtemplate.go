package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// LaunchTemplate is a named, versioned set of launch parameters. Its versions
// are their own documents (launchtemplate_versions.go), immutable once made.
type LaunchTemplate struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	CreatedBy      string    `json:"createdBy"`
	CreateTime     time.Time `json:"createTime"`
	DefaultVersion int64     `json:"defaultVersion"`
	LatestVersion  int64     `json:"latestVersion"`
	// LastNumber is the highest version number ever given: numbers are not
	// reused after versions are deleted.
	LastNumber int64 `json:"lastNumber"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// LaunchTemplateData is a version's launch parameters. The control plane keeps
// them as the API layer encodes them (Doc) and filters versions on the values
// the API layer extracted for each filter name (Fields): what a parameter
// means is the API's business until RunInstances applies it.
type LaunchTemplateData struct {
	Doc    json.RawMessage     `json:"doc"`
	Fields map[string][]string `json:"fields,omitempty"`
}

var launchTemplates = docKind[LaunchTemplate]{
	kind: KindLaunchTemplate,
	id:   func(t *LaunchTemplate) string { return t.ID },
	// Names are unique per account and Region.
	name: func(t *LaunchTemplate) string { return t.Name },
	tags: func(t *LaunchTemplate) *map[string]string { return &t.Tags },
}

// Quota names for launch templates.
const (
	QuotaLaunchTemplates        = "launch-templates-per-region"
	QuotaLaunchTemplateVersions = "versions-per-launch-template"
)

func init() {
	quotaDefs[QuotaLaunchTemplates] = QuotaDef{
		Name:        QuotaLaunchTemplates,
		Description: "Launch templates per Region",
		Default:     5000,
		Code:        "LaunchTemplateLimitExceeded",
		Message:     "You have reached the maximum number of launch templates (%d) in this Region.",
	}
	quotaDefs[QuotaLaunchTemplateVersions] = QuotaDef{
		Name:        QuotaLaunchTemplateVersions,
		Description: "Versions per launch template",
		Default:     10000,
		Code:        "LaunchTemplateVersionLimitExceeded",
		Message:     "You have reached the maximum number of versions (%d) for this launch template.",
	}
}

// launchTemplateName is AWS's rule for names: 3 to 128 of these characters.
var launchTemplateName = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)

func checkLaunchTemplateName(name string) error {
	if name == "" {
		return errorf("MissingParameter", "The request must contain the parameter LaunchTemplateName")
	}
	if !launchTemplateName.MatchString(name) {
		return errorf("InvalidLaunchTemplateName.MalformedException", "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.")
	}
	return nil
}

// LaunchTemplateRef names a launch template by ID or by name (one of them).
type LaunchTemplateRef struct{ ID, Name string }

// check refuses a reference with both or neither, or a malformed one.
func (r LaunchTemplateRef) check() error {
	switch {
	case r.ID != "" && r.Name != "":
		return errorf("InvalidParameterCombination", "Specify either the launch template ID or the launch template name in the request, but not both.")
	case r.ID == "" && r.Name == "":
		return errorf("MissingParameter", "The request must contain the parameter LaunchTemplateName or LaunchTemplateId")
	case r.ID != "" && !ValidID("lt", r.ID):
		return errorf("InvalidLaunchTemplateId.Malformed", "The specified launch template ID '%s' is malformed.", r.ID)
	case r.Name != "" && !launchTemplateName.MatchString(r.Name):
		return errorf("InvalidLaunchTemplateName.MalformedException", "The specified launch template name '%s' is malformed.", r.Name)
	}
	return nil
}

// getLaunchTemplate reads the template a reference names, with AWS's codes
// when there is none.
func getLaunchTemplate(tx store.Tx, s Scope, r LaunchTemplateRef) (LaunchTemplate, error) {
	if err := r.check(); err != nil {
		return LaunchTemplate{}, err
	}
	if r.ID != "" {
		t, err := launchTemplates.get(tx, s, r.ID)
		if isNotFound(err) {
			return t, errorf("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", r.ID)
		}
		return t, err
	}
	t, err := launchTemplates.getByName(tx, s, r.Name)
	if isNotFound(err) {
		return t, errorf("InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", r.Name)
	}
	return t, err
}

// LaunchTemplateRequest is what CreateLaunchTemplate asks for.
type LaunchTemplateRequest struct {
	Name        string
	Description string // of version 1
	// CreatedBy is the ARN of the caller.
	CreatedBy string
	Data      LaunchTemplateData
	Tags      []Tag
}

// CreateLaunchTemplate makes a template whose version 1, its default and
// latest, holds the data given (idempotent with a client token).
func (c *Cloud) CreateLaunchTemplate(ctx context.Context, s Scope, token string, req LaunchTemplateRequest) (LaunchTemplate, error) {
	if err := checkLaunchTemplateName(req.Name); err != nil {
		return LaunchTemplate{}, err
	}
	if err := checkVersionDescription(req.Description); err != nil {
		return LaunchTemplate{}, err
	}
	if err := ValidateTags(req.Tags); err != nil {
		return LaunchTemplate{}, err
	}
	return Idempotent(ctx, c, s, "CreateLaunchTemplate", token, req, func(tx store.Tx) (LaunchTemplate, error) {
		if err := checkCount(tx, s, KindLaunchTemplate, QuotaLaunchTemplates); err != nil {
			return LaunchTemplate{}, err
		}
		now := c.clock.Now()
		t := LaunchTemplate{ID: NewID("lt"), Name: req.Name, CreatedBy: req.CreatedBy, CreateTime: now}
		err := launchTemplates.insert(tx, s, &t, now, req.Tags)
		var dup *DuplicateError
		if errors.As(err, &dup) {
			return LaunchTemplate{}, errorf("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
		}
		if err != nil {
			return LaunchTemplate{}, err
		}
		if _, err := addVersion(tx, s, &t, req.Description, req.CreatedBy, req.Data, now); err != nil {
			return LaunchTemplate{}, err
		}
		t.Tags = tagMap(req.Tags)
		return t, nil
	})
}

var launchTemplateFields = filter.Fields[LaunchTemplate]{
	"create-time":          func(t LaunchTemplate) []string { return one(t.CreateTime.UTC().Format(apiTime)) },
	"launch-template-name": func(t LaunchTemplate) []string { return one(t.Name) },
}

// DescribeLaunchTemplates lists the scope's launch templates (those named by
// ID or name, each must exist, or all), filtered and paginated (MaxResults
// 1..200).
func (c *Cloud) DescribeLaunchTemplates(ctx context.Context, s Scope, ids, names []string, filters []filter.Filter, page Page) ([]LaunchTemplate, string, error) {
	for _, id := range ids {
		if err := (LaunchTemplateRef{ID: id}).check(); err != nil {
			return nil, "", err
		}
	}
	m, err := filter.Compile(filters, launchTemplateFields, func(t LaunchTemplate) map[string]string { return t.Tags })
	if err != nil {
		return nil, "", err
	}
	var list []LaunchTemplate
	err = c.view(ctx, func(tx store.Tx) error {
		var err error
		list, err = launchTemplates.load(tx, s, ids, names)
		return err
	})
	var nf *NotFoundError
	switch {
	case errors.As(err, &nf) && nf.ByName:
		return nil, "", errorf("InvalidLaunchTemplateName.NotFoundException", "At least one of the launch templates specified in the request does not exist.")
	case errors.As(err, &nf):
		return nil, "", errorf("InvalidLaunchTemplateId.NotFound", "At least one of the launch templates specified in the request does not exist.")
	case err != nil:
		return nil, "", err
	}
	out := m.Filter(list)
	id := func(t LaunchTemplate) string { return t.ID }
	sortByUniqueKey(out, id)
	return PageOf(c, s, "DescribeLaunchTemplates", filters, page, 1, 200, out, id)
}

// ModifyLaunchTemplate makes an existing version the template's default
// (version "" changes nothing).
func (c *Cloud) ModifyLaunchTemplate(ctx context.Context, s Scope, ref LaunchTemplateRef, version string) (LaunchTemplate, error) {
	var t LaunchTemplate
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		if t, err = getLaunchTemplate(tx, s, ref); err != nil || version == "" {
			return err
		}
		v, err := resolveVersion(tx, s, &t, version)
		if err != nil {
			return err
		}
		t.DefaultVersion = v.Number
		return launchTemplates.update(tx, s, &t)
	})
	return t, err
}

// DeleteLaunchTemplate deletes a template with all its versions (instances
// launched from it are not affected).
func (c *Cloud) DeleteLaunchTemplate(ctx context.Context, s Scope, ref LaunchTemplateRef) (LaunchTemplate, error) {
	var t LaunchTemplate
	err := c.update(ctx, func(tx store.Tx) error {
		var err error
		if t, err = getLaunchTemplate(tx, s, ref); err != nil {
			return err
		}
		versions, err := launchTemplateVersions.children(tx, s, t.ID)
		if err != nil {
			return err
		}
		for _, v := range versions {
			if err := launchTemplateVersions.remove(tx, s, versionKey(v.TemplateID, v.Number)); err != nil {
				return err
			}
		}
		return launchTemplates.remove(tx, s, t.ID)
	})
	return t, err
}
