// Package catalog holds the domain types shared by every part of recs: items,
// events and users, with the validation that every entry point applies. It
// depends on nothing but the standard library.
package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// Item is one sellable product (a SKU) as the shop describes it.
type Item struct {
	ID string `json:"id"`

	// The fields every ranked candidate reads (filters, features, score,
	// diversity) come first, together: with 100,000 items cached, most
	// candidates' items are not in the CPU cache, and in this order they
	// take the item's first 136 bytes, two or three 64-byte cache lines,
	// where the field order of the JSON documentation spread them over
	// five. A profile at 2,000 req/s put 6 % of the server's CPU on the
	// first read of Active alone.

	Active bool `json:"active"`
	// Consumable items may be recommended again soon after a purchase.
	Consumable bool `json:"consumable,omitempty"`
	Stock      int  `json:"stock"`
	// Price and Cost are per unit in major currency units (e.g. 12.50 GBP).
	Price float64 `json:"price"`
	Cost  float64 `json:"cost,omitempty"`
	// Category is the path from the root, e.g. ["Home", "Kitchen", "Mugs"].
	Category []string `json:"category,omitempty"`
	Brand    string   `json:"brand,omitempty"`
	// incompatible is IncompatibleWith held compactly, once
	// CompactIncompatible has run (see there).
	incompatible []uint64
	CreatedAt    time.Time `json:"created_at,omitzero"`

	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Currency    string `json:"currency,omitempty"`
	// Attributes are free key/values: size, colour, material, ...
	Attributes map[string]string `json:"attributes,omitempty"`
	// IncompatibleWith lists items that must never be recommended with this
	// one (e.g. a charger for another phone).
	IncompatibleWith []string `json:"incompatible_with,omitempty"`
	URL              string   `json:"url,omitempty"`
	ImageURL         string   `json:"image_url,omitempty"`
	// Synthetic names the fields that were made up rather than supplied by
	// the shop (e.g. cost and stock for the Online Retail data), so every
	// report can say so.
	Synthetic []string  `json:"synthetic,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Margin is the unit margin as a share of the price, in [0, 1] for sane
// data; 0 when the price is unknown.
func (it *Item) Margin() float64 {
	if it.Price <= 0 {
		return 0
	}
	return (it.Price - it.Cost) / it.Price
}

// CategoryKey is the full category path joined with " > ".
func (it *Item) CategoryKey() string {
	n := 0
	for i, c := range it.Category {
		if i > 0 {
			n += 3
		}
		n += len(c)
	}
	b := make([]byte, 0, n)
	for i, c := range it.Category {
		if i > 0 {
			b = append(b, " > "...)
		}
		b = append(b, c...)
	}
	return string(b)
}

// UnmarshalJSON makes "active" default to true: a feed that does not
// mention it means every listed item is on sale. Unknown fields are an
// error, so a misspelt field ("stok") is caught rather than ignored.
func (it *Item) UnmarshalJSON(b []byte) error {
	type plain Item
	p := plain{Active: true}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*it = Item(p)
	return nil
}

// User is a shopper's canonical identity.
type User struct {
	ID string `json:"id"`
	// AnonymousIDs are the session/cookie ids merged into this user at login.
	AnonymousIDs []string `json:"anonymous_ids,omitempty"`
	// Personalization is the shopper's consent to a personal profile.
	Personalization bool      `json:"personalization"`
	UpdatedAt       time.Time `json:"updated_at,omitzero"`
}

// ErrNotFound is returned by stores when the asked-for record does not exist.
var ErrNotFound = errors.New("not found")
