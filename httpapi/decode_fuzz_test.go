package httpapi

import (
	"errors"
	"testing"

	"github.com/recs-server/recs/catalog"
)

// The request parsers must answer any body with values or a 4xx, never a
// panic or another error kind.
func FuzzDecodeEvents(f *testing.F) {
	f.Add([]byte(`{"event_id":"e1","type":"view_item","time":"2026-11-01T10:00:00Z","session_id":"s1","items":[{"item_id":"a"}]}`))
	f.Add([]byte(`[{"event_id":"e1","type":"purchase","time":"2026-11-01T10:00:00Z","user_id":"u","items":[{"item_id":"a","quantity":2,"price":3.5}]}]`))
	f.Add([]byte("{\"event_id\":\"e\"}\n{\"event_id\":\"f\"}\n"))
	f.Add([]byte(`[1,2,`))
	f.Add([]byte(`{"event_id":"e1","type":"view_item","time":"2026-11-01T10:00:00Z","items":[{"item_id":"a"}],"consent":false}`))
	f.Add([]byte(`{"event_id":"e1","type":"view_item","time":"2026-11-01T10:00:00Z","session_id":"s","items":[{"item_id":"a"}],"email":"a@b"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := decodeBatch(body, "events", 20, func(e *catalog.Event) error {
			if err := e.Validate(); err != nil {
				return err
			}
			e.Normalize()
			return nil
		})
		checkDecoded(t, len(evs), err)
		for i := range evs {
			if evs[i].Validate() != nil {
				t.Fatalf("decoded event %d is invalid", i)
			}
		}
	})
}

func FuzzDecodeItems(f *testing.F) {
	f.Add([]byte(`{"id":"a","title":"A","price":1,"stock":2,"category":["x"],"attributes":{"k":"v"}}`))
	f.Add([]byte(`[{"id":"a","title":"A","price":-1,"stock":2}]`))
	f.Add([]byte(`{"id":"a","stok":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := decodeBatch(body, "items", 20, func(it *catalog.Item) error { return it.Validate() })
		checkDecoded(t, len(items), err)
	})
}

func checkDecoded(t *testing.T, n int, err error) {
	t.Helper()
	if err == nil {
		if n == 0 || n > 20 {
			t.Fatalf("accepted %d values", n)
		}
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) || ae.status != 400 || ae.msg == "" {
		t.Fatalf("error %v is not a 400 with a message", err)
	}
}

func FuzzDecodeListRequest(f *testing.F) {
	f.Add([]byte(`{"session_id":"s","item_ids":["a","b"],"limit":3}`))
	f.Add([]byte(`{"placement":"category","item_ids":["a"]}`))
	f.Add([]byte(`{"item_ids":"a"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeListRequest(body, 5)
		if err == nil {
			if len(r.ItemIDs) > 5 {
				t.Fatalf("accepted %d ids", len(r.ItemIDs))
			}
			return
		}
		checkDecoded(t, 1, err)
	})
}
