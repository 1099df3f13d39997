package ec2

import (
	"errors"

	"strato/internal/awsapi"
	"strato/internal/cloud"
)

// notFoundCodes gives, per resource type, the code and message AWS answers when a
// named resource does not exist. Each resource issue adds its kinds.
var notFoundCodes = map[string]struct{ code, byID, byName string }{
	cloud.KindKeyPair:                   {"InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", "The key pair '%s' does not exist"},
	cloud.KindInstance:                  {"InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", ""},
	cloud.KindVolume:                    {"InvalidVolume.NotFound", "The volume '%s' does not exist.", ""},
	cloud.KindSnapshot:                  {"InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", ""},
	cloud.KindImage:                     {"InvalidAMIID.NotFound", "The image id '[%s]' does not exist", ""},
	cloud.KindVPC:                       {"InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", ""},
	cloud.KindSubnet:                    {"InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", ""},
	cloud.KindSecurityGroup:             {"InvalidGroup.NotFound", "The security group '%s' does not exist", ""},
	cloud.KindInternetGateway:           {"InvalidInternetGatewayID.NotFound", "The internetGateway ID '%s' does not exist", ""},
	cloud.KindEgressOnlyInternetGateway: {"InvalidEgressOnlyInternetGatewayId.NotFound", "The egress-only internet gateway ID '%s' does not exist", ""},
	cloud.KindRouteTable:                {"InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", ""},
	cloud.KindNetworkACL:                {"InvalidNetworkAclID.NotFound", "The networkAcl ID '%s' does not exist", ""},
	cloud.KindNetworkInterface:          {"InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", ""},
	cloud.KindElasticIP:                 {"InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist", ""},
	cloud.KindNATGateway:                {"NatGatewayNotFound", "The Nat Gateway %s was not found", ""},
	cloud.KindVPCPeeringConnection:      {"InvalidVpcPeeringConnectionID.NotFound", "The vpcPeeringConnection ID '%s' does not exist", ""},
	cloud.KindDHCPOptions:               {"InvalidDhcpOptionID.NotFound", "The dhcpOption ID '%s' does not exist", ""},
	cloud.KindVPCEndpoint:               {"InvalidVpcEndpointId.NotFound", "The Vpc Endpoint Id '%s' does not exist", ""},
	cloud.KindSecurityGroupRule:         {"InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", ""},
	cloud.KindSubnetCIDRReservation:     {"InvalidSubnetCidrReservationID.NotFound", "The subnet CIDR reservation ID '%s' does not exist", ""},
	cloud.KindPrefixList:                {"InvalidPrefixListID.NotFound", "The prefix list ID '%s' does not exist", ""},
	"launch-template":                   {"InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", ""},
	"customer-gateway":                  {"InvalidCustomerGatewayID.NotFound", "The customerGateway ID '%s' does not exist", ""},
	"vpn-gateway":                       {"InvalidVpnGatewayID.NotFound", "The vpnGateway ID '%s' does not exist", ""},
	"vpn-connection":                    {"InvalidVpnConnectionID.NotFound", "The vpnConnection ID '%s' does not exist", ""},
	"spot-instances-request":            {"InvalidSpotInstanceRequestID.NotFound", "The spot instance request ID '%s' does not exist", ""},
	"transit-gateway":                   {"InvalidTransitGatewayID.NotFound", "The transitGateway ID '%s' does not exist", ""},
}

// duplicateCodes gives the code and message for a unique name that is taken.
var duplicateCodes = map[string]struct{ code, msg string }{
	cloud.KindKeyPair:       {"InvalidKeyPair.Duplicate", "The keypair '%s' already exists."},
	cloud.KindSecurityGroup: {"InvalidGroup.Duplicate", "The security group '%s' already exists."},
}

// toAPIError maps control-plane errors to AWS codes. Errors that already carry a code
// pass through; anything else is an internal error.
func toAPIError(err error) error {
	var nf *cloud.NotFoundError
	if errors.As(err, &nf) {
		if c, ok := notFoundCodes[nf.Kind]; ok {
			msg := c.byID
			if nf.ByName {
				msg = c.byName
			}
			return awsapi.Errorf(c.code, msg, nf.ID)
		}
		return awsapi.Errorf("InvalidID", "The ID '%s' does not exist", nf.ID)
	}
	var dup *cloud.DuplicateError
	if errors.As(err, &dup) {
		if c, ok := duplicateCodes[dup.Kind]; ok {
			return awsapi.Errorf(c.code, c.msg, dup.Name)
		}
		return awsapi.Errorf("InvalidParameterValue", "%s", dup.Error())
	}
	return err
}

func invalidValue(format string, args ...any) error {
	return awsapi.Errorf("InvalidParameterValue", format, args...)
}

func missing(param string) error {
	return awsapi.Errorf("MissingParameter", "The request must contain the parameter %s", param)
}
