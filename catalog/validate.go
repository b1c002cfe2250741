package catalog

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what recs accepts. They are part of the API contract (the
// README lists them): anything larger is a client bug or an attack.
const (
	MaxIDLen          = 128
	MaxTitleLen       = 512
	MaxDescriptionLen = 8192
	MaxCategoryDepth  = 8
	MaxNameLen        = 128 // category level, brand, currency, channel, ...
	MaxAttributes     = 64
	MaxAttributeLen   = 256
	MaxIncompatible   = 256
	MaxURLLen         = 2048
	MaxEventItems     = 200
	MaxQuantity       = 100000
	MaxPrice          = 1e9
	MaxStock          = 1e9
	MaxQueryLen       = 512
)

// FieldError says which field of an input is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// CheckID validates an identifier of any kind (item, event, user, ...).
func CheckID(field, id string) error {
	switch {
	case id == "":
		return fieldErr(field, "is required")
	case len(id) > MaxIDLen:
		return fieldErr(field, "is %d bytes long, the limit is %d", len(id), MaxIDLen)
	case !utf8.ValidString(id):
		return fieldErr(field, "is not valid UTF-8")
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return fieldErr(field, "contains a control character")
		}
	}
	return nil
}

func checkText(field, s string, limit int) error {
	if len(s) > limit {
		return fieldErr(field, "is %d bytes long, the limit is %d", len(s), limit)
	}
	if !utf8.ValidString(s) {
		return fieldErr(field, "is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fieldErr(field, "contains a NUL byte")
	}
	return nil
}

func checkAmount(field string, v, limit float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fieldErr(field, "is not a finite number")
	}
	if v < 0 {
		return fieldErr(field, "is negative (%g)", v)
	}
	if v > limit {
		return fieldErr(field, "is %g, the limit is %g", v, limit)
	}
	return nil
}

// Validate checks an item against the limits and basic sense: it returns
// the first problem found as a *FieldError.
func (it *Item) Validate() error {
	if err := CheckID("id", it.ID); err != nil {
		return err
	}
	if strings.TrimSpace(it.Title) == "" {
		return fieldErr("title", "is required")
	}
	if err := checkText("title", it.Title, MaxTitleLen); err != nil {
		return err
	}
	if err := checkText("description", it.Description, MaxDescriptionLen); err != nil {
		return err
	}
	if len(it.Category) > MaxCategoryDepth {
		return fieldErr("category", "has %d levels, the limit is %d", len(it.Category), MaxCategoryDepth)
	}
	for i, c := range it.Category {
		if err := checkText(fmt.Sprintf("category[%d]", i), c, MaxNameLen); err != nil {
			return err
		}
	}
	if err := checkText("brand", it.Brand, MaxNameLen); err != nil {
		return err
	}
	if err := checkAmount("price", it.Price, MaxPrice); err != nil {
		return err
	}
	if err := checkAmount("cost", it.Cost, MaxPrice); err != nil {
		return err
	}
	if len(it.Currency) > 0 && len(it.Currency) != 3 {
		return fieldErr("currency", "must be a 3-letter ISO 4217 code, got %q", it.Currency)
	}
	if it.Stock < 0 {
		return fieldErr("stock", "is negative (%d)", it.Stock)
	}
	if it.Stock > MaxStock {
		return fieldErr("stock", "is %d, the limit is %d", it.Stock, int(MaxStock))
	}
	if len(it.Attributes) > MaxAttributes {
		return fieldErr("attributes", "has %d keys, the limit is %d", len(it.Attributes), MaxAttributes)
	}
	for k, v := range it.Attributes {
		if k == "" {
			return fieldErr("attributes", "has an empty key")
		}
		if err := checkText("attributes key", k, MaxNameLen); err != nil {
			return err
		}
		if err := checkText("attributes."+k, v, MaxAttributeLen); err != nil {
			return err
		}
	}
	if len(it.IncompatibleWith) > MaxIncompatible {
		return fieldErr("incompatible_with", "has %d ids, the limit is %d", len(it.IncompatibleWith), MaxIncompatible)
	}
	for i, id := range it.IncompatibleWith {
		if err := CheckID(fmt.Sprintf("incompatible_with[%d]", i), id); err != nil {
			return err
		}
	}
	if len(it.Synthetic) > MaxAttributes {
		return fieldErr("synthetic", "has %d names, the limit is %d", len(it.Synthetic), MaxAttributes)
	}
	for _, f := range it.Synthetic {
		if err := checkText("synthetic", f, MaxNameLen); err != nil {
			return err
		}
	}
	if err := checkText("url", it.URL, MaxURLLen); err != nil {
		return err
	}
	return checkText("image_url", it.ImageURL, MaxURLLen)
}

// Validate checks an event: known type, ids present and bounded, sane
// quantities and prices, and the item lines the type needs.
func (e *Event) Validate() error {
	if err := CheckID("event_id", e.ID); err != nil {
		return err
	}
	if !e.Type.Valid() {
		return fieldErr("type", "is missing or unknown")
	}
	if e.Time.IsZero() {
		return fieldErr("time", "is required (RFC 3339, e.g. 2026-11-23T10:00:00Z)")
	}
	if y := e.Time.Year(); y < 1990 || y > 2200 {
		return fieldErr("time", "year %d is out of range", y)
	}
	if e.SessionID == "" && e.UserID == "" && e.Personalized() {
		// Without consent the storefront may have no id to send.
		return fieldErr("session_id", `session_id or user_id is required (or "consent": false)`)
	}
	if e.SessionID != "" {
		if err := CheckID("session_id", e.SessionID); err != nil {
			return err
		}
	}
	if e.UserID != "" {
		if err := CheckID("user_id", e.UserID); err != nil {
			return err
		}
	}
	if e.OrderID != "" {
		if err := CheckID("order_id", e.OrderID); err != nil {
			return err
		}
	}
	if e.RequestID != "" {
		if err := CheckID("request_id", e.RequestID); err != nil {
			return err
		}
	}
	if len(e.Items) > MaxEventItems {
		return fieldErr("items", "has %d lines, the limit is %d", len(e.Items), MaxEventItems)
	}
	if e.Type != EventSearch && len(e.Items) == 0 {
		return fieldErr("items", "a %s event needs at least one item", e.Type)
	}
	for i := range e.Items {
		if err := e.Items[i].validate(); err != nil {
			// Field names with the index are built only on failure: this
			// loop runs for every line of every ingested event.
			err.Field = fmt.Sprintf("items[%d].%s", i, err.Field)
			return err
		}
	}
	if err := checkText("query", e.Query, MaxQueryLen); err != nil {
		return err
	}
	if err := checkText("channel", e.Channel, MaxNameLen); err != nil {
		return err
	}
	return checkText("device", e.Device, MaxNameLen)
}

// Normalize fills defaults that validation does not demand: quantity 1 on
// item lines and UTC times, so equal events compare equal in every store.
func (e *Event) Normalize() {
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	for i := range e.Items {
		if e.Items[i].Quantity == 0 {
			e.Items[i].Quantity = 1
		}
	}
}

func (li *EventItem) validate() *FieldError {
	if err := CheckID("item_id", li.ItemID); err != nil {
		return err.(*FieldError)
	}
	if li.Quantity < 0 || li.Quantity > MaxQuantity {
		return fieldErr("quantity", "is %d, want 0..%d", li.Quantity, MaxQuantity)
	}
	if err := checkAmount("price", li.Price, MaxPrice); err != nil {
		return err.(*FieldError)
	}
	return nil
}
