package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/recs-server/recs/catalog"
)

// decodeBatch reads a body holding one JSON object, a JSON array of
// objects, or newline-delimited objects, strictly (unknown fields are an
// error), into at most max values. what names the values in errors
// ("events[3]: ...") so a client knows which one to fix.
func decodeBatch[T any](body []byte, what string, max int, check func(*T) error) ([]T, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, badRequest("the request body is empty; send a JSON object, an array or NDJSON")
	}
	var raws []json.RawMessage
	if body[0] == '[' {
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, badRequest("malformed JSON array: %s", jsonErrMsg(err))
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		for {
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, badRequest("malformed JSON at %s[%d]: %s", what, len(raws), jsonErrMsg(err))
			}
			raws = append(raws, raw)
			if len(raws) > max {
				break
			}
		}
	}
	if len(raws) == 0 {
		return nil, badRequest("no %s in the request body", what)
	}
	if len(raws) > max {
		return nil, badRequest("too many %s in one request: the limit is %d", what, max)
	}
	out := make([]T, len(raws))
	for i, raw := range raws {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out[i]); err != nil {
			return nil, badRequest("%s[%d]: %s", what, i, jsonErrMsg(err))
		}
		if err := check(&out[i]); err != nil {
			return nil, badRequest("%s[%d]: %s", what, i, err)
		}
	}
	return out, nil
}

// decodeStrict decodes one JSON object, rejecting unknown fields.
func decodeStrict(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return badRequest("the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed request: %s", jsonErrMsg(err))
	}
	if dec.More() {
		return badRequest("malformed request: more than one JSON value in the body")
	}
	return nil
}

// jsonErrMsg turns encoding/json's messages into ones that name the field.
func jsonErrMsg(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: must be %s, got %s", te.Field, te.Type, te.Value)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + f
	}
	return strings.TrimPrefix(msg, "json: ")
}

type writeResult struct {
	Accepted int `json:"accepted"`
	Unknown  int `json:"unknown,omitempty"`
}

// putItems upserts a batch of items. The batch is all or nothing: one
// invalid item rejects the request and nothing is stored.
func (s *Server) putItems(ctx *fasthttp.RequestCtx) error {
	items, err := decodeBatch(ctx.PostBody(), "items", s.cfg.MaxBatch, func(it *catalog.Item) error { return it.Validate() })
	if err != nil {
		return err
	}
	c, cancel := context.WithTimeout(s.base, s.cfg.WriteDeadline)
	defer cancel()
	if err := s.store.UpsertItems(c, items); err != nil {
		return fmt.Errorf("upsert items: %w", err)
	}
	if err := s.engine.ItemsUpserted(c, items); err != nil {
		// The items are stored; only their vectors wait for the next build.
		s.log.Error("embedding upserted items failed", "err", err)
		s.metrics.GetOrCreateCounter(`recs_embed_errors_total`).Inc()
	}
	s.audit(c, ctx, catalog.AuditEntry{Action: catalog.AuditItemsPut, Counts: map[string]int64{"items": int64(len(items))}})
	return writeJSON(ctx, fasthttp.StatusOK, writeResult{Accepted: len(items)})
}

func checkStockUpdate(u *catalog.StockUpdate) error {
	if err := catalog.CheckID("item_id", u.ItemID); err != nil {
		return err
	}
	if u.Stock < 0 || u.Stock > catalog.MaxStock {
		return &catalog.FieldError{Field: "stock", Reason: fmt.Sprintf("is %d, want 0..%d", u.Stock, int(catalog.MaxStock))}
	}
	return nil
}

// postStock applies a batch of stock levels; updates of unknown item ids
// are counted, not errors, since stock feeds often run ahead of the
// catalogue. Concurrent posts share group writes (ingest.StockWriter).
func (s *Server) postStock(ctx *fasthttp.RequestCtx) error {
	ups, err := decodeBatch(ctx.PostBody(), "updates", s.cfg.MaxBatch*10, checkStockUpdate)
	if err != nil {
		return err
	}
	c, cancel := context.WithTimeout(s.base, s.cfg.WriteDeadline)
	defer cancel()
	unknown, err := s.stock.Submit(c, actor(ctx), ups)
	if err != nil {
		return fmt.Errorf("update stock: %w", err)
	}
	return writeJSON(ctx, fasthttp.StatusOK, writeResult{Accepted: len(ups) - unknown, Unknown: unknown})
}

// postEvents stores a batch of events and answers only once they are
// durable (group commit with concurrent requests); a resent event id is
// accepted again but stored once. Visitor ids are pseudonymised, or
// dropped for events sent without consent, before anything keeps them.
// When the store fails nothing is acknowledged: 503, and the client
// retries.
func (s *Server) postEvents(ctx *fasthttp.RequestCtx) error {
	evs, err := decodeBatch(ctx.PostBody(), "events", s.cfg.MaxBatch, func(e *catalog.Event) error {
		if err := e.Validate(); err != nil {
			return err
		}
		e.Normalize()
		if err := s.checkNotPersonal(e); err != nil {
			return err
		}
		s.ids.Event(e)
		return nil
	})
	if err != nil {
		return err
	}
	c, cancel := context.WithTimeout(s.base, s.cfg.WriteDeadline)
	defer cancel()
	if err := s.events.Submit(c, evs); err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	for i := range evs {
		s.engine.Record(&evs[i])
	}
	return writeJSON(ctx, fasthttp.StatusOK, writeResult{Accepted: len(evs)})
}

func (s *Server) getItem(ctx *fasthttp.RequestCtx) error {
	id := strings.TrimPrefix(string(ctx.Path()), "/v1/items/")
	if err := catalog.CheckID("item id", id); err != nil {
		return badRequest("%s", err)
	}
	c, cancel := context.WithTimeout(s.base, s.cfg.WriteDeadline)
	defer cancel()
	items, err := s.store.Items(c, []string{id})
	if err != nil {
		return fmt.Errorf("read item: %w", err)
	}
	if len(items) == 0 {
		return notFound("item %q does not exist", id)
	}
	return writeJSON(ctx, fasthttp.StatusOK, items[0])
}
