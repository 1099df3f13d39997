package e2e

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"golang.org/x/crypto/ssh"
)

func TestRegionsAndZones(t *testing.T) {
	s := startServer(t, "")
	c := s.ec2("default")
	regions, err := c.DescribeRegions(ctx(t), &ec2.DescribeRegionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(regions.Regions) < 30 {
		t.Fatalf("only %d regions", len(regions.Regions))
	}
	filtered, err := c.DescribeRegions(ctx(t), &ec2.DescribeRegionsInput{Filters: []types.Filter{{Name: aws.String("region-name"), Values: []string{"eu-*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range filtered.Regions {
		if !strings.HasPrefix(*r.RegionName, "eu-") {
			t.Fatalf("filter eu-* let %s through", *r.RegionName)
		}
	}
	_, err = c.DescribeRegions(ctx(t), &ec2.DescribeRegionsInput{Filters: []types.Filter{{Name: aws.String("bogus"), Values: []string{"x"}}}})
	wantCode(t, err, "InvalidParameterValue")

	zones, err := c.DescribeAvailabilityZones(ctx(t), &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(zones.AvailabilityZones) != 6 || *zones.AvailabilityZones[0].ZoneName != "us-east-1a" {
		t.Fatalf("us-east-1 zones: %d", len(zones.AvailabilityZones))
	}
	// The region comes from the signature's scope.
	akid, secret := s.profile("default")
	west := ec2.NewFromConfig(s.config(akid, secret, "eu-west-1"))
	zones, err = west.DescribeAvailabilityZones(ctx(t), &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *zones.AvailabilityZones[0].RegionName != "eu-west-1" {
		t.Fatalf("zones of %s in an eu-west-1 request", *zones.AvailabilityZones[0].RegionName)
	}
	nowhere := ec2.NewFromConfig(s.config(akid, secret, "xx-nowhere-1"))
	_, err = nowhere.DescribeRegions(ctx(t), &ec2.DescribeRegionsInput{})
	wantCode(t, err, "AuthFailure")
	_, err = sts.NewFromConfig(s.config(akid, secret, "xx-nowhere-1")).GetCallerIdentity(ctx(t), &sts.GetCallerIdentityInput{})
	wantCode(t, err, "AuthFailure")

	attrs, err := c.DescribeAccountAttributes(ctx(t), &ec2.DescribeAccountAttributesInput{AttributeNames: []types.AccountAttributeName{"max-elastic-ips"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(attrs.AccountAttributes) != 1 || *attrs.AccountAttributes[0].AttributeValues[0].AttributeValue != "5" {
		t.Fatalf("max-elastic-ips: %+v", attrs.AccountAttributes)
	}
}

func TestKeyPairLifecycle(t *testing.T) {
	s := startServer(t, "")
	c := s.ec2("default")
	created, err := c.CreateKeyPair(ctx(t), &ec2.CreateKeyPairInput{
		KeyName:           aws.String("deploy"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeKeyPair, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("infra")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(*created.KeyMaterial))
	if block == nil || block.Type != "RSA PRIVATE KEY" {
		t.Fatalf("key material is not a PKCS#1 PEM: %.40q", *created.KeyMaterial)
	}
	priv, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	if want := colonHex(sha1.Sum(pkcs8)); *created.KeyFingerprint != want {
		t.Fatalf("fingerprint %s, want SHA-1 of the PKCS#8 key %s", *created.KeyFingerprint, want)
	}
	if !strings.HasPrefix(*created.KeyPairId, "key-") || len(*created.KeyPairId) != 21 {
		t.Fatalf("key pair ID %q", *created.KeyPairId)
	}

	_, err = c.CreateKeyPair(ctx(t), &ec2.CreateKeyPairInput{KeyName: aws.String("deploy")})
	wantCode(t, err, "InvalidKeyPair.Duplicate")
	_, err = c.CreateKeyPair(ctx(t), &ec2.CreateKeyPairInput{KeyName: aws.String("x"), KeyType: "dsa"})
	wantCode(t, err, "InvalidParameterValue")

	signer, _ := ssh.NewSignerFromKey(priv)
	desc, err := c.DescribeKeyPairs(ctx(t), &ec2.DescribeKeyPairsInput{KeyNames: []string{"deploy"}, IncludePublicKey: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	kp := desc.KeyPairs[0]
	if *kp.KeyPairId != *created.KeyPairId || kp.KeyType != types.KeyTypeRsa || len(kp.Tags) != 1 || kp.CreateTime == nil {
		t.Fatalf("described as %+v", kp)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*kp.PublicKey))
	if err != nil || string(pub.Marshal()) != string(signer.PublicKey().Marshal()) {
		t.Fatalf("public key %q does not match the private key: %v", *kp.PublicKey, err)
	}

	edPub := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl laptop"
	imported, err := c.ImportKeyPair(ctx(t), &ec2.ImportKeyPairInput{KeyName: aws.String("laptop"), PublicKeyMaterial: []byte(edPub)})
	if err != nil {
		t.Fatal(err)
	}
	if len(*imported.KeyFingerprint) != 44 || !strings.HasSuffix(*imported.KeyFingerprint, "=") {
		t.Fatalf("ed25519 fingerprint %q is not padded base64 SHA-256", *imported.KeyFingerprint)
	}
	_, err = c.ImportKeyPair(ctx(t), &ec2.ImportKeyPairInput{KeyName: aws.String("bad"), PublicKeyMaterial: []byte("ssh-dss AAAA")})
	wantCode(t, err, "InvalidKey.Format")

	byTag, err := c.DescribeKeyPairs(ctx(t), &ec2.DescribeKeyPairsInput{Filters: []types.Filter{{Name: aws.String("tag:team"), Values: []string{"inf*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(byTag.KeyPairs) != 1 || *byTag.KeyPairs[0].KeyName != "deploy" {
		t.Fatalf("tag filter found %d", len(byTag.KeyPairs))
	}
	_, err = c.DescribeKeyPairs(ctx(t), &ec2.DescribeKeyPairsInput{KeyNames: []string{"nope"}})
	wantCode(t, err, "InvalidKeyPair.NotFound")

	deleted, err := c.DeleteKeyPair(ctx(t), &ec2.DeleteKeyPairInput{KeyPairId: created.KeyPairId})
	if err != nil || !*deleted.Return || *deleted.KeyPairId != *created.KeyPairId {
		t.Fatalf("delete: %+v %v", deleted, err)
	}
	// Deleting what is not there succeeds, as on AWS.
	if _, err := c.DeleteKeyPair(ctx(t), &ec2.DeleteKeyPairInput{KeyName: aws.String("deploy")}); err != nil {
		t.Fatal(err)
	}
	all, err := c.DescribeKeyPairs(ctx(t), &ec2.DescribeKeyPairsInput{})
	if err != nil || len(all.KeyPairs) != 1 || *all.KeyPairs[0].KeyName != "laptop" {
		t.Fatalf("after delete: %+v %v", all, err)
	}
	tags, err := c.DescribeTags(ctx(t), &ec2.DescribeTagsInput{})
	if err != nil || len(tags.Tags) != 0 {
		t.Fatalf("tags outlived their key pair: %+v %v", tags, err)
	}
}

func colonHex(sum [20]byte) string {
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}

func TestTagsAndPagination(t *testing.T) {
	s := startServer(t, "")
	c := s.ec2("default")
	var ids []string
	for i := 0; i < 12; i++ {
		out, err := c.ImportKeyPair(ctx(t), &ec2.ImportKeyPairInput{
			KeyName:           aws.String(fmt.Sprintf("k%02d", i)),
			PublicKeyMaterial: []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"),
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, *out.KeyPairId)
	}
	_, err := c.CreateTags(ctx(t), &ec2.CreateTagsInput{Resources: ids, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("ci")}, {Key: aws.String("Name"), Value: aws.String("k")}}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	pages := 0
	p := ec2.NewDescribeTagsPaginator(c, &ec2.DescribeTagsInput{MaxResults: aws.Int32(5)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tg := range page.Tags {
			seen[*tg.ResourceId+"/"+*tg.Key]++
			if tg.ResourceType != types.ResourceTypeKeyPair {
				t.Fatalf("resource type %q", tg.ResourceType)
			}
		}
	}
	if len(seen) != 24 || pages != 5 {
		t.Fatalf("paged %d distinct tags in %d pages, want 24 in 5", len(seen), pages)
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%s seen %d times", k, n)
		}
	}
	_, err = c.DescribeTags(ctx(t), &ec2.DescribeTagsInput{MaxResults: aws.Int32(5), NextToken: aws.String("forged")})
	wantCode(t, err, "InvalidPaginationToken")
	_, err = c.DescribeTags(ctx(t), &ec2.DescribeTagsInput{MaxResults: aws.Int32(2)})
	wantCode(t, err, "InvalidParameterValue")

	// Delete by key+value only where the value matches; by key alone always.
	if _, err := c.DeleteTags(ctx(t), &ec2.DeleteTagsInput{Resources: ids[:1], Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("other")}, {Key: aws.String("Name")}}}); err != nil {
		t.Fatal(err)
	}
	left, err := c.DescribeTags(ctx(t), &ec2.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("resource-id"), Values: ids[:1]}}})
	if err != nil || len(left.Tags) != 1 || *left.Tags[0].Key != "env" {
		t.Fatalf("after delete: %+v %v", left, err)
	}

	_, err = c.CreateTags(ctx(t), &ec2.CreateTagsInput{Resources: ids[:1], Tags: []types.Tag{{Key: aws.String("aws:reserved"), Value: aws.String("x")}}})
	wantCode(t, err, "InvalidParameterValue")
	_, err = c.CreateTags(ctx(t), &ec2.CreateTagsInput{Resources: []string{"key-0123456789abcdef0"}, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
	wantCode(t, err, "InvalidKeyPair.NotFound")
	_, err = c.CreateTags(ctx(t), &ec2.CreateTagsInput{Resources: []string{"nonsense"}, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
	wantCode(t, err, "InvalidID")
	var many []types.Tag
	for i := 0; i < 49; i++ {
		many = append(many, types.Tag{Key: aws.String(fmt.Sprintf("t%d", i)), Value: aws.String("v")})
	}
	// 49 more on a resource that has one already: 50, the limit.
	if _, err := c.CreateTags(ctx(t), &ec2.CreateTagsInput{Resources: ids[:1], Tags: many}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateTags(ctx(t), &ec2.CreateTagsInput{Resources: ids[:1], Tags: []types.Tag{{Key: aws.String("one-too-many"), Value: aws.String("v")}}})
	wantCode(t, err, "TagLimitExceeded")
}
