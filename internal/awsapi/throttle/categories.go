package throttle

import "strings"

// Figures and category membership from the EC2 API Reference / developer
// guide page "Request throttling for the Amazon EC2 API"
// (docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html), tables
// "Request token bucket sizes and refill rates" and "Resource token bucket
// sizes and refill rates". Buckets are per account and region; each API
// action has its own bucket whose size and refill rate come from its
// category.

// Category names.
const (
	// Describe*, List*, Search*, Get* not listed elsewhere: 100 / 20 per s.
	NonMutating = "non-mutating"
	// The subset below, when called with neither a filter nor pagination:
	// 50 / 10 per s.
	UnfilteredUnpaginated = "unfiltered-unpaginated-non-mutating"
	// Every other action: 50 / 5 per s.
	Mutating = "mutating"
	// The explicit list below: 50 / 5 per s, throttled apart from Mutating.
	ResourceIntensive = "resource-intensive"
	// Non-mutating calls made by the EC2 console: 100 / 10 per s. strato
	// cannot tell console calls apart, so Category never returns it; it is
	// here so the figure is configurable in one place.
	ConsoleNonMutating = "console-non-mutating"
)

// unfilteredUnpaginatedActions use the smaller UnfilteredUnpaginated bucket
// when requested without a filter and without pagination.
var unfilteredUnpaginatedActions = map[string]bool{
	"DescribeInstances":            true,
	"DescribeInstanceStatus":       true,
	"DescribeNetworkInterfaces":    true,
	"DescribeSecurityGroups":       true,
	"DescribeSnapshots":            true,
	"DescribeSpotInstanceRequests": true,
	"DescribeVolumes":              true,
}

// resourceIntensiveActions is AWS's published list.
var resourceIntensiveActions = map[string]bool{
	"AcceptVpcPeeringConnection":    true,
	"AuthorizeSecurityGroupIngress": true,
	"CancelSpotInstanceRequests":    true,
	"CreateKeyPair":                 true,
	"CreateVpcPeeringConnection":    true,
	"DeleteVpcPeeringConnection":    true,
	"RejectVpcPeeringConnection":    true,
	"RevokeSecurityGroupIngress":    true,
	"RequestSpotInstances":          true,
}

