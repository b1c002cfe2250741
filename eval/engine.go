package eval

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/recommend"
)

// Strategies that answer through recommend.Engine, the server's own
// request path: candidate sources, fusion, filters and (for "engine") the
// learned ranker with its business rules. "engine_unranked" is the same
// path serving the fused candidate order with the hard filters only: the
// ranker's baseline.
const (
	StrategyEngine         = "engine"
	StrategyEngineUnranked = "engine_unranked"
)

// engineStrategy asks the engine for a page and reads one module of it.
type engineStrategy struct {
	name   string
	env    *Env
	engine *recommend.Engine
}

func newEngineStrategy(name string, env *Env, unranked bool) (Strategy, error) {
	st, ok := env.Store.(recommend.Store)
	if !ok {
		return nil, fmt.Errorf("strategy %s: the store cannot serve the engine", name)
	}
	e, err := recommend.New(recommend.Config{
		// Offline there is no deadline: a source never times out, so the
		// figures do not depend on the machine's load.
		SourceBudget: time.Minute,
		Unranked:     unranked,
		RankDepth:    env.RankDepth,
		Ranker:       env.Ranker,
		MaxVisitors:  1 << 20,
	}, st, metrics.NewSet())
	if err != nil {
		return nil, err
	}
	if _, err := e.Refresh(context.Background()); err != nil {
		e.Close()
		return nil, err
	}
	return &engineStrategy{name: name, env: env, engine: e}, nil
}

func (s *engineStrategy) Name() string { return s.name }

// Close stops the engine's caches.
func (s *engineStrategy) Close() error {
	s.engine.Close()
	return nil
}

// fallbackReasons are the popularity top-ups: an item with only these
// did not come from the page's own sources.
var fallbackReasons = []string{"popular", "popular_in_category", "popular_today", "trending"}

func (s *engineStrategy) Recommend(ctx context.Context, q *Query, k int, dst []string) ([]string, int, error) {
	if s.env.Module == "for_you" {
		// The home page of a signed-in customer: the engine loads their
		// history from the store, as the server does.
		mods, err := s.engine.Home(ctx, recommend.Request{UserID: q.UserID, Now: q.Time, Limit: k + len(q.Exclude)})
		if err != nil {
			return dst, 0, err
		}
		return s.read(mods, q, k, dst)
	}
	if len(q.Anchors) == 0 {
		return dst, 0, nil
	}
	req := recommend.Request{ItemID: q.Anchors[len(q.Anchors)-1], UserID: q.UserID, Now: q.Time, Limit: k + len(q.Exclude)}
	if len(q.Session) > 0 {
		// The visitor's session as the server would hold it: their views,
		// oldest first, ending at the query's time.
		req.SessionID = fmt.Sprintf("eval-%016x", queryHash(q))
		for i, id := range q.Session {
			s.engine.Record(&catalog.Event{Type: catalog.EventViewItem, SessionID: req.SessionID,
				Time: q.Time.Add(time.Duration(i-len(q.Session)) * time.Second), Items: []catalog.EventItem{{ItemID: id}}})
		}
	}
	mods, err := s.engine.PDP(ctx, req)
	if errors.Is(err, recommend.ErrUnknownItem) {
		return dst, 0, nil
	}
	if err != nil {
		return dst, 0, err
	}
	return s.read(mods, q, k, dst)
}

// read appends the items of the strategy's module to dst; own counts up
// to the last item a module's own source proposed.
func (s *engineStrategy) read(mods []recommend.Module, q *Query, k int, dst []string) ([]string, int, error) {
	own := 0
	for _, m := range mods {
		if m.ID != s.env.Module {
			continue
		}
		for _, it := range m.Items {
			if len(dst) == k {
				break
			}
			if slices.Contains(q.Exclude, it.ItemID) {
				continue
			}
			dst = append(dst, it.ItemID)
			if slices.ContainsFunc(it.Reasons, func(r string) bool { return !slices.Contains(fallbackReasons, r) && !strings.HasPrefix(r, "feature:") }) {
				own = len(dst)
			}
		}
	}
	return dst, own, nil
}
