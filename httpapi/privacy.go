package httpapi

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/ingest"
)

// erasureResult is the body of DELETE /v1/users/{id}.
type erasureResult struct {
	Erased   bool      `json:"erased"`
	Events   int       `json:"events"`
	Sessions int       `json:"sessions"`
	Profile  bool      `json:"profile"`
	ErasedAt time.Time `json:"erased_at"`
}

// deleteUser erases a shopper everywhere at once: the store deletes the
// user's events, the anonymous events of the linked sessions and the
// profile, and leaves tombstones so nothing of theirs is stored again;
// then the engine forgets their in-memory state. It takes the shop's raw
// id and pseudonymises it as events were. Erasing twice is harmless.
func (s *Server) deleteUser(ctx *fasthttp.RequestCtx) error {
	return s.erase(ctx, "/v1/users/", "user id", catalog.AuditEraseUser, s.store.EraseUser)
}

// deleteSession erases an anonymous visitor (a session id, e.g. the
// widget's cookie id when the visitor withdraws consent or asks to be
// forgotten): the session's events without a user, and its in-memory
// state.
func (s *Server) deleteSession(ctx *fasthttp.RequestCtx) error {
	return s.erase(ctx, "/v1/sessions/", "session id", catalog.AuditEraseSession, s.store.EraseSession)
}

func (s *Server) erase(ctx *fasthttp.RequestCtx, prefix, what, action string,
	eraseFn func(context.Context, string, time.Time) (catalog.Erasure, error)) error {
	raw := strings.TrimPrefix(string(ctx.Path()), prefix)
	if err := catalog.CheckID(what, raw); err != nil {
		return badRequest("%s", err)
	}
	c, cancel := context.WithTimeout(s.base, s.cfg.WriteDeadline)
	defer cancel()
	er, err := eraseFn(c, s.ids.ID(raw), time.Now())
	if err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	s.engine.Forget(er)
	s.metrics.GetOrCreateCounter(`recs_erasures_total{what="` + action + `"}`).Inc()
	s.audit(c, ctx, catalog.AuditEntry{Action: action, Counts: map[string]int64{
		"events": int64(er.Events), "sessions": int64(len(er.SessionIDs)), "profile": b2i(er.Profile)}})
	return writeJSON(ctx, fasthttp.StatusOK, erasureResult{Erased: true, Events: er.Events,
		Sessions: len(er.SessionIDs), Profile: er.Profile, ErasedAt: er.ErasedAt})
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// audit records an admin action with the caller's key label and the model
// version served. A failed write is logged and counted but does not fail
// the action, which has already happened.
func (s *Server) audit(c context.Context, ctx *fasthttp.RequestCtx, e catalog.AuditEntry) {
	e.Actor = actor(ctx)
	s.appendAudit(c, e)
}

// auditStock logs one group write of stock levels, for one actor: stock
// posts come by the hundred a second, so the log has an entry per write,
// not per post.
func (s *Server) auditStock(c context.Context, w ingest.StockWrite) {
	s.appendAudit(c, catalog.AuditEntry{Action: catalog.AuditStock, Actor: w.Actor, Counts: map[string]int64{
		"requests": int64(w.Requests), "updates": int64(w.Updates), "unknown": int64(w.Unknown)}})
}

func (s *Server) appendAudit(c context.Context, e catalog.AuditEntry) {
	e.At = time.Now()
	e.ModelVersion = s.engine.ModelVersion()
	if err := s.store.AppendAudit(c, e); err != nil {
		s.log.Error("audit entry not written", "action", e.Action, "err", err)
		s.metrics.GetOrCreateCounter(`recs_audit_errors_total`).Inc()
	}
}

// maxAuditEntries bounds one read of the audit log.
const maxAuditEntries = 1000

// getAudit returns the newest audit entries (`limit`, default 100).
func (s *Server) getAudit(ctx *fasthttp.RequestCtx) error {
	limit := 100
	if raw := ctx.QueryArgs().Peek("limit"); len(raw) > 0 {
		n, err := strconv.Atoi(string(raw))
		if err != nil || n < 1 || n > maxAuditEntries {
			return badRequest("limit must be an integer from 1 to %d, got %q", maxAuditEntries, raw)
		}
		limit = n
	}
	c, cancel := context.WithTimeout(s.base, s.cfg.WriteDeadline)
	defer cancel()
	entries, err := s.store.AuditLog(c, limit)
	if err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	return writeJSON(ctx, fasthttp.StatusOK, map[string][]catalog.AuditEntry{"entries": entries})
}

// checkNotPersonal refuses visitor ids that are e-mail addresses while
// pseudonymisation is off: stored as sent they would put personal data
// next to the events. With a key they are hashed like any id.
func (s *Server) checkNotPersonal(e *catalog.Event) error {
	if s.ids.Enabled() || !e.Personalized() {
		return nil
	}
	for _, f := range [...]struct{ name, id string }{{"user_id", e.UserID}, {"session_id", e.SessionID}} {
		if looksLikeEmail(f.id) {
			return &catalog.FieldError{Field: f.name, Reason: "looks like an e-mail address, which must not be stored with events: " +
				"send an opaque id, or run the server with an id key (--id-key) so ids are pseudonymised"}
		}
	}
	return nil
}

func looksLikeEmail(id string) bool {
	at := strings.IndexByte(id, '@')
	return at > 0 && strings.IndexByte(id[at+1:], '.') > 0
}
