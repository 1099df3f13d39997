package ipam

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"strato/internal/awserr"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

// code returns the AWS error code of err, "" for nil.
func code(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ae *awserr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *awserr.Error", err)
	}
	return ae.Code()
}

func TestParseVPCCIDR(t *testing.T) {
	tests := []struct {
		in, want, code, msg string
	}{
		{in: "10.0.0.0/15", code: "InvalidVpc.Range", msg: "The CIDR '10.0.0.0/15' is invalid."},
		{in: "10.0.0.0/16", want: "10.0.0.0/16"},
		{in: "10.0.0.0/28", want: "10.0.0.0/28"},
		{in: "10.0.0.0/29", code: "InvalidVpc.Range", msg: "The CIDR '10.0.0.0/29' is invalid."},
		// Host bits: AWS stores the canonical form (100.68.0.18/18 -> 100.68.0.0/18).
		{in: "100.68.0.18/18", want: "100.68.0.0/18"},
		{in: "10.0.0.1/16", want: "10.0.0.0/16"},
		{in: "1000.1.0.0/20", code: "InvalidParameterValue",
			msg: "Value (1000.1.0.0/20) for parameter cidrBlock is invalid. This is not a valid CIDR block."},
		{in: "10.0.0.0", code: "InvalidParameterValue"},
		{in: "2001:db8::/56", code: "InvalidParameterValue"},
		{in: "::ffff:10.0.0.0/112", code: "InvalidParameterValue"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVPCCIDR(tt.in)
			if c := code(t, err); c != tt.code {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.code)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message = %q, want %q", err.Error(), tt.msg)
			}
			if tt.want != "" && got != pfx(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckSecondaryVPCCIDR(t *testing.T) {
	tests := []struct {
		name     string
		primary  string
		existing []string
		add      string
		code     string
	}{
		{"10/8 other 10 block", "10.2.0.0/16", nil, "10.3.0.0/16", ""},
		{"10/8 no 172.16/12", "10.2.0.0/16", nil, "172.20.0.0/16", "InvalidVpc.Range"},
		{"10/8 no 192.168/16", "10.2.0.0/16", nil, "192.168.0.0/16", "InvalidVpc.Range"},
		{"10/8 no 198.19/16", "10.2.0.0/16", nil, "198.19.0.0/16", "InvalidVpc.Range"},
		{"10/8 public ok", "10.2.0.0/16", nil, "203.0.113.0/24", ""},
		{"10/8 100.64/10 ok", "10.2.0.0/16", nil, "100.64.0.0/16", ""},
		{"10/8 198.18/16 (not 198.19) ok", "10.2.0.0/16", nil, "198.18.0.0/16", ""},
		{"10.0/15 block forbids 10.0/16", "10.1.0.0/16", nil, "10.0.0.0/16", "InvalidVpc.Range"},
		{"10.0/15 secondary forbids 10.0/16", "10.2.0.0/16", []string{"10.1.0.0/24"}, "10.0.128.0/24", "InvalidVpc.Range"},
		{"10.0/16 fine without 10.0/15 block", "10.2.0.0/16", nil, "10.0.0.0/16", ""},
		{"10.1/16 fine with 10.0/15 block", "10.0.0.0/16", nil, "10.1.0.0/16", ""},
		{"link local never", "10.2.0.0/16", nil, "169.254.0.0/16", "InvalidVpc.Range"},
		{"link local never from public", "203.0.0.0/16", nil, "169.254.10.0/24", "InvalidVpc.Range"},
		{"172.16/12 other 172 ok", "172.20.0.0/16", nil, "172.21.0.0/16", ""},
		{"172.16/12 no 172.31/16", "172.20.0.0/16", nil, "172.31.0.0/16", "InvalidVpc.Range"},
		{"172.16/12 no 10/8", "172.20.0.0/16", nil, "10.0.0.0/16", "InvalidVpc.Range"},
		{"172.16/12 no 192.168", "172.20.0.0/16", nil, "192.168.0.0/16", "InvalidVpc.Range"},
		{"172.16/12 no 198.19", "172.20.0.0/16", nil, "198.19.0.0/24", "InvalidVpc.Range"},
		{"172.16/12 public ok", "172.20.0.0/16", nil, "100.64.0.0/16", ""},
		{"192.168 other 192.168 ok", "192.168.0.0/20", nil, "192.168.16.0/20", ""},
		{"192.168 no 10/8", "192.168.0.0/16", nil, "10.0.0.0/16", "InvalidVpc.Range"},
		{"192.168 no 172.16/12", "192.168.0.0/16", nil, "172.16.0.0/16", "InvalidVpc.Range"},
		{"192.168 no 198.19", "192.168.0.0/16", nil, "198.19.0.0/16", "InvalidVpc.Range"},
		{"192.168 public ok", "192.168.0.0/16", nil, "100.64.0.0/16", ""},
		{"198.19 no RFC 1918", "198.19.0.0/16", nil, "10.0.0.0/16", "InvalidVpc.Range"},
		{"198.19 public ok", "198.19.0.0/20", nil, "100.64.0.0/16", ""},
		{"public no RFC 1918", "100.64.0.0/16", nil, "192.168.0.0/16", "InvalidVpc.Range"},
		{"public no 198.19", "100.64.0.0/16", nil, "198.19.0.0/16", "InvalidVpc.Range"},
		{"public other public ok", "100.64.0.0/16", nil, "100.65.0.0/16", ""},
		{"overlap primary", "10.0.0.0/16", nil, "10.0.1.0/24", "InvalidVpc.Range"},
		{"overlap existing", "10.2.0.0/16", []string{"10.3.0.0/16"}, "10.3.4.0/24", "InvalidVpc.Range"},
		{"size /15", "10.2.0.0/16", nil, "10.4.0.0/15", "InvalidVpc.Range"},
		{"size /29", "10.2.0.0/16", nil, "10.4.0.0/29", "InvalidVpc.Range"},
		{"size /28 ok", "10.2.0.0/16", nil, "10.4.0.0/28", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var existing []netip.Prefix
			for _, e := range tt.existing {
				existing = append(existing, pfx(e))
			}
			err := CheckSecondaryVPCCIDR(pfx(tt.primary), existing, pfx(tt.add))
			if c := code(t, err); c != tt.code {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.code)
			}
		})
	}
}

func TestCheckSecondaryRestrictedMessage(t *testing.T) {
	err := CheckSecondaryVPCCIDR(pfx("192.168.0.0/16"), nil, pfx("10.0.0.0/16"))
	want := "The CIDR '10.0.0.0/16' is restricted. Use a CIDR from the same private address range as the current VPC CIDR, " +
		"or use a publicly-routable CIDR. For additional restrictions, see https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html"
	if err == nil || err.Error() != want {
		t.Fatalf("InvalidVpc.Range message = %v, want %q", err, want)
	}
}

func TestCheckVPCCIDRCount(t *testing.T) {
	if err := CheckVPCCIDRCount("vpc-1", 4, DefaultVPCCIDRLimit); err != nil {
		t.Fatalf("4 of 5: %v", err)
	}
	err := CheckVPCCIDRCount("vpc-1", 5, DefaultVPCCIDRLimit)
	if c := code(t, err); c != "CidrLimitExceeded" {
		t.Fatalf("code = %q, want CidrLimitExceeded", c)
	}
	if want := "This network 'vpc-1' has met its maximum number of allowed CIDRs: 5"; err.Error() != want {
		t.Errorf("message = %q, want %q", err.Error(), want)
	}
}

func TestParseSubnetCIDR(t *testing.T) {
	vpc := []netip.Prefix{pfx("10.0.0.0/16"), pfx("10.1.0.0/16")}
	siblings := []netip.Prefix{pfx("10.0.1.0/24")}
	tests := []struct {
		in, want, code, msg string
	}{
		{in: "10.0.2.0/24", want: "10.0.2.0/24"},
		{in: "10.0.0.0/16", code: "InvalidSubnet.Conflict"},
		{in: "10.1.0.0/16", want: "10.1.0.0/16"},
		{in: "10.1.5.0/28", want: "10.1.5.0/28"},
		{in: "10.0.2.7/24", want: "10.0.2.0/24"},
		{in: "10.0.1.128/25", code: "InvalidSubnet.Conflict", msg: "The CIDR '10.0.1.128/25' conflicts with another subnet"},
		{in: "10.0.0.0/23", code: "InvalidSubnet.Conflict"},
		{in: "10.2.0.0/24", code: "InvalidSubnet.Range", msg: "The CIDR '10.2.0.0/24' is invalid."},
		{in: "10.0.0.0/15", code: "InvalidSubnet.Range"}, // spans both blocks; also too big
		{in: "10.0.2.0/29", code: "InvalidSubnet.Range"},
		{in: "bogus", code: "InvalidParameterValue"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSubnetCIDR(tt.in, vpc, siblings)
			if c := code(t, err); c != tt.code {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.code)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message = %q, want %q", err.Error(), tt.msg)
			}
			if tt.want != "" && got != pfx(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReserved(t *testing.T) {
	got := Reserved(pfx("10.0.1.0/24"))
	want := []netip.Addr{ip("10.0.1.0"), ip("10.0.1.1"), ip("10.0.1.2"), ip("10.0.1.3"), ip("10.0.1.255")}
	if !slices.Equal(got, want) {
		t.Fatalf("Reserved = %v, want %v", got, want)
	}
}

func TestOverlaps(t *testing.T) {
	if !Overlaps(pfx("10.0.0.0/16"), pfx("10.0.5.0/24")) || Overlaps(pfx("10.0.0.0/24"), pfx("10.0.1.0/24")) {
		t.Fatal("Overlaps wrong")
	}
}

func TestAmazonIPv6Block(t *testing.T) {
	for n, want := range map[uint32]string{0: "2001:db8::/56", 1: "2001:db8:0:100::/56", 0x123456: "2001:db8:1234:5600::/56", 1<<24 - 1: "2001:db8:ffff:ff00::/56"} {
		got, err := AmazonIPv6Block(n)
		if err != nil || got.String() != want {
			t.Errorf("AmazonIPv6Block(%#x) = %v, %v; want %s", n, got, err, want)
		}
	}
	if _, err := AmazonIPv6Block(1 << 24); code(t, err) != CodeInsufficientCidrBlocks {
		t.Errorf("block 2^24: %v, want %s", err, CodeInsufficientCidrBlocks)
	}
}

func TestParseSubnetIPv6CIDR(t *testing.T) {
	vpc := []netip.Prefix{netip.MustParsePrefix("2001:db8:0:100::/56")}
	siblings := []netip.Prefix{netip.MustParsePrefix("2001:db8:0:101::/64")}
	for cidr, want := range map[string]string{
		"2001:db8:0:102::/64":  "",
		"2001:db8:0:102::5/64": "", // host bits are cleared, as AWS does
		"10.0.0.0/24":          CodeInvalidParameterValue,
		"nonsense":             CodeInvalidParameterValue,
		"2001:db8:0:102::/65":  CodeInvalidSubnetRange,
		"2001:db8:0:100::/40":  CodeInvalidSubnetRange,
		"2001:db8:0:200::/64":  CodeInvalidSubnetRange, // outside the VPC's /56
		"2001:db8:0:101::/64":  CodeInvalidSubnetConflict,
		"2001:db8:0:100::/60":  CodeInvalidSubnetConflict, // contains the sibling
	} {
		_, err := ParseSubnetIPv6CIDR(cidr, vpc, siblings)
		if got := code(t, err); got != want {
			t.Errorf("ParseSubnetIPv6CIDR(%s) = %v, want code %q", cidr, err, want)
		}
	}
}
