package ec2

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"strato/internal/awsapi"
	"strato/internal/cloud/cloudtest"
)

// newService returns the EC2 dispatcher over a fresh store.
func newService(t *testing.T) *awsapi.EC2 {
	return New(cloudtest.New(t))
}

// apiCase is one call and what it must answer: the error code, or a fragment of
// the XML answer.
type apiCase struct {
	name, action string
	params       []string
	code         string
	contains     string
}

// runCases sends the cases in order (later ones may depend on earlier ones).
func runCases(t *testing.T, d *awsapi.EC2, cases []apiCase) {
	t.Helper()
	for _, c := range cases {
		body, err := callEC2(t, d, c.action, c.params...)
		if c.code != "" {
			if e, _ := awsapi.AsError(err); err == nil || e.Code != c.code {
				t.Errorf("%s: want %s, got %v %s", c.name, c.code, err, body)
			}
			continue
		}
		if err != nil || !strings.Contains(body, c.contains) {
			t.Errorf("%s: want %s, got %v %s", c.name, c.contains, err, body)
		}
	}
}

// callEC2 sends one call; params alternate name and value.
func callEC2(t *testing.T, d *awsapi.EC2, action string, params ...string) (string, error) {
	t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Add(params[i], params[i+1])
	}
	body, err := d.Serve(context.Background(), &awsapi.Call{
		Action: action, Params: v, AccountID: "123456789012", Region: "us-east-1", RequestID: "r",
	})
	return string(body), err
}

func TestDescribeInstanceTypesXML(t *testing.T) {
	d := newService(t)
	body, err := callEC2(t, d, "DescribeInstanceTypes", "InstanceType.1", "t3.micro")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<DescribeInstanceTypesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><instanceTypeSet><item>`,
		`<instanceType>t3.micro</instanceType>`,
		`<currentGeneration>true</currentGeneration>`,
		`<freeTierEligible>true</freeTierEligible>`,
		`<supportedUsageClasses><item>on-demand</item><item>spot</item></supportedUsageClasses>`,
		`<supportedRootDeviceTypes><item>ebs</item></supportedRootDeviceTypes>`,
		`<supportedVirtualizationTypes><item>hvm</item></supportedVirtualizationTypes>`,
		`<bareMetal>false</bareMetal>`,
		`<hypervisor>nitro</hypervisor>`,
		`<processorInfo><supportedArchitectures><item>x86_64</item></supportedArchitectures><sustainedClockSpeedInGhz>2.5</sustainedClockSpeedInGhz><manufacturer>Intel</manufacturer></processorInfo>`,
		`<vCpuInfo><defaultVCpus>2</defaultVCpus><defaultCores>1</defaultCores><defaultThreadsPerCore>2</defaultThreadsPerCore><validCores><item>1</item></validCores><validThreadsPerCore><item>1</item><item>2</item></validThreadsPerCore></vCpuInfo>`,
		`<memoryInfo><sizeInMiB>1024</sizeInMiB></memoryInfo>`,
		`<instanceStorageSupported>false</instanceStorageSupported>`,
		`<ebsInfo><ebsOptimizedSupport>default</ebsOptimizedSupport><encryptionSupport>supported</encryptionSupport><ebsOptimizedInfo>`,
		`<baselineBandwidthInMbps>87</baselineBandwidthInMbps><baselineThroughputInMBps>10.875</baselineThroughputInMBps>`,
		`<nvmeSupport>required</nvmeSupport></ebsInfo>`,
		`<networkInfo><networkPerformance>Up to 5 Gigabit</networkPerformance><maximumNetworkInterfaces>2</maximumNetworkInterfaces><maximumNetworkCards>1</maximumNetworkCards><defaultNetworkCardIndex>0</defaultNetworkCardIndex>`,
		`<networkCards><item><networkCardIndex>0</networkCardIndex><networkPerformance>Up to 5 Gigabit</networkPerformance><maximumNetworkInterfaces>2</maximumNetworkInterfaces></item></networkCards>`,
		`<ipv6Supported>true</ipv6Supported><enaSupport>required</enaSupport><efaSupported>false</efaSupported>`,
		`<placementGroupInfo><supportedStrategies><item>partition</item><item>spread</item></supportedStrategies></placementGroupInfo>`,
		`<hibernationSupported>true</hibernationSupported><burstablePerformanceSupported>true</burstablePerformanceSupported>`,
		`<supportedBootModes><item>legacy-bios</item><item>uefi</item></supportedBootModes>`,
		`<nitroTpmSupport>supported</nitroTpmSupport><nitroTpmInfo><supportedVersions><item>2.0</item></supportedVersions></nitroTpmInfo>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("response lacks %s", want)
		}
	}
	for _, absent := range []string{"<instanceStorageInfo>", "<gpuInfo>", "<efaInfo>", "<nextToken>"} {
		if strings.Contains(body, absent) {
			t.Errorf("response has %s", absent)
		}
	}
}

