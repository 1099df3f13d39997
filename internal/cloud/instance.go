package cloud

import (
	"time"

	"strato/internal/store"
)

// Instance states, with the codes EC2 reports beside them.
const (
	InstancePending      = "pending"
	InstanceRunning      = "running"
	InstanceShuttingDown = "shutting-down"
	InstanceTerminated   = "terminated"
	InstanceStopping     = "stopping"
	InstanceStopped      = "stopped"
)

// InstanceStateCode is the code EC2 gives a state name (the low byte of AWS's
// 16-bit code; the high byte is internal to AWS and always 0 here).
func InstanceStateCode(state string) int32 {
	switch state {
	case InstancePending:
		return 0
	case InstanceRunning:
		return 16
	case InstanceShuttingDown:
		return 32
	case InstanceTerminated:
		return 48
	case InstanceStopping:
		return 64
	case InstanceStopped:
		return 80
	}
	return 0
}

// TerminatedVisibility is how long a terminated instance stays in
// DescribeInstances (AWS: about an hour).
const TerminatedVisibility = time.Hour

// Instance is an EC2 instance as the control plane records it; its volumes and
// interfaces are their own documents, attached to it.
type Instance struct {
	ID            string `json:"id"`
	ReservationID string `json:"reservationId"`
	OwnerID       string `json:"ownerId"`
	Region        string `json:"region"`
	LaunchIndex   int32  `json:"launchIndex"`
	ImageID       string `json:"imageId"`
	InstanceType  string `json:"instanceType"`
	Architecture  string `json:"architecture"`
	KeyName       string `json:"keyName,omitempty"`
	// PublicKey is the launch key's OpenSSH public key, kept as it was at launch
	// (the metadata service shows it even after the key pair is deleted).
	PublicKey string `json:"publicKey,omitempty"`

	AvailabilityZone string `json:"availabilityZone"`
	SubnetID         string `json:"subnetId"`
	VpcID            string `json:"vpcId"`
	PrivateIP        string `json:"privateIp"`
	// InterfaceID is the primary interface, made with the instance.
	InterfaceID string           `json:"interfaceId"`
	Groups      []InterfaceGroup `json:"groups"`

	State string `json:"state"`
	// StateTransitionReason is the user-visible reason of the last transition,
	// as AWS writes it ("User initiated (2026-01-02 03:04:05 GMT)").
	StateTransitionReason string `json:"stateTransitionReason,omitempty"`
	StateReasonCode       string `json:"stateReasonCode,omitempty"`
	StateReasonMessage    string `json:"stateReasonMessage,omitempty"`

	RootDeviceName     string `json:"rootDeviceName"`
	RootDeviceType     string `json:"rootDeviceType"`
	RootVolumeID       string `json:"rootVolumeId,omitempty"`
	VirtualizationType string `json:"virtualizationType"`
	BootMode           string `json:"bootMode,omitempty"`
	ENASupport         bool   `json:"enaSupport"`
	EbsOptimized       bool   `json:"ebsOptimized"`

	// InstanceStore are its instance store volumes (DescribeInstances does not
	// show them; the driver makes them).
	InstanceStore []InstanceStoreDevice `json:"instanceStore,omitempty"`
	// ImageBundle is, for an instance-store-backed instance, the bundle its root
	// is copied from (the image may be deregistered meanwhile).
	ImageBundle string `json:"imageBundle,omitempty"`

	UserData                          string          `json:"userData,omitempty"` // base64, as given
	ClientToken                       string          `json:"clientToken,omitempty"`
	DisableAPITermination             bool            `json:"disableApiTermination"`
	DisableAPIStop                    bool            `json:"disableApiStop"`
	InstanceInitiatedShutdownBehavior string          `json:"instanceInitiatedShutdownBehavior"`
	Metadata                          MetadataOptions `json:"metadata"`
	// SriovNetSupport is "simple" once Intel 82599 enhanced networking is
	// turned on (ModifyInstanceAttribute), "" otherwise.
	SriovNetSupport string `json:"sriovNetSupport,omitempty"`
	// Health is what the instance monitor last learnt from the driver, for
	// DescribeInstanceStatus (instance_status.go).
	Health InstanceHealth `json:"health,omitzero"`

	LaunchTime time.Time `json:"launchTime"`
	// TerminatedAt is when it became terminated; it vanishes TerminatedVisibility later.
	TerminatedAt time.Time `json:"terminatedAt,omitzero"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

// MetadataOptions is how the instance metadata service answers the instance.
type MetadataOptions struct {
	HttpTokens              string `json:"httpTokens"`   // optional, required
	HttpPutResponseHopLimit int32  `json:"hopLimit"`     // 1..64
	HttpEndpoint            string `json:"httpEndpoint"` // enabled, disabled
	HttpProtocolIPv6        string `json:"httpProtocolIpv6"`
	InstanceMetadataTags    string `json:"instanceMetadataTags"` // enabled, disabled
}

// PrivateDNSName is the instance's internal host name.
func (in *Instance) PrivateDNSName() string {
	if in.PrivateIP == "" {
		return ""
	}
	return PrivateDNSName(in.Region, in.PrivateIP)
}

// goneAt reports whether a terminated instance has left the listings by now.
func (in *Instance) goneAt(now time.Time) bool {
	return in.State == InstanceTerminated && !in.TerminatedAt.IsZero() && !now.Before(in.TerminatedAt.Add(TerminatedVisibility))
}

// transitionReason is AWS's text for a transition the user asked for.
func transitionReason(now time.Time) string {
	return "User initiated (" + now.UTC().Format("2006-01-02 15:04:05") + " GMT)"
}

var instances = docKind[Instance]{
	kind:   KindInstance,
	id:     func(in *Instance) string { return in.ID },
	parent: func(in *Instance) string { return in.SubnetID },
	tags:   func(in *Instance) *map[string]string { return &in.Tags },
}

// Quota names for instances.
const QuotaInstances = "running-instances-per-region"

func init() {
	quotaDefs[QuotaInstances] = QuotaDef{
		Name:        QuotaInstances,
		Description: "Instances per Region (strato counts instances, not vCPUs)",
		Default:     1000,
		Code:        "InstanceLimitExceeded",
		Message:     "You have requested more instances than your current instance limit of %d allows.",
	}
	instanceForAttach = instanceZone
	primaryInterfaceOf = func(tx store.Tx, s Scope, id string) (string, error) {
		in, err := liveInstance(tx, s, id)
		return in.InterfaceID, err
	}
	instanceForImage = func(tx store.Tx, s Scope, id string) (InstanceForImage, error) {
		in, err := liveInstance(tx, s, id)
		if err != nil {
			return InstanceForImage{}, err
		}
		return InstanceForImage{
			RootDeviceName: in.RootDeviceName, Architecture: in.Architecture,
			VirtualizationType: in.VirtualizationType, BootMode: in.BootMode, ENASupport: in.ENASupport,
		}, nil
	}
}

// liveInstance reads an instance that is still visible (a terminated one an
// hour gone is not found, as on AWS).
func liveInstance(tx store.Tx, s Scope, id string) (Instance, error) {
	in, err := instances.get(tx, s, id)
	if err == nil && in.goneAt(txNow(tx)) {
		return Instance{}, &NotFoundError{Kind: KindInstance, ID: id}
	}
	return in, err
}

// instanceZone is the zone of an instance that volumes and interfaces may be
// attached to: not terminated or on its way there.
func instanceZone(tx store.Tx, s Scope, id string) (string, error) {
	in, err := liveInstance(tx, s, id)
	if err != nil {
		return "", err
	}
	if in.State == InstanceTerminated || in.State == InstanceShuttingDown {
		return "", errorf("IncorrectInstanceState", "The instance '%s' is not in a valid state for this operation.", id)
	}
	return in.AvailabilityZone, nil
}
