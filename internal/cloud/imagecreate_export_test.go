package cloud

import (
	"context"
	"testing"

	"strato/internal/store"
)

// StubInstance stands in, for one test, an instance of the scope in a zone, with
// the given facts and these volumes attached at these devices (the instances'
// code does this for real later).
func StubInstance(t *testing.T, c *Cloud, s Scope, id, zone string, info InstanceForImage, devices map[string]string) {
	t.Helper()
	savedAttach, savedImage := instanceForAttach, instanceForImage
	instanceForAttach = func(tx store.Tx, sc Scope, instanceID string) (string, error) {
		if sc == s && instanceID == id {
			return zone, nil
		}
		return savedAttach(tx, sc, instanceID)
	}
	instanceForImage = func(tx store.Tx, sc Scope, instanceID string) (InstanceForImage, error) {
		if sc == s && instanceID == id {
			return info, nil
		}
		return savedImage(tx, sc, instanceID)
	}
	t.Cleanup(func() { instanceForAttach, instanceForImage = savedAttach, savedImage })
	for volumeID, device := range devices {
		if err := c.update(context.Background(), func(tx store.Tx) error {
			if _, err := attachVolume(tx, s, c.clock.Now(), volumeID, id, zone, device, device == info.RootDeviceName); err != nil {
				return err
			}
			return finishVolumeAttach(tx, s, volumeID, id)
		}); err != nil {
			t.Fatal(err)
		}
	}
}
