package httpapi

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/recs-server/recs/catalog"
)

// Popularity scopes the server falls back on; the build writes them.
const (
	scopeAll7d    = "all:7d"
	scopeTrending = "trending"
)

func categoryScope(top string) string { return "category:" + top + ":30d" }

// RecItem is one recommended item with what a widget needs to show it.
type RecItem struct {
	ItemID   string   `json:"item_id"`
	Score    float64  `json:"score"`
	Reasons  []string `json:"reasons"`
	Title    string   `json:"title"`
	Price    float64  `json:"price"`
	Currency string   `json:"currency,omitempty"`
	URL      string   `json:"url,omitempty"`
	ImageURL string   `json:"image_url,omitempty"`
}

// Module is one block of recommendations on a page.
type Module struct {
	ID    string    `json:"id"`
	Items []RecItem `json:"items"`
}

// Response is the body of every recommendation endpoint.
type Response struct {
	RequestID    string   `json:"request_id"`
	ModelVersion string   `json:"model_version"`
	Modules      []Module `json:"modules"`
}

func newRequestID() string {
	var b [8]byte
	v := rand.Uint64()
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

func (s *Server) limitArg(ctx *fasthttp.RequestCtx) (int, error) {
	raw := ctx.QueryArgs().Peek("limit")
	if len(raw) == 0 {
		return s.cfg.DefaultLimit, nil
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 1 || n > s.cfg.MaxLimit {
		return 0, badRequest("limit must be an integer from 1 to %d, got %q", s.cfg.MaxLimit, raw)
	}
	return n, nil
}

func (s *Server) modelVersion(c context.Context) string {
	bi, err := s.store.LatestBuild(c)
	if err != nil {
		return "none"
	}
	return bi.Version
}

// source is one candidate list with the reason it gives its items.
type source struct {
	reason string
	items  []catalog.Scored
}

// assemble merges sources in priority order into a module of up to limit
// items that exist, are active and in stock, and are not excluded. Until
// the ranker scores candidates, an item's score is 1/position.
func assemble(id string, limit int, items map[string]*catalog.Item, exclude map[string]bool, sources ...source) Module {
	m := Module{ID: id, Items: make([]RecItem, 0, limit)}
	taken := map[string]int{}
	for _, src := range sources {
		for _, sc := range src.items {
			if i, ok := taken[sc.ItemID]; ok {
				m.Items[i].Reasons = append(m.Items[i].Reasons, src.reason)
				continue
			}
			if len(m.Items) == limit {
				break
			}
			it := items[sc.ItemID]
			if it == nil || !it.Active || it.Stock <= 0 || exclude[sc.ItemID] {
				continue
			}
			taken[sc.ItemID] = len(m.Items)
			m.Items = append(m.Items, RecItem{
				ItemID: it.ID, Score: 1 / float64(len(m.Items)+1), Reasons: []string{src.reason},
				Title: it.Title, Price: it.Price, Currency: it.Currency, URL: it.URL, ImageURL: it.ImageURL,
			})
		}
	}
	return m
}

// loadItems fetches the catalogue entries of every candidate at once.
func (s *Server) loadItems(c context.Context, lists ...[]catalog.Scored) (map[string]*catalog.Item, error) {
	var ids []string
	seen := map[string]bool{}
	for _, l := range lists {
		for _, sc := range l {
			if !seen[sc.ItemID] {
				seen[sc.ItemID] = true
				ids = append(ids, sc.ItemID)
			}
		}
	}
	items, err := s.store.Items(c, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*catalog.Item, len(items))
	for i := range items {
		out[items[i].ID] = &items[i]
	}
	return out, nil
}

// pdp serves a product page: `similar` (viewed in the same sessions, then
// popular in the same department) and `bought_together` (bought in the
// same orders). An unknown item_id is a 404.
func (s *Server) pdp(ctx *fasthttp.RequestCtx) error {
	id := string(ctx.QueryArgs().Peek("item_id"))
	if err := catalog.CheckID("item_id", id); err != nil {
		return badRequest("%s", err)
	}
	limit, err := s.limitArg(ctx)
	if err != nil {
		return err
	}
	c, cancel := context.WithTimeout(s.base, s.cfg.ReadDeadline)
	defer cancel()
	anchor, err := s.store.Items(c, []string{id})
	if err != nil {
		return fmt.Errorf("read anchor item: %w", err)
	}
	if len(anchor) == 0 {
		return notFound("item_id %q is not in the catalogue", id)
	}
	a := &anchor[0]
	k := limit * 3
	coView, err := s.store.Neighbors(c, catalog.CoView, id, k)
	if err != nil {
		return err
	}
	coBuy, err := s.store.Neighbors(c, catalog.CoPurchase, id, k)
	if err != nil {
		return err
	}
	var inCategory []catalog.Scored
	if len(a.Category) > 0 {
		if inCategory, err = s.store.Popular(c, categoryScope(a.Category[0]), k); err != nil {
			return err
		}
	}
	items, err := s.loadItems(c, coView, coBuy, inCategory)
	if err != nil {
		return fmt.Errorf("read candidate items: %w", err)
	}
	exclude := map[string]bool{id: true}
	for _, x := range a.IncompatibleWith {
		exclude[x] = true
	}
	resp := Response{
		RequestID:    newRequestID(),
		ModelVersion: s.modelVersion(c),
		Modules: []Module{
			assemble("similar", limit, items, exclude, source{"co_view", coView}, source{"popular_in_category", inCategory}),
			assemble("bought_together", limit, items, exclude, source{"co_purchase", coBuy}),
		},
	}
	return writeJSON(ctx, fasthttp.StatusOK, resp)
}

// home serves the home page: `trending` and, until visitor profiles
// exist, `for_you` from the week's most popular items.
func (s *Server) home(ctx *fasthttp.RequestCtx) error {
	limit, err := s.limitArg(ctx)
	if err != nil {
		return err
	}
	c, cancel := context.WithTimeout(s.base, s.cfg.ReadDeadline)
	defer cancel()
	k := limit * 3
	trending, err := s.store.Popular(c, scopeTrending, k)
	if err != nil {
		return err
	}
	popular, err := s.store.Popular(c, scopeAll7d, k)
	if err != nil {
		return err
	}
	items, err := s.loadItems(c, trending, popular)
	if err != nil {
		return fmt.Errorf("read candidate items: %w", err)
	}
	resp := Response{
		RequestID:    newRequestID(),
		ModelVersion: s.modelVersion(c),
		Modules: []Module{
			assemble("for_you", limit, items, nil, source{"popular", popular}),
			assemble("trending", limit, items, nil, source{"trending", trending}),
		},
	}
	return writeJSON(ctx, fasthttp.StatusOK, resp)
}

func (s *Server) healthz(ctx *fasthttp.RequestCtx) error {
	return writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 once the store answers and a build is published, so a
// load balancer sends traffic only to a server that can recommend.
func (s *Server) readyz(ctx *fasthttp.RequestCtx) error {
	c, cancel := context.WithTimeout(s.base, time.Second)
	defer cancel()
	if err := s.store.Ping(c); err != nil {
		return writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
	}
	bi, err := s.store.LatestBuild(c)
	if errors.Is(err, catalog.ErrNotFound) {
		return writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]string{"status": "no model built yet: run `recs build`"})
	}
	if err != nil {
		return writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
	}
	return writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ready", "model_version": bi.Version})
}

func (s *Server) writeMetrics(ctx *fasthttp.RequestCtx) error {
	ctx.SetContentType("text/plain; version=0.0.4")
	s.metrics.WritePrometheus(ctx)
	return nil
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	return nil
}

func appendJSONError(dst []byte, msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return append(dst, b...)
}