// uncategorized are actions with their own published bucket figures. Their
// category name is the action name itself.
var uncategorized = map[string]Bucket{
	"AcceptVpcEndpointConnections":                        {10, 1},
	"AdvertiseByoipCidr":                                  {1, 0.1},
	"AssignIpv6Addresses":                                 {100, 5},
	"AssignPrivateIpAddresses":                            {100, 5},
	"AssignPrivateNatGatewayAddress":                      {10, 1},
	"AssociateCapacityReservationBillingOwner":            {1, 0.5},
	"AssociateEnclaveCertificateIamRole":                  {10, 1},
	"AssociateIamInstanceProfile":                         {100, 5},
	"AssociateNatGatewayAddress":                          {10, 1},
	"AttachVerifiedAccessTrustProvider":                   {10, 2},
	"AuthorizeClientVpnIngress":                           {5, 2},
	"CancelDeclarativePoliciesReport":                     {1, 1},
	"CopyImage":                                           {100, 1},
	"CreateClientVpnRoute":                                {5, 2},
	"CreateCoipCidr":                                      {5, 1},
	"CreateCoipPool":                                      {5, 1},
	"CreateDefaultSubnet":                                 {1, 1},
	"CreateDefaultVpc":                                    {1, 1},
	"CreateLaunchTemplateVersion":                         {100, 5},
	"CreateNatGateway":                                    {10, 1},
	"CreateNetworkInterface":                              {100, 5},
	"CreateRestoreImageTask":                              {50, 0.1},
	"CreateSnapshot":                                      {100, 5},
	"CreateSnapshots":                                     {100, 5},
	"CreateSpotDatafeedSubscription":                      {50, 3},
	"CreateStoreImageTask":                                {50, 0.1},
	"CreateSubnetCidrReservation":                         {5, 1},
	"CreateTags":                                          {100, 10},
	"CreateVerifiedAccessEndpoint":                        {20, 4},
	"CreateVerifiedAccessGroup":                           {10, 2},
	"CreateVerifiedAccessInstance":                        {10, 2},
	"CreateVerifiedAccessTrustProvider":                   {10, 2},
	"CreateVolume":                                        {100, 5},
	"CreateVpcEndpoint":                                   {4, 0.3},
	"CreateVpcEndpointServiceConfiguration":               {10, 1},
	"DeleteClientVpnRoute":                                {5, 2},
	"DeleteCoipCidr":                                      {5, 1},
	"DeleteCoipPool":                                      {5, 1},
	"DeleteCoipPoolPermission":                            {5, 1},
	"DeleteNatGateway":                                    {10, 1},
	"DeleteNetworkInterface":                              {100, 5},
	"DeleteSnapshot":                                      {100, 5},
	"DeleteSpotDatafeedSubscription":                      {50, 3},
	"DeleteSubnetCidrReservation":                         {5, 1},
	"DeleteQueuedReservedInstances":                       {5, 5},
	"DeleteTags":                                          {100, 10},
	"DeleteVerifiedAccessEndpoint":                        {20, 4},
	"DeleteVerifiedAccessGroup":                           {10, 2},
	"DeleteVerifiedAccessInstance":                        {10, 2},
	"DeleteVerifiedAccessTrustProvider":                   {10, 2},
	"DeleteVolume":                                        {100, 5},
	"DeleteVpcEndpoints":                                  {4, 0.3},
	"DeleteVpcEndpointServiceConfigurations":              {10, 1},
	"DeprovisionByoipCidr":                                {1, 0.1},
	"DeregisterImage":                                     {100, 5},
	"DescribeAggregateIdFormat":                           {10, 10},
	"DescribeByoipCidrs":                                  {1, 0.5},
	"DescribeCapacityBlockExtensionOfferings":             {10, 0.15},
	"DescribeCapacityBlockOfferings":                      {10, 0.15},
	"DescribeDeclarativePoliciesReports":                  {5, 5},
	"DescribeHostReservations":                            {5, 2},
	"DescribeHostReservationOfferings":                    {5, 2},
	"DescribeIdentityIdFormat":                            {10, 10},
	"DescribeIdFormat":                                    {10, 10},
	"DescribeInstanceTopology":                            {1, 1},
	"DescribeMovingAddresses":                             {1, 1},
	"DescribePrincipalIdFormat":                           {10, 10},
	"DescribeReservedInstancesOfferings":                  {10, 10},
	"DescribeSecurityGroupReferences":                     {20, 5},
	"DescribeSpotDatafeedSubscription":                    {100, 13},
	"DescribeSpotFleetInstances":                          {100, 5},
	"DescribeSpotFleetRequestHistory":                     {100, 5},
	"DescribeSpotFleetRequests":                           {50, 3},
	"DescribeStaleSecurityGroups":                         {20, 5},
	"DescribeStoreImageTasks":                             {50, 0.5},
	"DescribeVerifiedAccessInstanceLoggingConfigurations": {10, 2},
	"DetachVerifiedAccessTrustProvider":                   {10, 2},
	"DisableFastLaunch":                                   {5, 2},
	"DisableImageBlockPublicAccess":                       {1, 0.1},
	"DisableSnapshotBlockPublicAccess":                    {1, 0.1},
	"DisassociateCapacityReservationBillingOwner":         {1, 0.5},
	"DisassociateEnclaveCertificateIamRole":               {10, 1},
	"DisassociateIamInstanceProfile":                      {100, 5},
	"DisassociateNatGatewayAddress":                       {10, 1},
	"EnableFastLaunch":                                    {5, 2},
	"EnableImageBlockPublicAccess":                        {1, 0.1},
	"EnableSnapshotBlockPublicAccess":                     {1, 0.1},
	"GetAssociatedEnclaveCertificateIamRoles":             {10, 1},
	"GetDeclarativePoliciesReportSummary":                 {5, 5},
	"GetHostReservationPurchasePreview":                   {5, 2},
	"ModifyImageAttribute":                                {100, 5},
	"ModifyInstanceMetadataDefaults":                      {2, 2},
	"ModifyInstanceMetadataOptions":                       {100, 5},
	"ModifyLaunchTemplate":                                {100, 5},
	"ModifyNetworkInterfaceAttribute":                     {100, 5},
	"ModifySnapshotAttribute":                             {100, 5},
	"ModifyVerifiedAccessEndpoint":                        {20, 4},
	"ModifyVerifiedAccessEndpointPolicy":                  {20, 4},
	"ModifyVerifiedAccessGroup":                           {10, 2},
	"ModifyVerifiedAccessGroupPolicy":                     {20, 4},
	"ModifyVerifiedAccessInstance":                        {10, 2},
	"ModifyVerifiedAccessInstanceLoggingConfiguration":    {10, 2},
	"ModifyVerifiedAccessTrustProvider":                   {10, 2},
	"ModifyVpcEndpoint":                                   {4, 0.3},
	"ModifyVpcEndpointServiceConfiguration":               {10, 1},
	"MoveAddressToVpc":                                    {1, 1},
	"ProvisionByoipCidr":                                  {1, 0.1},
	"PurchaseCapacityBlock":                               {10, 0.15},
	"PurchaseCapacityBlockExtension":                      {10, 0.15},
	"PurchaseHostReservation":                             {5, 2},
	"PurchaseReservedInstancesOffering":                   {5, 5},
	"RejectVpcEndpointConnections":                        {10, 1},
	"RestoreAddressToClassic":                             {1, 1},
	"RevokeClientVpnIngress":                              {5, 2},
	"RunInstances":                                        {5, 2},
	"StartDeclarativePoliciesReport":                      {1, 1},
	"StartInstances":                                      {5, 2},
	"TerminateInstances":                                  {100, 5},
	"UnassignPrivateIpAddresses":                          {100, 5},
	"UnassignPrivateNatGatewayAddress":                    {10, 1},
	"WithdrawByoipCidr":                                   {1, 0.1},
}

