package eval

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/memstore"
)

// Files of the RetailRocket session benchmark.
const (
	retailRocketTrain = "train_sessions.txt.gz"
	retailRocketTest  = "test_prefix_target.tsv.gz"
)

// sessionStrategies run by default on a next-item task. co_purchase and
// popularity_in_category are left out: the benchmark has neither orders
// nor categories, so they would repeat popularity.
var sessionStrategies = []string{
	StrategyPopularity, StrategyPopularity7d, StrategyRandom,
	StrategyCoView, StrategyEmbedding, StrategySession, StrategyRecentlyViewed,
	StrategyEngineUnranked, StrategyEngine,
}

// Synthetic timeline of the training sessions, which have no timestamps:
// sessions start sessionGap apart, in file order (chronological), views
// within a session viewGap apart. 126k sessions 90 s apart span about 131
// days, close to the public events' 4.5 months before the test week, so
// the popularity windows and the co-occurrence decay see a realistic time
// scale.
const (
	sessionGap = 90 * time.Second
	viewGap    = time.Second
)

// RunRetailRocket evaluates next-item prediction on the RetailRocket
// session benchmark in dir: for every (session prefix -> next viewed item)
// pair of test_prefix_target.tsv.gz, HitRate and MRR of the target in the
// list. The training sessions become view_item events on a synthetic
// timeline that ends just before the first test event (the cut-off), and
// every item id becomes a bare catalogue item (title "item N", price 1,
// stock 1): the data has no metadata. Options.Cutoff is ignored.
func RunRetailRocket(ctx context.Context, dir string, opt Options) (*Report, error) {
	start := time.Now()
	opt = opt.withDefaults()
	if err := opt.validate(); err != nil {
		return nil, err
	}
	sessions, total, err := readTrainSessions(ctx, filepath.Join(dir, retailRocketTrain), opt.MaxTrainSessions)
	if err != nil {
		return nil, err
	}
	pairs, err := readPrefixTargets(ctx, filepath.Join(dir, retailRocketTest))
	if err != nil {
		return nil, err
	}
	if len(sessions) == 0 || len(pairs) == 0 {
		return nil, fmt.Errorf("eval: %s has no training sessions or no test pairs", dir)
	}
	cutoff := pairs[0].prefixTimes[0]
	for _, p := range pairs {
		for _, t := range p.prefixTimes {
			if t.Before(cutoff) {
				cutoff = t
			}
		}
	}
	st := memstore.New()
	from, err := loadSessions(ctx, st, sessions, cutoff)
	if err != nil {
		return nil, err
	}
	load := time.Since(start)
	opt.Log.Info("eval data loaded", "dataset", "retailrocket", "sessions", len(sessions), "pairs", len(pairs), "took", load)

	// Content vectors of "item N" titles are noise: unless told otherwise,
	// let behaviour outweigh content as soon as an item has any.
	if opt.Build.MaxBehaviourWeight == 0 {
		opt.Build.MaxBehaviourWeight = 1
	}
	if opt.Build.BlendK == 0 {
		opt.Build.BlendK = 1
	}
	tr, err := train(ctx, st, from, cutoff, opt)
	if err != nil {
		return nil, err
	}
	tr.env.Module = "similar"
	cases := make([]Case, 0, len(pairs))
	var repeats, repeatsLast, unknown int
	for _, p := range pairs {
		n := len(p.prefix)
		if slices.Contains(p.prefix, p.target) {
			repeats++
			if p.prefix[n-1] == p.target {
				repeatsLast++
			}
		}
		if tr.env.Items[p.target] == nil {
			unknown++
		}
		cases = append(cases, Case{
			Query:   Query{Anchors: p.prefix[n-1:], Session: p.prefix, Time: p.prefixTimes[n-1]},
			Targets: []string{p.target},
		})
	}
	rep := newReport("retailrocket-sessions", dir, TaskSession, from, cutoff, tr, &opt)
	rep.Synthetic = []string{"title", "price", "stock"}
	share := func(n int) float64 { return float64(n) / float64(len(pairs)) }
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("%d of %d training sessions (the most recent) on a synthetic timeline: sessions %s apart, views %s apart, ending at the cut-off (the first test event)",
			len(sessions), total, sessionGap, viewGap),
		fmt.Sprintf("test pairs: %d; the target is in the prefix for %.1f %% (the last prefix item for %.1f %%); %d targets (%.2f %%) are not in the training catalogue",
			len(pairs), 100*share(repeats), 100*share(repeatsLast), unknown, 100*share(unknown)),
		"item-to-item strategies start from the last prefix item and never return it; session uses the last 5 distinct items; nothing is filtered out of the lists otherwise",
		fmt.Sprintf("no item metadata: content vectors come from the title \"item N\" only and carry no meaning, so the build lets behaviour dominate (BlendK %g, MaxBehaviourWeight %g, item2vec epochs %s)",
			opt.Build.BlendK, opt.Build.MaxBehaviourWeight, epochs(opt.Build.Item2Vec.Epochs)),
		"data: RetailRocket e-commerce events (Kaggle, CC BY-NC-SA 4.0), session benchmark preprocessing in ../shared/data/retailrocket-sessions",
	)
	if opt.MaxQueries > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("subsampled: at most %d test cases (seeded)", opt.MaxQueries))
	}
	if !opt.Cutoff.IsZero() || opt.TrainWindow > 0 {
		rep.Notes = append(rep.Notes, "the cut-off and train window options were ignored: the benchmark's split is fixed")
	}
	if err := evaluateInto(ctx, rep, tr, cases, &opt, sessionStrategies); err != nil {
		return nil, err
	}
	rep.Timings.Load = load.Seconds()
	rep.Timings.Total = time.Since(start).Seconds()
	return rep, nil
}

