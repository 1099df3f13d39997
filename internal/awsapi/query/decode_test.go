package query

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"strato/internal/awsapi/ec2api"
)

func TestDecodeGeneratedRequests(t *testing.T) {
	form, _ := url.ParseQuery("Filter.1.Name=key-name&Filter.1.Value.1=a*&Filter.1.Value.2=b&Filter.2.Name=tag:env&Filter.2.Value.1=prod&KeyName.2=second&KeyName.1=first&IncludePublicKey=true")
	var in ec2api.DescribeKeyPairsRequest
	if err := Decode(form, &in); err != nil {
		t.Fatal(err)
	}
	if len(in.Filters) != 2 || *in.Filters[0].Name != "key-name" || strings.Join(in.Filters[0].Values, ",") != "a*,b" {
		t.Fatalf("filters decoded as %+v", in.Filters)
	}
	if strings.Join(in.KeyNames, ",") != "first,second" {
		t.Fatalf("list order by index: %v", in.KeyNames)
	}
	if in.IncludePublicKey == nil || !*in.IncludePublicKey {
		t.Fatal("IncludePublicKey not set")
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, query, code, inMessage string
		into                         any
	}{
		{"unknown top-level", "KeyName=a&Bogus=1", "UnknownParameter", "Bogus", &ec2api.CreateKeyPairRequest{}},
		{"unknown nested", "KeyName=a&TagSpecification.1.Nope=1", "UnknownParameter", "TagSpecification.1.Nope", &ec2api.CreateKeyPairRequest{}},
		{"list without index", "KeyName=x", "UnknownParameter", "KeyName", &ec2api.DescribeKeyPairsRequest{}},
		{"list bad index", "KeyName.x=y", "UnknownParameter", "KeyName.x", &ec2api.DescribeKeyPairsRequest{}},
		{"missing required", "KeyType=rsa", "MissingParameter", "KeyName", &ec2api.CreateKeyPairRequest{}},
		{"nested member without required ones", "ResourceId.1=key-0123456789abcdef0&Tag.1.Value=v", "", "", &ec2api.CreateTagsRequest{}},
		{"bad boolean", "KeyName=a&DryRun=yes", "InvalidParameterValue", "DryRun", &ec2api.CreateKeyPairRequest{}},
		{"bad integer", "MaxResults=ten", "InvalidParameterValue", "MaxResults", &ec2api.DescribeTagsRequest{}},
		{"integer overflow", "MaxResults=99999999999", "InvalidParameterValue", "MaxResults", &ec2api.DescribeTagsRequest{}},
		{"bad base64", "KeyName=a&PublicKeyMaterial=%21%21%21", "InvalidParameterValue", "PublicKeyMaterial", &ec2api.ImportKeyPairRequest{}},
		{"bad timestamp", "InstanceType.1=t3.micro&StartTime=yesterday", "InvalidParameterValue", "StartTime", &ec2api.DescribeSpotPriceHistoryRequest{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			err = Decode(form, c.into)
			if c.code == "" {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			qe, ok := err.(*Error)
			if !ok {
				t.Fatalf("want %s, got %v", c.code, err)
			}
			if qe.Code() != c.code || !strings.Contains(qe.Error(), c.inMessage) {
				t.Fatalf("got %s %q, want %s mentioning %q", qe.Code(), qe.Error(), c.code, c.inMessage)
			}
		})
	}
}

func TestDecodeScalars(t *testing.T) {
	form, _ := url.ParseQuery("KeyName=k&PublicKeyMaterial=c3NoLXJzYSBBQUFB&DryRun=TRUE")
	var in ec2api.ImportKeyPairRequest
	if err := Decode(form, &in); err != nil {
		t.Fatal(err)
	}
	if string(in.PublicKeyMaterial) != "ssh-rsa AAAA" || !*in.DryRun {
		t.Fatalf("decoded %+v", in)
	}
	for _, ts := range []string{"2026-11-21T10:00:00Z", "2026-11-21T10:00:00.000Z", "2026-11-21T11:00:00+01:00", "2026-11-21T10:00:00", "1795255200"} {
		form, _ := url.ParseQuery("StartTime=" + url.QueryEscape(ts))
		var r ec2api.DescribeSpotPriceHistoryRequest
		if err := Decode(form, &r); err != nil {
			t.Fatalf("%s: %v", ts, err)
		}
		if !r.StartTime.Equal(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)) {
			t.Fatalf("%s decoded as %v", ts, r.StartTime)
		}
	}
}

func TestEncodeEscapesAndEmptyLists(t *testing.T) {
	name := "a<b>&\"c'\x01"
	out := ec2api.DescribeKeyPairsResult{KeyPairs: []ec2api.KeyPairInfo{{KeyName: &name}}}
	var buf bytes.Buffer
	Encode(&buf, &out)
	want := "<keySet><item><keyName>a&lt;b&gt;&amp;&quot;c&apos;\uFFFD</keyName></item></keySet>"
	if buf.String() != want {
		t.Fatalf("got %s\nwant %s", buf.String(), want)
	}
	buf.Reset()
	Encode(&buf, &ec2api.DescribeKeyPairsResult{KeyPairs: []ec2api.KeyPairInfo{}})
	if buf.String() != "<keySet/>" {
		t.Fatalf("empty list written as %q", buf.String())
	}
}
