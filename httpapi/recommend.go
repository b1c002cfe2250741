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
	"github.com/recs-server/recs/recommend"
)

// Limits on recommendation requests.
const (
	maxCartItems = 100
	maxRankItems = 500
)

// Response is the body of every recommendation endpoint.
type Response struct {
	RequestID    string             `json:"request_id"`
	ModelVersion string             `json:"model_version"`
	Modules      []recommend.Module `json:"modules"`
}

// RankResponse is the body of /v1/rank.
type RankResponse struct {
	RequestID    string           `json:"request_id"`
	ModelVersion string           `json:"model_version"`
	Items        []recommend.Item `json:"items"`
}

func newRequestID() string {
	var b [8]byte
	v := rand.Uint64()
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

func (s *Server) checkLimit(n int, given bool) (int, error) {
	if !given {
		return s.cfg.DefaultLimit, nil
	}
	if n < 1 || n > s.cfg.MaxLimit {
		return 0, badRequest("limit must be an integer from 1 to %d, got %d", s.cfg.MaxLimit, n)
	}
	return n, nil
}

func (s *Server) limitArg(ctx *fasthttp.RequestCtx) (int, error) {
	raw := ctx.QueryArgs().Peek("limit")
	if len(raw) == 0 {
		return s.cfg.DefaultLimit, nil
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil {
		return 0, badRequest("limit must be an integer from 1 to %d, got %q", s.cfg.MaxLimit, raw)
	}
	return s.checkLimit(n, true)
}

// pageArgs reads the query arguments every GET page takes: limit, the
// optional session_id and user_id, and consent.
func (s *Server) pageArgs(ctx *fasthttp.RequestCtx) (recommend.Request, error) {
	limit, err := s.limitArg(ctx)
	if err != nil {
		return recommend.Request{}, err
	}
	consent, err := consentArg(ctx.QueryArgs().Peek("consent"))
	if err != nil {
		return recommend.Request{}, err
	}
	r := recommend.Request{Limit: limit}
	r.SessionID, r.UserID, err = s.visitor(string(ctx.QueryArgs().Peek("session_id")), string(ctx.QueryArgs().Peek("user_id")), consent)
	return r, err
}

// consentArg reads the consent query argument: absent means given.
func consentArg(raw []byte) (bool, error) {
	switch string(raw) {
	case "", "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badRequest("consent must be true or false, got %q", raw)
}

// visitor checks a request's visitor ids and returns them as the engine
// may see them: pseudonymised, or none at all without personalisation
// consent, so the visitor gets non-personalised modules and leaves no
// trace in session state.
func (s *Server) visitor(sessionID, userID string, consent bool) (string, string, error) {
	if err := checkVisitor(sessionID, userID); err != nil {
		return "", "", err
	}
	if !consent {
		return "", "", nil
	}
	return s.ids.ID(sessionID), s.ids.ID(userID), nil
}

func checkVisitor(sessionID, userID string) error {
	if sessionID != "" {
		if err := catalog.CheckID("session_id", sessionID); err != nil {
			return badRequest("%s", err)
		}
	}
	if userID != "" {
		if err := catalog.CheckID("user_id", userID); err != nil {
			return badRequest("%s", err)
		}
	}
	return nil
}

func (s *Server) respond(ctx *fasthttp.RequestCtx, mods []recommend.Module, err error) error {
	if errors.Is(err, recommend.ErrUnknownItem) {
		return notFound("item_id %q is not in the catalogue", ctx.QueryArgs().Peek("item_id"))
	}
	if err != nil {
		return err
	}
	resp := Response{RequestID: newRequestID(), ModelVersion: s.engine.ModelVersion(), Modules: mods}
	writeEncoded(ctx, func(dst []byte) []byte { return appendResponse(dst, &resp) })
	s.engine.Recycle(mods) // written: the body holds a copy
	return nil
}

// readContext bounds a read by ReadDeadline, arming the timer only if
// the read waits on something (lazyDeadline).
func (s *Server) readContext() (context.Context, context.CancelFunc) {
	return withLazyDeadline(s.base, s.cfg.ReadDeadline)
}

// pdp serves a product page. An unknown item_id is a 404: the storefront
// asked about a product recs has not been told of (see PUT /v1/items).
func (s *Server) pdp(ctx *fasthttp.RequestCtx) error {
	id := string(ctx.QueryArgs().Peek("item_id"))
	if err := catalog.CheckID("item_id", id); err != nil {
		return badRequest("%s", err)
	}
	r, err := s.pageArgs(ctx)
	if err != nil {
		return err
	}
	r.ItemID = id
	c, cancel := s.readContext()
	defer cancel()
	mods, err := s.engine.PDP(c, r)
	return s.respond(ctx, mods, err)
}

func (s *Server) home(ctx *fasthttp.RequestCtx) error {
	r, err := s.pageArgs(ctx)
	if err != nil {
		return err
	}
	c, cancel := s.readContext()
	defer cancel()
	mods, err := s.engine.Home(c, r)
	return s.respond(ctx, mods, err)
}

// listRequest is the body of the cart and rank endpoints.
type listRequest struct {
	SessionID string   `json:"session_id"`
	UserID    string   `json:"user_id"`
	ItemIDs   []string `json:"item_ids"`
	Limit     *int     `json:"limit"`
	Placement string   `json:"placement"`
	// Consent false: no personalisation (see Server.visitor).
	Consent *bool `json:"consent"`
}

// consent reports whether the request may be personalised: absent means
// given.
func (r *listRequest) consent() bool { return r.Consent == nil || *r.Consent }

func decodeListRequest(body []byte, maxIDs int) (*listRequest, error) {
	var r listRequest
	if err := decodeStrict(body, &r); err != nil {
		return nil, err
	}
	if err := checkVisitor(r.SessionID, r.UserID); err != nil {
		return nil, err
	}
	if len(r.ItemIDs) > maxIDs {
		return nil, badRequest("item_ids has %d ids, the limit is %d", len(r.ItemIDs), maxIDs)
	}
	for i, id := range r.ItemIDs {
		if err := catalog.CheckID(fmt.Sprintf("item_ids[%d]", i), id); err != nil {
			return nil, badRequest("%s", err)
		}
	}
	return &r, nil
}

// cart serves a cart page: never an item already in the cart.
func (s *Server) cart(ctx *fasthttp.RequestCtx) error {
	r, err := decodeListRequest(ctx.PostBody(), maxCartItems)
	if err != nil {
		return err
	}
	if len(r.ItemIDs) == 0 {
		return badRequest("item_ids is required: the ids of the items in the cart")
	}
	limit, err := s.checkLimit(derefInt(r.Limit), r.Limit != nil)
	if err != nil {
		return err
	}
	sid, uid, err := s.visitor(r.SessionID, r.UserID, r.consent())
	if err != nil {
		return err
	}
	c, cancel := s.readContext()
	defer cancel()
	mods, err := s.engine.Cart(c, recommend.Request{ItemIDs: r.ItemIDs, SessionID: sid, UserID: uid, Limit: limit})
	return s.respond(ctx, mods, err)
}

// rank re-orders a category or search page's ids for the visitor.
func (s *Server) rank(ctx *fasthttp.RequestCtx) error {
	r, err := decodeListRequest(ctx.PostBody(), maxRankItems)
	if err != nil {
		return err
	}
	switch r.Placement {
	case "category", "search":
	case "":
		return badRequest("placement is required: category or search")
	default:
		return badRequest("placement %q is unknown: want category or search", r.Placement)
	}
	if r.Limit != nil {
		return badRequest("limit is not used by /v1/rank: every id comes back")
	}
	if len(r.ItemIDs) == 0 {
		return badRequest("item_ids is required: the ids of the page, in the shop's order")
	}
	seen := make(map[string]bool, len(r.ItemIDs))
	for i, id := range r.ItemIDs {
		if seen[id] {
			return badRequest("item_ids[%d]: %q is listed twice", i, id)
		}
		seen[id] = true
	}
	sid, uid, err := s.visitor(r.SessionID, r.UserID, r.consent())
	if err != nil {
		return err
	}
	c, cancel := s.readContext()
	defer cancel()
	items, err := s.engine.Rank(c, recommend.Request{ItemIDs: r.ItemIDs, SessionID: sid, UserID: uid})
	if err != nil {
		return err
	}
	resp := RankResponse{RequestID: newRequestID(), ModelVersion: s.engine.ModelVersion(), Items: items}
	writeEncoded(ctx, func(dst []byte) []byte { return appendRankResponse(dst, &resp) })
	s.engine.RecycleRanked(items) // written: the body holds a copy
	return nil
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func (s *Server) healthz(ctx *fasthttp.RequestCtx) error {
	return writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 once a build is being served and the warm-up at
// start is done (or has run for its time limit), so a load balancer
// sends traffic only to a server that can recommend quickly. While the
// store is down a server that has served a build stays ready
// ("degraded"): its reads are answered from caches and fallbacks, and
// every replica shares the store, so taking them all out would turn a
// degraded service into none. Event posts answer 503 meanwhile, and clients retry them.
func (s *Server) readyz(ctx *fasthttp.RequestCtx) error {
	if v := s.engine.ModelVersion(); v != "none" && s.engine.Warming() {
		// The first requests would wait on the store (see
		// recommend/warm.go). Checked before the ping, which would wait
		// for a connection the warm-up holds and report the store down.
		return writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]string{"status": "warming caches", "model_version": v})
	}
	c, cancel := context.WithTimeout(s.base, time.Second)
	defer cancel()
	err := s.store.Ping(c)
	if err == nil {
		_, err = s.engine.Refresh(c)
	}
	v := s.engine.ModelVersion()
	if err != nil {
		if v == "none" {
			return writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
		}
		return writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "degraded: store unavailable", "model_version": v})
	}
	if v == "none" {
		return writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]string{"status": "no model built yet: run `recs build`"})
	}
	if s.engine.Warming() { // the build was picked up just now
		return writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]string{"status": "warming caches", "model_version": v})
	}
	return writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ready", "model_version": v})
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
