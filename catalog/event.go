package catalog

import (
	"fmt"
	"time"
)

// EventType is what a shopper did.
type EventType uint8

// The event types recs understands. The numeric values are stored in
// PostgreSQL: append new types, never renumber.
const (
	EventUnknown EventType = iota
	EventViewItem
	EventAddToCart
	EventRemoveFromCart
	EventBeginCheckout
	EventPurchase
	EventSearch
	EventRefund
)

var eventTypeNames = [...]string{
	EventUnknown:        "unknown",
	EventViewItem:       "view_item",
	EventAddToCart:      "add_to_cart",
	EventRemoveFromCart: "remove_from_cart",
	EventBeginCheckout:  "begin_checkout",
	EventPurchase:       "purchase",
	EventSearch:         "search",
	EventRefund:         "refund",
}

func (t EventType) String() string {
	if int(t) < len(eventTypeNames) {
		return eventTypeNames[t]
	}
	return fmt.Sprintf("EventType(%d)", t)
}

// ParseEventType maps a wire name such as "view_item" to its type.
func ParseEventType(s string) (EventType, bool) {
	for i := EventViewItem; int(i) < len(eventTypeNames); i++ {
		if eventTypeNames[i] == s {
			return i, true
		}
	}
	return EventUnknown, false
}

// Valid reports whether t is one of the known types.
func (t EventType) Valid() bool { return t > EventUnknown && int(t) < len(eventTypeNames) }

func (t EventType) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("unknown event type %d", t)
	}
	return []byte(eventTypeNames[t]), nil
}

func (t *EventType) UnmarshalText(b []byte) error {
	v, ok := ParseEventType(string(b))
	if !ok {
		return fmt.Errorf("unknown event type %q (want one of view_item, add_to_cart, remove_from_cart, begin_checkout, purchase, search, refund)", b)
	}
	*t = v
	return nil
}

// EventItem is one line of an event: the item and, where it matters, how
// many at what unit price.
type EventItem struct {
	ItemID   string  `json:"item_id"`
	Quantity int     `json:"quantity,omitempty"`
	Price    float64 `json:"price,omitempty"`
}

// Event is one thing a shopper did, as the storefront reported it.
type Event struct {
	// ID is unique per event; a resent event with the same ID is dropped.
	ID   string    `json:"event_id"`
	Type EventType `json:"type"`
	Time time.Time `json:"time"`
	// SessionID is the anonymous (cookie or session) id; UserID the signed-in
	// shopper, if any. At least one of them is set.
	SessionID string      `json:"session_id,omitempty"`
	UserID    string      `json:"user_id,omitempty"`
	Items     []EventItem `json:"items,omitempty"`
	OrderID   string      `json:"order_id,omitempty"`
	Query     string      `json:"query,omitempty"`
	Channel   string      `json:"channel,omitempty"`
	Device    string      `json:"device,omitempty"`
	// RequestID is the request_id of the recommendation response the
	// shopper acted on (a click on a recommended item), so later purchases
	// can be attributed to recommendations; empty for other events.
	RequestID string `json:"request_id,omitempty"`
	// Consent is the shopper's personalisation consent as the storefront
	// reported it with the event; absent means given. An event without
	// consent is stored without its session and user ids (see
	// ApplyConsent), so it counts towards popularity but builds no profile.
	// There are deliberately no fields for e-mail, name or other personal
	// data: unknown fields are rejected, so such data cannot be stored.
	Consent *bool `json:"consent,omitempty"`
}

// Personalized reports whether the event may be linked to a visitor:
// consent is given or was not stated.
func (e *Event) Personalized() bool { return e.Consent == nil || *e.Consent }

// ApplyConsent drops the visitor ids of an event sent without
// personalisation consent, before anything stores or remembers it.
func (e *Event) ApplyConsent() {
	if !e.Personalized() {
		e.SessionID, e.UserID = "", ""
	}
}
