package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"strato/internal/vpcnet"
)

// netCommand is `strato net teardown`: removes every namespace, link, host route
// and nftables table of an instance network. Instances must be terminated first
// (strato serve keeps them, and their network, running across its restarts).
func netCommand(args []string) error {
	if len(args) == 0 || args[0] != "teardown" {
		return fmt.Errorf("usage: strato net teardown [--net-prefix P]")
	}
	fs := flag.NewFlagSet("strato net teardown", flag.ExitOnError)
	prefix := fs.String("net-prefix", vpcnet.DefaultPrefix, "the instance network's name prefix, as strato serve was given it")
	fs.Parse(args[1:])
	if os.Geteuid() != 0 {
		return fmt.Errorf("net teardown needs root")
	}
	return vpcnet.Teardown(context.Background(), vpcnet.Options{Prefix: *prefix})
}
