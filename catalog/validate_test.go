package catalog

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func validItem() Item {
	return Item{ID: "SKU-1", Title: "Blue mug", Category: []string{"Home", "Kitchen"}, Price: 12.5, Cost: 5, Currency: "EUR", Stock: 3, Active: true}
}

func TestItemValidateNamesTheBadField(t *testing.T) {
	f := func(mutate func(*Item), field string) {
		t.Helper()
		it := validItem()
		mutate(&it)
		err := it.Validate()
		if field == "" {
			if err != nil {
				t.Fatalf("valid item rejected: %v", err)
			}
			return
		}
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != field {
			t.Fatalf("error %v, want a FieldError on %q", err, field)
		}
	}
	f(func(*Item) {}, "")
	f(func(it *Item) { it.ID = "" }, "id")
	f(func(it *Item) { it.ID = strings.Repeat("x", MaxIDLen+1) }, "id")
	f(func(it *Item) { it.ID = "a\nb" }, "id")
	f(func(it *Item) { it.Title = "  " }, "title")
	f(func(it *Item) { it.Price = -1 }, "price")
	f(func(it *Item) { it.Price = math.NaN() }, "price")
	f(func(it *Item) { it.Price = 2e9 }, "price")
	f(func(it *Item) { it.Cost = -0.5 }, "cost")
	f(func(it *Item) { it.Stock = -3 }, "stock")
	f(func(it *Item) { it.Currency = "EURO" }, "currency")
	f(func(it *Item) { it.Description = strings.Repeat("x", MaxDescriptionLen+1) }, "description")
	f(func(it *Item) { it.Category = make([]string, MaxCategoryDepth+1) }, "category")
	f(func(it *Item) { it.Attributes = map[string]string{"": "x"} }, "attributes")
	f(func(it *Item) { it.Attributes = map[string]string{"size": strings.Repeat("x", MaxAttributeLen+1)} }, "attributes.size")
	f(func(it *Item) { it.IncompatibleWith = []string{""} }, "incompatible_with[0]")
	f(func(it *Item) { it.Brand = "\xff" }, "brand")
}

func validEvent() Event {
	return Event{ID: "e1", Type: EventPurchase, Time: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
		SessionID: "s1", OrderID: "o1", Items: []EventItem{{ItemID: "SKU-1", Quantity: 2, Price: 12.5}}}
}

func TestEventValidateNamesTheBadField(t *testing.T) {
	f := func(mutate func(*Event), field string) {
		t.Helper()
		e := validEvent()
		mutate(&e)
		err := e.Validate()
		if field == "" {
			if err != nil {
				t.Fatalf("valid event rejected: %v", err)
			}
			return
		}
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != field {
			t.Fatalf("error %v, want a FieldError on %q", err, field)
		}
	}
	f(func(*Event) {}, "")
	f(func(e *Event) { e.Type, e.Items, e.Query = EventSearch, nil, "mug" }, "")
	f(func(e *Event) { e.SessionID, e.UserID = "", "u1" }, "")
	f(func(e *Event) { e.ID = "" }, "event_id")
	f(func(e *Event) { e.Type = EventUnknown }, "type")
	f(func(e *Event) { e.Type = 99 }, "type")
	f(func(e *Event) { e.Time = time.Time{} }, "time")
	f(func(e *Event) { e.Time = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC) }, "time")
	f(func(e *Event) { e.SessionID = "" }, "session_id")
	no, yes := false, true
	f(func(e *Event) { e.SessionID, e.Consent = "", &no }, "")
	f(func(e *Event) { e.SessionID, e.Consent = "", &yes }, "session_id")
	f(func(e *Event) { e.Items = nil }, "items")
	f(func(e *Event) { e.Items = make([]EventItem, MaxEventItems+1) }, "items")
	f(func(e *Event) { e.Items[0].ItemID = "" }, "items[0].item_id")
	f(func(e *Event) { e.Items[0].Quantity = MaxQuantity + 1 }, "items[0].quantity")
	f(func(e *Event) { e.Items[0].Quantity = -1 }, "items[0].quantity")
	f(func(e *Event) { e.Items[0].Price = -1 }, "items[0].price")
	f(func(e *Event) { e.Query = strings.Repeat("q", MaxQueryLen+1) }, "query")
	f(func(e *Event) { e.RequestID = "0123456789abcdef" }, "")
	f(func(e *Event) { e.RequestID = strings.Repeat("r", MaxIDLen+1) }, "request_id")
	f(func(e *Event) { e.RequestID = "a\tb" }, "request_id")
}