func TestDescribeInstanceTypesXMLNested(t *testing.T) {
	d := newService(t)
	tests := []struct {
		name, typ string
		want      []string
		absent    []string
	}{
		{"gpu and instance store", "g5.48xlarge", []string{
			`<gpuInfo><gpus><item><name>A10G</name><manufacturer>NVIDIA</manufacturer><count>8</count><memoryInfo><sizeInMiB>24576</sizeInMiB></memoryInfo></item></gpus><totalGpuMemoryInMiB>196608</totalGpuMemoryInMiB></gpuInfo>`,
			`<instanceStorageInfo><totalSizeInGB>7600</totalSizeInGB><disks><item><sizeInGB>3800</sizeInGB><count>2</count><type>ssd</type></item></disks><nvmeSupport>required</nvmeSupport><encryptionSupport>required</encryptionSupport></instanceStorageInfo>`,
			`<instanceStorageSupported>true</instanceStorageSupported>`,
		}, nil},
		{"fpga", "f1.2xlarge", []string{
			`<fpgaInfo><fpgas><item><name>Virtex UltraScale (VU9P)</name><manufacturer>Xilinx</manufacturer><count>1</count><memoryInfo><sizeInMiB>65536</sizeInMiB></memoryInfo></item></fpgas><totalFpgaMemoryInMiB>65536</totalFpgaMemoryInMiB></fpgaInfo>`,
			`<hypervisor>xen</hypervisor>`,
		}, nil},
		{"neuron", "inf2.xlarge", []string{
			`<neuronInfo><neuronDevices><item><count>1</count><name>Inferentia2</name><coreInfo><count>2</count><version>2</version></coreInfo><memoryInfo><sizeInMiB>32768</sizeInMiB></memoryInfo></item></neuronDevices><totalNeuronDeviceMemoryInMiB>32768</totalNeuronDeviceMemoryInMiB></neuronInfo>`,
		}, nil},
		{"bare metal", "m5.metal", []string{
			`<bareMetal>true</bareMetal>`,
			`<supportedArchitectures><item>x86_64</item></supportedArchitectures>`,
		}, []string{"<hypervisor>", "<validCores>", "<validThreadsPerCore>", "<nitroTpmInfo>"}},
		{"efa and network cards", "p4d.24xlarge", []string{
			`<efaSupported>true</efaSupported><efaInfo><maximumEfaInterfaces>`,
			`<networkCards><item><networkCardIndex>0</networkCardIndex>`,
		}, nil},
		{"no EBS optimization", "t2.micro", []string{
			`<ebsOptimizedSupport>unsupported</ebsOptimizedSupport>`,
			`<supportedArchitectures><item>i386</item><item>x86_64</item></supportedArchitectures>`,
		}, []string{"<ebsOptimizedInfo>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := callEC2(t, d, "DescribeInstanceTypes", "InstanceType.1", tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("response lacks %s", want)
				}
			}
			for _, absent := range tc.absent {
				if strings.Contains(body, absent) {
					t.Errorf("response has %s", absent)
				}
			}
		})
	}
}

var instanceTypeElem = regexp.MustCompile(`<item><instanceType>([^<]+)</instanceType>`)

func TestDescribeInstanceTypesFiltersAndPages(t *testing.T) {
	d := newService(t)
	body, err := callEC2(t, d, "DescribeInstanceTypes",
		"Filter.1.Name", "instance-type", "Filter.1.Value.1", "t3.*",
		"Filter.2.Name", "vcpu-info.default-vcpus", "Filter.2.Value.1", "2")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range instanceTypeElem.FindAllStringSubmatch(body, -1) {
		got = append(got, m[1])
	}
	want := "t3.large t3.medium t3.micro t3.nano t3.small"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}

	// Follow the pages of a filtered listing.
	seen := 0
	token := ""
	for pages := 1; ; pages++ {
		params := []string{"MaxResults", "5", "Filter.1.Name", "instance-type", "Filter.1.Value.1", "t3.*"}
		if token != "" {
			params = append(params, "NextToken", token)
		}
		body, err := callEC2(t, d, "DescribeInstanceTypes", params...)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(instanceTypeElem.FindAllString(body, -1))
		m := regexp.MustCompile(`<nextToken>([^<]+)</nextToken>`).FindStringSubmatch(body)
		if m == nil {
			if pages != 2 {
				t.Errorf("%d pages, want 2", pages)
			}
			break
		}
		token = m[1]
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if seen != 7 {
		t.Errorf("pages held %d t3 types, want 7", seen)
	}
}

