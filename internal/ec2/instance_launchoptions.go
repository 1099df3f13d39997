package ec2

import (
	"slices"
	"strings"

	"strato/internal/awsapi"
	"strato/internal/awsapi/ec2api"
	"strato/internal/catalog"
)

// refuseUnsupportedLaunchOptions answers UnsupportedOperation, naming the
// parameter, for a RunInstances option strato does not carry out: asked for with
// anything but its default, it would otherwise be ignored while the caller
// believes it holds. Defaults pass, because tools (Terraform, the SDKs' launch
// helpers) send them.
func refuseUnsupportedLaunchOptions(in *ec2api.RunInstancesRequest) error {
	unsupported := func(format string, args ...any) error {
		return awsapi.Errorf("UnsupportedOperation", format, args...)
	}
	switch {
	case in.InstanceMarketOptions != nil:
		return unsupported("strato has no Spot market (InstanceMarketOptions).")
	case in.Placement != nil && deref(in.Placement.Tenancy) != "" && deref(in.Placement.Tenancy) != "default":
		return unsupported("strato supports only default tenancy (Placement.Tenancy %s).", deref(in.Placement.Tenancy))
	case in.Placement != nil && (deref(in.Placement.GroupName) != "" || deref(in.Placement.GroupId) != "" || deref(in.Placement.HostId) != ""):
		return unsupported("strato has no placement groups or dedicated hosts (Placement.GroupName, GroupId, HostId).")
	case in.Ipv6AddressCount != nil && *in.Ipv6AddressCount > 0 || len(in.Ipv6Addresses) > 0 || deref(in.EnablePrimaryIpv6):
		return unsupported("strato does not give instances IPv6 addresses yet (Ipv6AddressCount, Ipv6Addresses, EnablePrimaryIpv6).")
	case in.IamInstanceProfile != nil && (deref(in.IamInstanceProfile.Arn) != "" || deref(in.IamInstanceProfile.Name) != ""):
		return unsupported("strato has no IAM instance profiles yet (IamInstanceProfile).")
	case in.Monitoring != nil && deref(in.Monitoring.Enabled):
		return unsupported("strato has no detailed monitoring yet (Monitoring.Enabled).")
	case len(in.ElasticGpuSpecification) > 0 || len(in.ElasticInferenceAccelerators) > 0:
		return unsupported("strato has no Elastic GPUs or inference accelerators (ElasticGpuSpecification, ElasticInferenceAccelerators).")
	case in.CpuOptions != nil:
		return unsupported("strato does not set CPU options (CpuOptions); instances get their type's default vCPUs.")
	case len(in.LicenseSpecifications) > 0:
		return unsupported("strato has no License Manager (LicenseSpecifications).")
	case in.EnclaveOptions != nil && deref(in.EnclaveOptions.Enabled):
		return unsupported("strato has no Nitro Enclaves (EnclaveOptions.Enabled).")
	case in.HibernationOptions != nil && deref(in.HibernationOptions.Configured):
		return awsapi.Errorf("UnsupportedHibernationConfiguration", "strato does not support hibernation (HibernationOptions.Configured).")
	case in.CapacityReservationSpecification != nil && (in.CapacityReservationSpecification.CapacityReservationTarget != nil ||
		!slices.Contains([]string{"", "open", "none"}, deref(in.CapacityReservationSpecification.CapacityReservationPreference))):
		return unsupported("strato has no capacity reservations (CapacityReservationSpecification).")
	case in.PrivateDnsNameOptions != nil && (!slices.Contains([]string{"", "ip-name"}, deref(in.PrivateDnsNameOptions.HostnameType)) ||
		deref(in.PrivateDnsNameOptions.EnableResourceNameDnsARecord) || deref(in.PrivateDnsNameOptions.EnableResourceNameDnsAAAARecord)):
		return unsupported("strato names instances by IP only (PrivateDnsNameOptions.HostnameType ip-name).")
	case deref(in.KernelId) != "" || deref(in.RamdiskId) != "":
		return unsupported("strato has no kernel or RAM disk images (KernelId, RamdiskId); its images boot their own kernel.")
	}
	if cs := in.CreditSpecification; cs != nil {
		credits := strings.ToLower(deref(cs.CpuCredits))
		switch {
		case !slices.Contains([]string{"standard", "unlimited"}, credits):
			return awsapi.Errorf("InvalidParameterValue", "Value (%s) for parameter cpuCredits is invalid. Valid values: standard, unlimited.", deref(cs.CpuCredits))
		case !burstable(deref(in.InstanceType)):
			return awsapi.Errorf("InvalidParameterCombination", "The parameter CreditSpecification is not supported for instance type %s.", deref(in.InstanceType))
		case credits == "standard":
			// Unlimited is what strato does anyway: it never throttles a burst.
			return unsupported("strato does not account CPU credits (CreditSpecification.CpuCredits standard); unlimited is its behaviour.")
		}
	}
	return nil
}

// burstable reports a burstable performance (T family) instance type, as the
// catalogue says.
func burstable(instanceType string) bool {
	it, ok := catalog.LookupInstanceType(instanceType)
	return ok && it.BurstablePerformanceSupported
}