// defaultResources are the resource-rate buckets (tokens = resources
// affected, e.g. instances launched).
var defaultResources = map[string]Bucket{
	"RunInstances":       {1000, 2},
	"TerminateInstances": {1000, 20},
	"StartInstances":     {1000, 2},
	"StopInstances":      {1000, 20},
}

// nonMutatingPrefixes are the verbs AWS counts as non-mutating.
var nonMutatingPrefixes = [...]string{"Describe", "List", "Search", "Get"}

func isNonMutating(action string) bool {
	for _, p := range nonMutatingPrefixes {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// genericCategory is the category ignoring the per-action table.
func genericCategory(action string, unfilteredUnpaginated bool) string {
	switch {
	case resourceIntensiveActions[action]:
		return ResourceIntensive
	case isNonMutating(action):
		if unfilteredUnpaginated && unfilteredUnpaginatedActions[action] {
			return UnfilteredUnpaginated
		}
		return NonMutating
	default:
		return Mutating
	}
}

// Category returns the throttling category of action. unfilteredUnpaginated
// tells whether the request carried neither a filter nor pagination
// (MaxResults/NextToken); it only matters for the actions AWS lists under
// "Unfiltered and unpaginated non-mutating actions". Actions with their own
// published figures ("Uncategorized actions") return their own name.
func Category(action string, unfilteredUnpaginated bool) string {
	if _, ok := uncategorized[action]; ok {
		return action
	}
	return genericCategory(action, unfilteredUnpaginated)
}