func TestDescribeInstanceTypesErrors(t *testing.T) {
	d := newService(t)
	tests := []struct {
		name     string
		action   string
		params   []string
		code     string
		contains string
	}{
		{"unknown type", "DescribeInstanceTypes", []string{"InstanceType.1", "m9.huge"},
			"InvalidInstanceType", "The following supplied instance types do not exist: [m9.huge]"},
		{"unknown filter", "DescribeInstanceTypes", []string{"Filter.1.Name", "colour", "Filter.1.Value.1", "red"},
			"InvalidParameterValue", "The filter 'colour' is invalid"},
		{"MaxResults too small", "DescribeInstanceTypes", []string{"MaxResults", "4"},
			"InvalidParameterValue", "Value ( 4 ) for parameter maxResults is invalid. Expecting a value greater than 5."},
		{"MaxResults too large", "DescribeInstanceTypes", []string{"MaxResults", "101"},
			"InvalidParameterValue", "Value ( 101 ) for parameter maxResults is invalid. Expecting a value less than 100."},
		{"bad token", "DescribeInstanceTypes", []string{"NextToken", "nope"},
			"InvalidPaginationToken", ""},
		{"offerings: bad location type", "DescribeInstanceTypeOfferings", []string{"LocationType", "planet"},
			"InvalidParameterValue", "Value (planet) for parameter locationType is invalid."},
		{"offerings: unknown filter", "DescribeInstanceTypeOfferings", []string{"Filter.1.Name", "zone-name", "Filter.1.Value.1", "x"},
			"InvalidParameterValue", "The filter 'zone-name' is invalid"},
		{"offerings: MaxResults too large", "DescribeInstanceTypeOfferings", []string{"MaxResults", "1001"},
			"InvalidParameterValue", "Expecting a value less than 1000."},
		{"dry run", "DescribeInstanceTypes", []string{"DryRun", "true"},
			"DryRunOperation", "Request would have succeeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := callEC2(t, d, tc.action, tc.params...)
			e, _ := awsapi.AsError(err)
			if err == nil || e.Code != tc.code || !strings.Contains(e.Message, tc.contains) {
				t.Errorf("got %v, want %s containing %q", err, tc.code, tc.contains)
			}
		})
	}
	if _, err := callEC2(t, d, "DescribeInstanceTypes", "MaxResults", "100"); err != nil {
		t.Errorf("MaxResults 100: %v", err)
	}
	if _, err := callEC2(t, d, "DescribeInstanceTypes"); err != nil {
		t.Errorf("plain call: %v", err)
	}
}

func TestDescribeInstanceTypeOfferingsXML(t *testing.T) {
	d := newService(t)
	body, err := callEC2(t, d, "DescribeInstanceTypeOfferings",
		"LocationType", "availability-zone",
		"Filter.1.Name", "instance-type", "Filter.1.Value.1", "t3.micro",
		"Filter.2.Name", "location", "Filter.2.Value.1", "us-east-1a", "Filter.2.Value.2", "us-east-1b")
	if err != nil {
		t.Fatal(err)
	}
	want := `<instanceTypeOfferingSet>` +
		`<item><instanceType>t3.micro</instanceType><locationType>availability-zone</locationType><location>us-east-1a</location></item>` +
		`<item><instanceType>t3.micro</instanceType><locationType>availability-zone</locationType><location>us-east-1b</location></item>` +
		`</instanceTypeOfferingSet>`
	if !strings.Contains(body, want) {
		t.Errorf("got %s\nwant it to contain %s", body, want)
	}

	body, err = callEC2(t, d, "DescribeInstanceTypeOfferings", "Filter.1.Name", "instance-type", "Filter.1.Value.1", "m5.large")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, `<item><instanceType>m5.large</instanceType><locationType>region</locationType><location>us-east-1</location></item>`) {
		t.Errorf("region offering missing: %s", body)
	}
}