// openGzip opens a gzip-compressed file.
func openGzip(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("eval: %s: %w", path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, nil
}

// readTrainSessions reads one session per line (item ids separated by
// spaces; '#' starts a comment line) and returns the last keep of them
// (all when keep <= 0) and how many there were.
func readTrainSessions(ctx context.Context, path string, keep int) ([][]string, int, error) {
	rc, err := openGzip(path)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	var sessions [][]string
	line := 0
	for sc.Scan() {
		line++
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
		}
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		ids := strings.Fields(s)
		for _, id := range ids {
			if err := checkItemNumber(id); err != nil {
				return nil, 0, fmt.Errorf("eval: %s line %d: %w", path, line, err)
			}
		}
		sessions = append(sessions, ids)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("eval: read %s: %w", path, err)
	}
	total := len(sessions)
	if keep > 0 && total > keep {
		sessions = sessions[total-keep:]
	}
	return sessions, total, nil
}

func checkItemNumber(id string) error {
	if n, err := strconv.ParseUint(id, 10, 32); err != nil || n == 0 {
		return fmt.Errorf("item id %q is not a positive integer", id)
	}
	return nil
}

// prefixTarget is one test pair.
type prefixTarget struct {
	prefix      []string
	prefixTimes []time.Time
	target      string
}