func TestEventTypeJSONRoundTrip(t *testing.T) {
	for typ := EventViewItem; typ <= EventRefund; typ++ {
		b, err := json.Marshal(typ)
		if err != nil {
			t.Fatal(err)
		}
		var back EventType
		if err := json.Unmarshal(b, &back); err != nil || back != typ {
			t.Fatalf("%s: round trip gave %v, %v", b, back, err)
		}
	}
	var e EventType
	if err := json.Unmarshal([]byte(`"teleport"`), &e); err == nil || !strings.Contains(err.Error(), "view_item") {
		t.Fatalf("unknown type error %v should list the known types", err)
	}
}

func TestItemJSONDefaultsActiveAndRejectsUnknownFields(t *testing.T) {
	var it Item
	if err := json.Unmarshal([]byte(`{"id":"a","title":"A","price":1,"stock":1}`), &it); err != nil || !it.Active {
		t.Fatalf("active should default to true: %+v, %v", it, err)
	}
	if err := json.Unmarshal([]byte(`{"id":"a","title":"A","price":1,"stock":1,"active":false}`), &it); err != nil || it.Active {
		t.Fatalf("explicit active=false lost: %+v, %v", it, err)
	}
	if err := json.Unmarshal([]byte(`{"id":"a","stok":1}`), &it); err == nil || !strings.Contains(err.Error(), "stok") {
		t.Fatalf("misspelt field not reported: %v", err)
	}
}

func TestMarginAndCategoryKey(t *testing.T) {
	it := validItem()
	if m := it.Margin(); m != 0.6 {
		t.Fatalf("margin %v, want 0.6", m)
	}
	if k := it.CategoryKey(); k != "Home > Kitchen" {
		t.Fatalf("category key %q", k)
	}
	it.Price = 0
	if it.Margin() != 0 {
		t.Fatal("margin of a free item must be 0")
	}
}

func TestEventWithoutConsentLosesItsVisitorIDs(t *testing.T) {
	f := func(consent string, wantIDs bool) {
		t.Helper()
		var e Event
		body := `{"event_id":"e1","type":"view_item","time":"2026-11-01T10:00:00Z","session_id":"s1","user_id":"u1","items":[{"item_id":"a"}]` + consent + `}`
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatal(err)
		}
		e.ApplyConsent()
		if got := e.SessionID != "" && e.UserID != ""; got != wantIDs {
			t.Fatalf("consent %q: ids kept %v, want %v", consent, got, wantIDs)
		}
	}
	f("", true)
	f(`,"consent":true`, true)
	f(`,"consent":false`, false)
}

// Personal data has no place in an event: a storefront that sends an
// e-mail address or a name gets an error, never a stored copy.
func TestEventRejectsPersonalDataFields(t *testing.T) {
	for _, field := range []string{"email", "e_mail", "name", "first_name", "phone", "address", "ip"} {
		body := `{"event_id":"e1","type":"view_item","time":"2026-11-01T10:00:00Z","session_id":"s1","items":[{"item_id":"a"}],"` + field + `":"x"}`
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		var e Event
		if err := dec.Decode(&e); err == nil || !strings.Contains(err.Error(), field) {
			t.Fatalf("field %q: error %v, want it rejected", field, err)
		}
	}
	typ := reflect.TypeOf(Event{})
	for i := range typ.NumField() {
		name := strings.ToLower(typ.Field(i).Name)
		for _, pii := range []string{"mail", "name", "phone", "address", "ip"} {
			if strings.Contains(name, pii) {
				t.Errorf("Event has a field %s that looks like personal data", typ.Field(i).Name)
			}
		}
	}
}
