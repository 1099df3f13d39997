package ec2

import (
	"regexp"
	"testing"
)

func TestSubnetCidrReservations(t *testing.T) {
	d := newService(t)
	vpc := createVPC(t, d, "10.0.0.0/16")
	subnet := createSubnet(t, d, vpc, "10.0.1.0/24")
	body, err := callEC2(t, d, "CreateSubnetCidrReservation", "SubnetId", subnet, "Cidr", "10.0.1.0/26", "ReservationType", "explicit",
		"Description", "appliances", "TagSpecification.1.ResourceType", "subnet-cidr-reservation", "TagSpecification.1.Tag.1.Key", "k", "TagSpecification.1.Tag.1.Value", "v")
	if err != nil {
		t.Fatal(err)
	}
	explicit := regexp.MustCompile(`<subnetCidrReservationId>(scr-[0-9a-f]{17})</subnetCidrReservationId>`).FindStringSubmatch(body)[1]
	runCases(t, d, []apiCase{
		{"prefix reservation", "CreateSubnetCidrReservation", []string{"SubnetId", subnet, "Cidr", "10.0.1.128/27", "ReservationType", "prefix"}, "", "<reservationType>prefix</reservationType>"},
		{"overlapping", "CreateSubnetCidrReservation", []string{"SubnetId", subnet, "Cidr", "10.0.1.32/28", "ReservationType", "prefix"}, "InvalidParameterValue", ""},
		{"outside the subnet", "CreateSubnetCidrReservation", []string{"SubnetId", subnet, "Cidr", "10.0.2.0/28", "ReservationType", "explicit"}, "InvalidParameterValue", ""},
		{"unknown type", "CreateSubnetCidrReservation", []string{"SubnetId", subnet, "Cidr", "10.0.1.224/28", "ReservationType", "other"}, "InvalidParameterValue", ""},
		{"missing subnet", "CreateSubnetCidrReservation", []string{"SubnetId", "subnet-0123456789abcdef0", "Cidr", "10.0.1.224/28", "ReservationType", "prefix"}, "InvalidSubnetID.NotFound", ""},
		// Automatic addresses skip the explicit reservation (10.0.1.0-63).
		{"automatic address", "CreateNetworkInterface", []string{"SubnetId", subnet}, "", "<privateIpAddress>10.0.1.64</privateIpAddress>"},
		// Named addresses may come from it.
		{"named address", "CreateNetworkInterface", []string{"SubnetId", subnet, "PrivateIpAddress", "10.0.1.10"}, "", "<privateIpAddress>10.0.1.10</privateIpAddress>"},
		// Prefixes by count come from the prefix reservation first.
		{"automatic prefix", "CreateNetworkInterface", []string{"SubnetId", subnet, "Ipv4PrefixCount", "1"}, "", "<ipv4Prefix>10.0.1.128/28</ipv4Prefix>"},
		{"list", "GetSubnetCidrReservations", []string{"SubnetId", subnet}, "", "<cidr>10.0.1.128/27</cidr>"},
		{"by type", "GetSubnetCidrReservations", []string{"SubnetId", subnet, "Filter.1.Name", "reservationType", "Filter.1.Value.1", "explicit"}, "", explicit},
		{"by tag", "GetSubnetCidrReservations", []string{"SubnetId", subnet, "Filter.1.Name", "tag:k", "Filter.1.Value.1", "v"}, "", "<description>appliances</description>"},
		{"delete", "DeleteSubnetCidrReservation", []string{"SubnetCidrReservationId", explicit}, "", "<cidr>10.0.1.0/26</cidr>"},
		{"delete again", "DeleteSubnetCidrReservation", []string{"SubnetCidrReservationId", explicit}, "InvalidSubnetCidrReservationID.NotFound", ""},
		{"released range is automatic again", "CreateNetworkInterface", []string{"SubnetId", subnet}, "", "<privateIpAddress>10.0.1.4</privateIpAddress>"},
	})
	body, _ = callEC2(t, d, "GetSubnetCidrReservations", "SubnetId", subnet, "Filter.1.Name", "reservationType", "Filter.1.Value.1", "explicit")
	if regexp.MustCompile(`scr-`).MatchString(body) {
		t.Fatalf("deleted reservation still listed: %s", body)
	}
}
