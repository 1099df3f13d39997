package cloud

import (
	"slices"

	"strato/internal/store"
)

// routeTablesReferring lists the route tables with a route to a prefix list.
func routeTablesReferring(tx store.Tx, s Scope, listID string) ([]string, error) {
	tables, err := routeTables.load(tx, s, nil, nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range tables {
		if slices.ContainsFunc(t.Routes, func(r Route) bool { return r.DestinationPrefixListID == listID }) {
			out = append(out, t.ID)
		}
	}
	return out, nil
}

// checkRouteTablesFitResize checks that the tables routing to a prefix list stay
// within the routes quota when the list's maximum size becomes newMax, since a
// route to a list counts as its maximum size.
func checkRouteTablesFitResize(tx store.Tx, s Scope, listID string, oldMax, newMax int) error {
	if newMax <= oldMax {
		return nil
	}
	ids, err := routeTablesReferring(tx, s, listID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		t, err := routeTables.get(tx, s, id)
		if err != nil {
			return err
		}
		have, err := tableWeight(tx, s, &t)
		if err != nil {
			return err
		}
		if err := checkQuota(tx, s.Account, QuotaRoutesPerTable, have+newMax-oldMax-1); err != nil {
			return err
		}
	}
	return nil
}
