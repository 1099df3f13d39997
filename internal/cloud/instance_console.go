package cloud

import (
	"context"
	"time"

	"strato/internal/store"
)

// MaxConsoleOutput is how much of the console log GetConsoleOutput returns: the
// latest 64 KiB, as EC2 does.
const MaxConsoleOutput = 64 << 10

// ConsoleOutput is an instance's console log as its driver kept it (the latest
// MaxConsoleOutput bytes) and when it was read. A terminated instance has none.
func (c *Cloud) ConsoleOutput(ctx context.Context, s Scope, id string) ([]byte, time.Time, error) {
	if c.compute == nil {
		return nil, time.Time{}, errNoCompute
	}
	var in Instance
	if err := c.view(ctx, func(tx store.Tx) error {
		var err error
		in, err = liveInstance(tx, s, id)
		return err
	}); err != nil {
		return nil, time.Time{}, err
	}
	if in.State == InstanceTerminated || in.State == InstancePending {
		return nil, c.clock.Now(), nil
	}
	out, err := c.compute.ConsoleOutput(ctx, id)
	if err != nil {
		return nil, time.Time{}, err
	}
	if len(out) > MaxConsoleOutput {
		out = out[len(out)-MaxConsoleOutput:]
	}
	return out, c.clock.Now(), nil
}
