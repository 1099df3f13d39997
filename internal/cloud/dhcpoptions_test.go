package cloud

import (
	"testing"

	"strato/internal/store"
)

func TestDHCPOptionsQuotaAndRegionDefault(t *testing.T) {
	f := newPeeringFixture(t)
	s := f.account("eu-west-1")
	if err := f.c.SetQuota(f.ctx, s.Account, QuotaDHCPOptions, 1); err != nil {
		t.Fatal(err)
	}
	cfg := []DHCPConfiguration{{Key: "domain-name", Values: []string{"corp.example"}}}
	if _, err := f.c.CreateDHCPOptions(f.ctx, s, cfg, nil); err != nil {
		t.Fatal(err)
	}
	_, err := f.c.CreateDHCPOptions(f.ctx, s, cfg, nil)
	wantCode(t, "second set", err, "DhcpOptionsLimitExceeded")

	var first, again DHCPOptions
	for _, d := range []*DHCPOptions{&first, &again} {
		if err := f.c.update(f.ctx, func(tx store.Tx) error {
			var err error
			*d, err = defaultDHCPOptions(tx, s, f.c.clock.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if first.ID != again.ID || first.Configurations[0].Values[0] != "eu-west-1.compute.internal" || first.Configurations[1].Values[0] != AmazonProvidedDNS {
		t.Errorf("region default: %+v then %+v", first, again)
	}
}
