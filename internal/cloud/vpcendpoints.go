package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// VPCEndpoint connects a VPC privately to an AWS service. A gateway endpoint is a
// route, in each of its route tables, from the service's AWS-managed prefix list
// to the endpoint; an interface endpoint is a requester-managed network interface
// in each of its subnets, answering for the service's DNS names.
type VPCEndpoint struct {
	ID             string   `json:"id"`
	OwnerID        string   `json:"ownerId"`
	VpcID          string   `json:"vpcId"`
	ServiceName    string   `json:"serviceName"`
	Type           string   `json:"type"`
	PolicyDocument string   `json:"policyDocument"`
	RouteTableIDs  []string `json:"routeTableIds,omitempty"`
	// Subnets (interface endpoints) are the endpoint's subnets, at most one per
	// zone, each with the interface the endpoint holds there, in the order added.
	Subnets []EndpointSubnet `json:"subnets,omitempty"`
	// Groups (interface endpoints) are the security groups of every interface.
	Groups []InterfaceGroup `json:"groups,omitempty"`
	// PrivateDNSEnabled (interface endpoints) makes the service's own name
	// resolve to the endpoint's interfaces inside the VPC.
	PrivateDNSEnabled bool `json:"privateDnsEnabled,omitempty"`
	// PrivateDNSOnlyForInboundResolver (interface endpoints of services that
	// also have gateway endpoints) leaves the VPC's own traffic to the gateway.
	PrivateDNSOnlyForInboundResolver bool `json:"privateDnsOnlyForInboundResolver,omitempty"`
	// DNSSuffix is the random part of the endpoint's DNS names (vpce-…-suffix).
	DNSSuffix string    `json:"dnsSuffix,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// State is always "available": gateway endpoints are ready at once.
func (e *VPCEndpoint) State() string { return "available" }

// defaultEndpointPolicy is the full-access policy AWS gives an endpoint created
// without one, in AWS's own form.
const defaultEndpointPolicy = `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`

var vpcEndpoints = docKind[VPCEndpoint]{
	kind:   KindVPCEndpoint,
	id:     func(e *VPCEndpoint) string { return e.ID },
	parent: func(e *VPCEndpoint) string { return e.VpcID },
	tags:   func(e *VPCEndpoint) *map[string]string { return &e.Tags },
}

// Quota names for VPC endpoints.
const QuotaGatewayEndpoints = "gateway-vpc-endpoints-per-region"

func init() {
	quotaDefs[QuotaGatewayEndpoints] = QuotaDef{
		Name:        QuotaGatewayEndpoints,
		Description: "Gateway VPC endpoints per Region",
		Default:     20,
		Code:        "VpcEndpointLimitExceeded",
		Message:     "The maximum number of gateway VPC endpoints has been reached (%d).",
	}
	routeTargets[KindVPCEndpoint] = func(tx store.Tx, s Scope, id string) (RouteTarget, error) {
		e, err := vpcEndpoints.get(tx, s, id)
		return RouteTarget{VpcIDs: []string{e.VpcID}, Active: true}, err
	}
	vpcDependents = append(vpcDependents, func(tx store.Tx, s Scope, vpcID string) (bool, error) {
		in, err := vpcEndpoints.children(tx, s, vpcID)
		return len(in) > 0, err
	})
}

// EndpointRequest is what CreateVpcEndpoint asks for.
type EndpointRequest struct {
	VpcID, ServiceName, Type, PolicyDocument string
	RouteTableIDs                            []string
	// The rest is for interface endpoints: SubnetIDs and SecurityGroupIDs;
	// SubnetIPs picks the address of the interface in a subnet (from
	// SubnetConfigurations, whose subnets are the endpoint's too); nil
	// PrivateDNSEnabled is AWS's default, true.
	SubnetIDs, SecurityGroupIDs []string
	SubnetIPs                   map[string]string
	IPAddressType               string
	DNS                         DNSOptions
	PrivateDNSEnabled           *bool
	Tags                        []Tag
	ClientToken                 string
}

// DNSOptions are an interface endpoint's DnsOptions as asked for.
type DNSOptions struct {
	// RecordIPType is "" (the default, ipv4) or one of AWS's values.
	RecordIPType                     string
	PrivateDNSOnlyForInboundResolver *bool
}

// interfaceOnly reports whether a request asks for what only interface
// endpoints have.
func (r *EndpointRequest) interfaceOnly() bool {
	return len(r.SubnetIDs)+len(r.SecurityGroupIDs)+len(r.SubnetIPs) > 0 || r.PrivateDNSEnabled != nil || r.DNS != (DNSOptions{})
}

// endpointBuilders set up an endpoint of each creatable type inside the creating
// transaction, once the endpoint is stored. Interface endpoints (which need
// network interfaces) plug in here.
var endpointBuilders = map[string]func(tx store.Tx, s Scope, e *VPCEndpoint, req EndpointRequest) error{
	EndpointGateway:   buildGatewayEndpoint,
	EndpointInterface: buildInterfaceEndpoint,
}

var endpointTypes = []string{EndpointGateway, EndpointInterface, "GatewayLoadBalancer", "Resource", "ServiceNetwork"}

func checkPolicy(doc string) error {
	if !json.Valid([]byte(doc)) {
		return errorf("InvalidParameterValue", "The endpoint policy document is not valid JSON.")
	}
	return nil
}

// CreateVpcEndpoint makes an endpoint of a VPC to a service.
func (c *Cloud) CreateVpcEndpoint(ctx context.Context, s Scope, req EndpointRequest) (VPCEndpoint, error) {
	if req.Type == "" {
		req.Type = EndpointGateway
	}
	if !slices.Contains(endpointTypes, req.Type) {
		return VPCEndpoint{}, errorf("InvalidParameterValue", "Value (%s) for parameter VpcEndpointType is invalid. Valid values are: %s", req.Type, strings.Join(endpointTypes, ", "))
	}
	build, ok := endpointBuilders[req.Type]
	if !ok {
		return VPCEndpoint{}, errorf("InvalidParameter", "strato does not support %s VPC endpoints yet; only Gateway and Interface endpoints of AWS services can be created.", req.Type)
	}
	if _, err := endpointService(s.Region, req.ServiceName, req.Type); err != nil {
		return VPCEndpoint{}, err
	}
	if err := checkAddressTypes(req.ServiceName, req.IPAddressType, req.DNS.RecordIPType); err != nil {
		return VPCEndpoint{}, err
	}
	if req.PolicyDocument == "" {
		req.PolicyDocument = defaultEndpointPolicy
	}
	if err := checkPolicy(req.PolicyDocument); err != nil {
		return VPCEndpoint{}, err
	}
	if err := ValidateTags(req.Tags); err != nil {
		return VPCEndpoint{}, err
	}
	e, err := Idempotent(ctx, c, s, "CreateVpcEndpoint", req.ClientToken, req, func(tx store.Tx) (VPCEndpoint, error) {
		if _, err := vpcs.get(tx, s, req.VpcID); err != nil {
			return VPCEndpoint{}, err
		}
		e := VPCEndpoint{
			ID: NewID("vpce"), OwnerID: s.Account, VpcID: req.VpcID, ServiceName: req.ServiceName, Type: req.Type,
			PolicyDocument: req.PolicyDocument, CreatedAt: c.clock.Now(),
		}
		if req.Type == EndpointInterface {
			e.DNSSuffix = newDNSSuffix()
		}
		if err := vpcEndpoints.insert(tx, s, &e, e.CreatedAt, req.Tags); err != nil {
			return VPCEndpoint{}, err
		}
		if err := build(tx, s, &e, req); err != nil {
			return VPCEndpoint{}, err
		}
		return e, vpcEndpoints.update(tx, s, &e)
	})
	e.Tags = tagMap(req.Tags)
	if err == nil {
		c.networkChanged(s, e.VpcID)
	}
	return e, err
}

// buildGatewayEndpoint routes the service's prefix list to the endpoint in each
// of its route tables.
func buildGatewayEndpoint(tx store.Tx, s Scope, e *VPCEndpoint, req EndpointRequest) error {
	if req.interfaceOnly() {
		return errorf("InvalidParameter", "Subnets, security groups, private DNS and DNS options are not supported for gateway endpoints.")
	}
	all, err := vpcEndpoints.load(tx, s, nil, nil)
	if err != nil {
		return err
	}
	gateways := slices.DeleteFunc(all, func(o VPCEndpoint) bool { return o.Type != EndpointGateway || o.ID == e.ID })
	if err := checkQuota(tx, s.Account, QuotaGatewayEndpoints, len(gateways)); err != nil {
		return err
	}
	return addEndpointRoutes(tx, s, e, req.RouteTableIDs)
}

// servicePrefixList is the AWS-managed prefix list of a gateway endpoint's service.
func servicePrefixList(region, serviceName string) string {
	for _, p := range awsManagedPrefixLists(region) {
		if p.Name == serviceName {
			return p.ID
		}
	}
	return ""
}

func addEndpointRoutes(tx store.Tx, s Scope, e *VPCEndpoint, tableIDs []string) error {
	for _, id := range tableIDs {
		t, err := routeTables.get(tx, s, id)
		if err != nil {
			return err
		}
		if t.VpcID != e.VpcID {
			return errorf("InvalidParameterValue", "route table %s and VPC endpoint %s belong to different networks", id, e.ID)
		}
		r := Route{DestinationPrefixListID: servicePrefixList(s.Region, e.ServiceName), Target: e.ID, Origin: OriginCreateRoute}
		if err := addRoute(tx, s, id, r); err != nil {
			return err
		}
		e.RouteTableIDs = append(e.RouteTableIDs, id)
	}
	return nil
}

// removeEndpointRoutes removes the endpoint's routes from tables (gone tables are
// skipped: their routes went with them).
func removeEndpointRoutes(tx store.Tx, s Scope, e *VPCEndpoint, tableIDs []string) error {
	for _, id := range tableIDs {
		err := removeRoutesTo(tx, s, id, e.ID)
		var gone *NotFoundError
		if err != nil && !errors.As(err, &gone) {
			return err
		}
		e.RouteTableIDs = slices.DeleteFunc(e.RouteTableIDs, func(t string) bool { return t == id })
	}
	return nil
}

// forgetRouteTable drops a deleted table from the gateway endpoints routing in it.
func forgetRouteTable(tx store.Tx, s Scope, t *RouteTable) error {
	for _, r := range t.Routes {
		if r.TargetKind() != KindVPCEndpoint {
			continue
		}
		e, err := vpcEndpoints.get(tx, s, r.Target)
		if err != nil {
			return err
		}
		e.RouteTableIDs = slices.DeleteFunc(e.RouteTableIDs, func(id string) bool { return id == t.ID })
		if err := vpcEndpoints.update(tx, s, &e); err != nil {
			return err
		}
	}
	return nil
}

// EndpointChange is what ModifyVpcEndpoint asks for.
type EndpointChange struct {
	ID                                    string
	AddRouteTableIDs, RemoveRouteTableIDs []string
	ResetPolicy                           bool
	PolicyDocument                        *string
	// The rest changes what only interface endpoints have.
	AddSubnetIDs, RemoveSubnetIDs []string
	AddGroupIDs, RemoveGroupIDs   []string
	// SubnetIPs picks the address of the interface in an added subnet.
	SubnetIPs         map[string]string
	PrivateDNSEnabled *bool
	IPAddressType     string
	DNS               DNSOptions
}

func (ch *EndpointChange) interfaceOnly() bool {
	return len(ch.AddSubnetIDs)+len(ch.RemoveSubnetIDs)+len(ch.AddGroupIDs)+len(ch.RemoveGroupIDs)+len(ch.SubnetIPs) > 0 ||
		ch.PrivateDNSEnabled != nil || ch.DNS != (DNSOptions{})
}

// ModifyVpcEndpoint changes an endpoint's route tables (gateway), subnets,
// security groups and DNS (interface) or policy.
func (c *Cloud) ModifyVpcEndpoint(ctx context.Context, s Scope, ch EndpointChange) error {
	if ch.ResetPolicy && ch.PolicyDocument != nil {
		return errorf("InvalidParameterCombination", "ResetPolicy and PolicyDocument cannot both be given.")
	}
	if ch.PolicyDocument != nil {
		if err := checkPolicy(*ch.PolicyDocument); err != nil {
			return err
		}
	}
	var vpcID string
	err := c.update(ctx, func(tx store.Tx) error {
		e, err := vpcEndpoints.get(tx, s, ch.ID)
		if err != nil {
			return err
		}
		vpcID = e.VpcID
		if err := checkAddressTypes(e.ServiceName, ch.IPAddressType, ch.DNS.RecordIPType); err != nil {
			return err
		}
		if ch.interfaceOnly() && e.Type == EndpointGateway {
			return errorf("InvalidParameter", "Subnets, security groups, private DNS and DNS options are not supported for gateway endpoints.")
		}
		if len(ch.AddRouteTableIDs)+len(ch.RemoveRouteTableIDs) > 0 && e.Type != EndpointGateway {
			return errorf("InvalidParameter", "Route tables are supported only for gateway endpoints.")
		}
		if e.Type == EndpointInterface {
			if err := c.modifyInterfaceEndpoint(tx, s, &e, ch); err != nil {
				return err
			}
		}
		for _, id := range ch.RemoveRouteTableIDs {
			if !slices.Contains(e.RouteTableIDs, id) {
				return errorf("InvalidParameter", "Route table %s is not associated with VPC endpoint %s.", id, e.ID)
			}
		}
		if err := removeEndpointRoutes(tx, s, &e, ch.RemoveRouteTableIDs); err != nil {
			return err
		}
		if err := addEndpointRoutes(tx, s, &e, ch.AddRouteTableIDs); err != nil {
			return err
		}
		switch {
		case ch.ResetPolicy:
			e.PolicyDocument = defaultEndpointPolicy
		case ch.PolicyDocument != nil:
			e.PolicyDocument = *ch.PolicyDocument
		}
		return vpcEndpoints.update(tx, s, &e)
	})
	if err == nil {
		c.networkChanged(s, vpcID)
	}
	return err
}

// EndpointDeletion is one endpoint DeleteVpcEndpoints could not delete.
type EndpointDeletion struct {
	ID  string
	Err error
}

// DeleteVpcEndpoints deletes endpoints with their routes or network interfaces;
// the ones that cannot be deleted are reported, and the others deleted, as on AWS.
func (c *Cloud) DeleteVpcEndpoints(ctx context.Context, s Scope, ids []string) ([]EndpointDeletion, error) {
	var failed []EndpointDeletion
	var vpcIDs []string
	err := c.update(ctx, func(tx store.Tx) error {
		failed, vpcIDs = nil, nil
		for _, id := range ids {
			e, err := vpcEndpoints.get(tx, s, id)
			var gone *NotFoundError
			if errors.As(err, &gone) {
				failed = append(failed, EndpointDeletion{ID: id, Err: err})
				continue
			}
			if err != nil {
				return err
			}
			if err := removeEndpointRoutes(tx, s, &e, slices.Clone(e.RouteTableIDs)); err != nil {
				return err
			}
			if err := removeEndpointSubnets(tx, s, &e, e.SubnetIDs()); err != nil {
				return err
			}
			if err := vpcEndpoints.remove(tx, s, id); err != nil {
				return err
			}
			vpcIDs = append(vpcIDs, e.VpcID)
		}
		return nil
	})
	if err == nil {
		c.networkChanged(s, vpcIDs...)
	}
	return failed, err
}

var vpcEndpointFields = filter.Fields[VPCEndpoint]{
	"ip-address-type":    func(e VPCEndpoint) []string { return []string{e.IPAddressType()} },
	"service-name":       func(e VPCEndpoint) []string { return []string{e.ServiceName} },
	"service-region":     func(e VPCEndpoint) []string { return []string{strings.Split(e.ServiceName, ".")[2]} },
	"vpc-id":             func(e VPCEndpoint) []string { return []string{e.VpcID} },
	"vpc-endpoint-id":    func(e VPCEndpoint) []string { return []string{e.ID} },
	"vpc-endpoint-state": func(e VPCEndpoint) []string { return []string{e.State()} },
	"vpc-endpoint-type":  func(e VPCEndpoint) []string { return []string{e.Type} },
}

// DescribeVpcEndpoints lists endpoints by ID (each must exist) or all, filtered
// and paginated (MaxResults 5..1000), ordered by ID.
func (c *Cloud) DescribeVpcEndpoints(ctx context.Context, s Scope, ids []string, filters []filter.Filter, page Page) ([]VPCEndpoint, string, error) {
	return describe(ctx, c, s, vpcEndpoints, "DescribeVpcEndpoints", vpcEndpointFields, ids, filters, page, 5, 1000)
}