// readPrefixTargets reads the TSV of test pairs: a header naming the
// columns prefix_item_ids, prefix_unix_ts and target_item_id; lists are
// space-separated.
func readPrefixTargets(ctx context.Context, path string) ([]prefixTarget, error) {
	rc, err := openGzip(path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	if !sc.Scan() {
		return nil, fmt.Errorf("eval: %s: no header: %w", path, cmpErr(sc.Err(), io.ErrUnexpectedEOF))
	}
	header := strings.Split(strings.TrimSpace(sc.Text()), "\t")
	colPrefix := slices.Index(header, "prefix_item_ids")
	colTimes := slices.Index(header, "prefix_unix_ts")
	colTarget := slices.Index(header, "target_item_id")
	if colPrefix < 0 || colTimes < 0 || colTarget < 0 {
		return nil, fmt.Errorf("eval: %s: header %q lacks prefix_item_ids, prefix_unix_ts or target_item_id", path, header)
	}
	var out []prefixTarget
	line := 1
	for sc.Scan() {
		line++
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(s) == "" {
			continue
		}
		f := strings.Split(s, "\t")
		if len(f) != len(header) {
			return nil, fmt.Errorf("eval: %s line %d: %d columns, want %d", path, line, len(f), len(header))
		}
		p := prefixTarget{prefix: strings.Fields(f[colPrefix]), target: strings.TrimSpace(f[colTarget])}
		ts := strings.Fields(f[colTimes])
		if len(p.prefix) == 0 || len(ts) != len(p.prefix) {
			return nil, fmt.Errorf("eval: %s line %d: %d prefix items and %d times", path, line, len(p.prefix), len(ts))
		}
		for _, id := range p.prefix {
			if err := checkItemNumber(id); err != nil {
				return nil, fmt.Errorf("eval: %s line %d: %w", path, line, err)
			}
		}
		if err := checkItemNumber(p.target); err != nil {
			return nil, fmt.Errorf("eval: %s line %d: target: %w", path, line, err)
		}
		for _, t := range ts {
			sec, err := strconv.ParseInt(t, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("eval: %s line %d: time %q: %w", path, line, t, err)
			}
			p.prefixTimes = append(p.prefixTimes, time.Unix(sec, 0).UTC())
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eval: read %s: %w", path, err)
	}
	return out, nil
}

// loadSessions stores the items of the sessions as bare catalogue items and
// every view as a view_item event, session i starting at
// from + i·sessionGap, where from is chosen so that the last view is before
// the cut-off. It returns from.
func loadSessions(ctx context.Context, st *memstore.Store, sessions [][]string, cutoff time.Time) (time.Time, error) {
	longest := 0
	seen := map[string]struct{}{}
	var ids []string
	for _, s := range sessions {
		longest = max(longest, len(s))
		for _, id := range s {
			if _, ok := seen[id]; !ok {
				seen[id] = struct{}{}
				ids = append(ids, id)
			}
		}
	}
	from := cutoff.Add(-time.Duration(len(sessions))*sessionGap - time.Duration(longest)*viewGap).Truncate(time.Second)
	items := make([]catalog.Item, len(ids))
	for i, id := range ids {
		items[i] = catalog.Item{
			ID: id, Title: "item " + id, Price: 1, Stock: 1, Active: true,
			Synthetic: []string{"title", "price", "stock"}, CreatedAt: from, UpdatedAt: from,
		}
	}
	if err := st.UpsertItems(ctx, items); err != nil {
		return time.Time{}, fmt.Errorf("eval: store items: %w", err)
	}
	const batch = 50000
	events := make([]catalog.Event, 0, batch)
	flush := func() error {
		if _, err := st.AppendEvents(ctx, events); err != nil {
			return fmt.Errorf("eval: store events: %w", err)
		}
		events = events[:0]
		return nil
	}
	for i, s := range sessions {
		at := from.Add(time.Duration(i) * sessionGap)
		sid := "rr-s" + strconv.Itoa(i)
		for j, id := range s {
			events = append(events, catalog.Event{
				ID:        fmt.Sprintf("rr-%07d-%04d", i, j),
				Type:      catalog.EventViewItem,
				Time:      at.Add(time.Duration(j) * viewGap),
				SessionID: sid,
				Items:     []catalog.EventItem{{ItemID: id, Quantity: 1}},
			})
			if len(events) == batch {
				if err := flush(); err != nil {
					return time.Time{}, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return time.Time{}, err
	}
	return from, nil
}

func epochs(n int) string {
	if n <= 0 {
		return "default"
	}
	return strconv.Itoa(n)
}
