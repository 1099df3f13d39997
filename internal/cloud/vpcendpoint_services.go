package cloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"strato/internal/catalog"
	"strato/internal/cloud/filter"
)

// Endpoint types.
const (
	EndpointGateway   = "Gateway"
	EndpointInterface = "Interface"
)

// EndpointService is an AWS service that VPC endpoints can reach, as
// DescribeVpcEndpointServices lists it: one entry per service and endpoint type
// (S3 is reachable through both a gateway and an interface endpoint).
type EndpointService struct {
	Name, ID, Type, Region string
	Zones                  []string
	BaseDNSNames           []string
	// PrivateDNSName is the service's own name, which an interface endpoint with
	// private DNS answers for; empty for gateway services.
	PrivateDNSName string
}

// endpointServices are the services strato lists: S3 and DynamoDB through gateway
// endpoints, and a few common services through interface endpoints.
var endpointServices = []struct{ service, typ string }{
	{"dynamodb", EndpointGateway},
	{"ec2", EndpointInterface},
	{"kms", EndpointInterface},
	{"logs", EndpointInterface},
	{"monitoring", EndpointInterface},
	{"s3", EndpointGateway},
	{"s3", EndpointInterface},
	{"secretsmanager", EndpointInterface},
	{"ssm", EndpointInterface},
	{"sts", EndpointInterface},
}

// endpointServicesIn lists the services of a Region, ordered by name then type.
func endpointServicesIn(region string) []EndpointService {
	r, _ := catalog.LookupRegion(region)
	var zones []string
	for _, z := range r.Zones {
		zones = append(zones, z.ZoneName)
	}
	out := make([]EndpointService, 0, len(endpointServices))
	for _, e := range endpointServices {
		name := "com.amazonaws." + region + "." + e.service
		sum := sha256.Sum256([]byte(name + "/" + e.typ))
		svc := EndpointService{Name: name, ID: "vpce-svc-" + hex.EncodeToString(sum[:9])[:17], Type: e.typ, Region: region, Zones: zones}
		if e.typ == EndpointGateway {
			svc.BaseDNSNames = []string{e.service + "." + region + ".amazonaws.com"}
		} else {
			svc.BaseDNSNames = []string{e.service + "." + region + ".vpce.amazonaws.com"}
			svc.PrivateDNSName = e.service + "." + region + ".amazonaws.com"
		}
		out = append(out, svc)
	}
	return out
}

// endpointService finds a service of the Region reachable through an endpoint of
// the type; an unknown name, or one without that type, is InvalidServiceName.
func endpointService(region, name, typ string) (EndpointService, error) {
	for _, svc := range endpointServicesIn(region) {
		if svc.Name == name && svc.Type == typ {
			return svc, nil
		}
	}
	return EndpointService{}, errorf("InvalidServiceName", "The Vpc Endpoint Service '%s' does not exist", name)
}

var endpointServiceFields = filter.Fields[EndpointService]{
	"owner":                      func(EndpointService) []string { return []string{"amazon"} },
	"service-name":               func(e EndpointService) []string { return []string{e.Name} },
	"service-region":             func(e EndpointService) []string { return []string{e.Region} },
	"service-type":               func(e EndpointService) []string { return []string{e.Type} },
	"supported-ip-address-types": func(EndpointService) []string { return []string{"ipv4"} },
}

// DescribeVpcEndpointServices lists the services endpoints can reach, by name
// (each must exist) or all, filtered and paginated (MaxResults 5..1000).
func (c *Cloud) DescribeVpcEndpointServices(ctx context.Context, s Scope, names []string, filters []filter.Filter, page Page) ([]EndpointService, string, error) {
	m, err := filter.Compile(filters, endpointServiceFields, func(EndpointService) map[string]string { return nil })
	if err != nil {
		return nil, "", err
	}
	all := endpointServicesIn(s.Region)
	for _, name := range names {
		if !slices.ContainsFunc(all, func(e EndpointService) bool { return e.Name == name }) {
			return nil, "", errorf("InvalidServiceName", "The Vpc Endpoint Service '%s' does not exist", name)
		}
	}
	var list []EndpointService
	for _, svc := range all {
		if len(names) == 0 || slices.Contains(names, svc.Name) {
			list = append(list, svc)
		}
	}
	return PageOf(c, s, "DescribeVpcEndpointServices", filters, page, 5, 1000, m.Filter(list), func(e EndpointService) string { return e.Name + "/" + e.Type })
}
