// Package dataimport loads bulk data into a store: a shop's catalog and
// event history in the JSONL interchange format, and the UCI Online Retail
// CSV used for development and evaluation. Every importer hands records to a
// Sink in batches and returns a Report that accounts for every input line:
// bad lines are counted and reported, never fatal; only I/O, sink failures
// and cancellation end an import early.
//
// # JSONL interchange format
//
// One JSON object per line, UTF-8, lines separated by "\n" ("\r\n" is
// accepted). Blank lines are ignored. A line may be at most 1 MiB
// (MaxLineLen); longer lines are skipped. The field "kind" says what the
// line is; the other fields are exactly the JSON fields of catalog.Item or
// catalog.Event, flat in the same object:
//
//	{"kind":"item","id":"SKU-1","title":"Blue mug","category":["Home","Kitchen"],"brand":"Acme","price":12.5,"cost":5,"currency":"EUR","stock":40,"attributes":{"colour":"blue"}}
//	{"kind":"event","event_id":"e1","type":"purchase","time":"2026-11-01T10:00:00Z","session_id":"s1","user_id":"u1","order_id":"o1","items":[{"item_id":"SKU-1","quantity":2,"price":12.5}],"channel":"web","device":"mobile"}
//
// Item fields ("kind":"item"):
//
//	id                 string, required, at most 128 bytes, no control characters
//	title              string, required, at most 512 bytes
//	description        string, at most 8192 bytes
//	category           array of strings, the path from the root, at most 8 levels of 128 bytes
//	brand              string, at most 128 bytes
//	price, cost        number >= 0, per unit in major currency units (12.5 = 12.50 EUR), at most 1e9
//	currency           string, ISO 4217 code such as "EUR"
//	stock              integer >= 0, at most 1e9
//	attributes         object of string values, at most 64 keys, values at most 256 bytes
//	incompatible_with  array of item ids never to recommend with this one
//	consumable         bool, may be recommended again soon after a purchase
//	url, image_url     string, at most 2048 bytes
//	active             bool, default true: a listed item is on sale unless it says otherwise
//	synthetic          array of field names that were made up rather than supplied
//	created_at, updated_at  RFC 3339 time; the import time when absent
//
// An item line replaces the stored item with the same id (created_at of an
// existing item is kept by the store).
//
// Event fields ("kind":"event"):
//
//	event_id    string, required, unique: an event whose id the store already has is not inserted again,
//	            so re-running an import is harmless
//	type        one of view_item, add_to_cart, remove_from_cart, begin_checkout, purchase, search, refund
//	time        RFC 3339 time, required (stored in UTC, microsecond precision)
//	session_id  string; user_id string: at least one of them is required
//	items       array of {"item_id": string, "quantity": integer 0..100000 (0 means 1), "price": number >= 0};
//	            required except for search, at most 200 lines
//	order_id    string, for purchase and refund
//	query       string, for search, at most 512 bytes
//	channel, device  strings, at most 128 bytes
//	request_id  string, at most 128 bytes: the request_id of the recommendation response the
//	            shopper acted on (sent by the widget with a click), for attribution
//
// Decoding is strict: a field not listed here, a value of the wrong JSON type
// or an unknown event type makes the line fail, and the report names the
// line and the field. Failed lines are skipped; the lines around them load.
// Write field names exactly as listed: other capitalisations and repeated
// fields are accepted today only because encoding/json accepts them.
//
// Items are sent to the store before any event of the same import that
// follows them, so events never refer to items still waiting in a buffer.
//
// # Online Retail CSV
//
// ImportOnlineRetail reads the UCI Online Retail data set (gzip-compressed or
// not) and maps it to the catalog: one purchase event per invoice, one refund
// event per cancellation invoice, one item per product code that was sold.
// Its documentation lists the rules; the synthetic fields (category, cost and
// stock, which the data lacks) are named in every item and report.
package dataimport
