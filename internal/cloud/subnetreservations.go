package cloud

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"strato/internal/cloud/filter"
	"strato/internal/store"
)

// SubnetReservation is a subnet CIDR reservation: a range of a subnet's addresses
// that AWS does not hand out on its own. An explicit reservation's addresses are
// assigned only when named; a prefix reservation is where /28 prefixes asked for
// by count come from first.
type SubnetReservation struct {
	ID          string    `json:"id"`
	SubnetID    string    `json:"subnetId"`
	OwnerID     string    `json:"ownerId"`
	CIDR        string    `json:"cidr"`
	Type        string    `json:"type"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	// Tags is filled when read.
	Tags map[string]string `json:"-"`
}

var subnetReservations = docKind[SubnetReservation]{
	kind:   KindSubnetCIDRReservation,
	id:     func(r *SubnetReservation) string { return r.ID },
	parent: func(r *SubnetReservation) string { return r.SubnetID },
	tags:   func(r *SubnetReservation) *map[string]string { return &r.Tags },
}

func init() {
	// A subnet's reservations go with it.
	subnetDeleted = append(subnetDeleted, func(tx store.Tx, s Scope, sn *Subnet) error {
		rs, err := subnetReservations.children(tx, s, sn.ID)
		for _, r := range rs {
			if err := subnetReservations.remove(tx, s, r.ID); err != nil {
				return err
			}
		}
		return err
	})
}

// reservationNotFound is AWS's answer for a reservation ID that does not exist.
func reservationNotFound(err error, id string) error {
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return errorf("InvalidSubnetCidrReservationID.NotFound", "The subnet CIDR reservation ID '%s' does not exist", id)
	}
	return err
}

// CreateSubnetReservation reserves a range of a subnet's addresses.
func (c *Cloud) CreateSubnetReservation(ctx context.Context, s Scope, subnetID, cidr, kind, description string, tags []Tag) (SubnetReservation, error) {
	if err := ValidateTags(tags); err != nil {
		return SubnetReservation{}, err
	}
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil {
		return SubnetReservation{}, errorf("InvalidParameterValue", "Value (%s) for parameter cidr is invalid. This is not a valid CIDR block.", cidr)
	}
	if pfx.Addr().Is6() {
		return SubnetReservation{}, errorf("UnsupportedOperation", "strato does not support IPv6 subnets yet.")
	}
	r := SubnetReservation{ID: NewID("scr"), SubnetID: subnetID, OwnerID: s.Account, CIDR: pfx.Masked().String(), Type: kind, Description: description, CreatedAt: c.clock.Now()}
	err = c.update(ctx, func(tx store.Tx) error {
		sn, err := subnets.get(tx, s, subnetID)
		if err != nil {
			return err
		}
		if err := sn.Addresses.Reserve(pfx, kind); err != nil {
			return err
		}
		if err := subnets.update(tx, s, &sn); err != nil {
			return err
		}
		return subnetReservations.insert(tx, s, &r, r.CreatedAt, tags)
	})
	r.Tags = tagMap(tags)
	return r, err
}

// DeleteSubnetReservation deletes a reservation; addresses assigned inside it stay.
func (c *Cloud) DeleteSubnetReservation(ctx context.Context, s Scope, id string) (SubnetReservation, error) {
	var r SubnetReservation
	err := c.update(ctx, func(tx store.Tx) error {
		list, err := subnetReservations.load(tx, s, []string{id}, nil)
		if err != nil {
			return reservationNotFound(err, id)
		}
		r = list[0]
		sn, err := subnets.get(tx, s, r.SubnetID)
		if err != nil {
			return err
		}
		if err := sn.Addresses.Unreserve(netip.MustParsePrefix(r.CIDR)); err != nil {
			return err
		}
		if err := subnets.update(tx, s, &sn); err != nil {
			return err
		}
		return subnetReservations.remove(tx, s, id)
	})
	return r, err
}

var subnetReservationFields = filter.Fields[SubnetReservation]{
	"reservationType": func(r SubnetReservation) []string { return []string{r.Type} },
	"subnet-id":       func(r SubnetReservation) []string { return []string{r.SubnetID} },
	"owner-id":        func(r SubnetReservation) []string { return []string{r.OwnerID} },
}

// SubnetReservations lists a subnet's reservations, filtered and paginated
// (MaxResults 5..1000).
func (c *Cloud) SubnetReservations(ctx context.Context, s Scope, subnetID string, filters []filter.Filter, page Page) ([]SubnetReservation, string, error) {
	m, err := filter.Compile(filters, subnetReservationFields, func(r SubnetReservation) map[string]string { return r.Tags })
	if err != nil {
		return nil, "", err
	}
	var list []SubnetReservation
	err = c.view(ctx, func(tx store.Tx) error {
		if _, err := subnets.get(tx, s, subnetID); err != nil {
			return err
		}
		list, err = subnetReservations.children(tx, s, subnetID)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	out := m.Filter(list)
	id := func(r SubnetReservation) string { return r.ID }
	sortByUniqueKey(out, id)
	return PageOf(c, s, "GetSubnetCidrReservations", filters, page, 5, 1000, out, id)
}
