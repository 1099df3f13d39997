package cloud

import (
	"testing"

	"strato/internal/store"
)

// FakeRouteTarget makes targets of a kind whose owners are not part of this
// package's tests (NAT gateways, network interfaces …) exist for one test: lookup
// answers for an ID, or false when it does not exist.
func FakeRouteTarget(t testing.TB, kind string, lookup func(id string) (RouteTarget, bool)) {
	old, had := routeTargets[kind]
	routeTargets[kind] = func(tx store.Tx, s Scope, id string) (RouteTarget, error) {
		if target, ok := lookup(id); ok {
			return target, nil
		}
		return RouteTarget{}, &NotFoundError{Kind: kind, ID: id}
	}
	t.Cleanup(func() {
		if had {
			routeTargets[kind] = old
		} else {
			delete(routeTargets, kind)
		}
	})
}
