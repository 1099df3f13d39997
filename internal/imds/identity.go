package imds

import (
	"encoding/json"
	"time"
)

// identityDocument is dynamic/instance-identity/document, field for field and in AWS's
// order; the *string fields are null when empty, as AWS shows them.
type identityDocument struct {
	AccountID               string    `json:"accountId"`
	Architecture            string    `json:"architecture"`
	AvailabilityZone        string    `json:"availabilityZone"`
	BillingProducts         *[]string `json:"billingProducts"`
	DevpayProductCodes      *[]string `json:"devpayProductCodes"`
	MarketplaceProductCodes *[]string `json:"marketplaceProductCodes"`
	ImageID                 string    `json:"imageId"`
	InstanceID              string    `json:"instanceId"`
	InstanceType            string    `json:"instanceType"`
	KernelID                *string   `json:"kernelId"`
	PendingTime             string    `json:"pendingTime"`
	PrivateIP               string    `json:"privateIp"`
	RamdiskID               *string   `json:"ramdiskId"`
	Region                  string    `json:"region"`
	Version                 string    `json:"version"`
}

// identityDocumentVersion is the document format version AWS still serves.
const identityDocumentVersion = "2017-09-30"

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// IdentityDocument renders inst's instance identity document: the exact bytes the
// signature and pkcs7 entries sign.
func IdentityDocument(inst *Instance) []byte {
	doc := identityDocument{
		AccountID:        inst.AccountID,
		Architecture:     inst.Architecture,
		AvailabilityZone: inst.AvailabilityZone,
		ImageID:          inst.ImageID,
		InstanceID:       inst.InstanceID,
		InstanceType:     inst.InstanceType,
		KernelID:         nullable(inst.KernelID),
		PendingTime:      inst.PendingTime.UTC().Format(time.RFC3339),
		PrivateIP:        addr(inst.PrivateIPv4),
		RamdiskID:        nullable(inst.RamdiskID),
		Region:           inst.Region,
		Version:          identityDocumentVersion,
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // only strings and nil pointers: cannot fail
	}
	return out
}
