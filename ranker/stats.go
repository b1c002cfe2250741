package ranker

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/recs-server/recs/catalog"
)

// StatsModelKind names the item statistics in the model registry.
const StatsModelKind = "item_stats"

// ItemStats are one item's behaviour counts over the 30 days before the
// build's end (all-time first sighting), the item-level inputs of the
// features.
type ItemStats struct {
	Views, Carts, Purchases, Refunds float32
	Purchases7d                      float32
	// FirstSeen is the Unix time of the item's first event; 0 if none.
	FirstSeen int64
}

// RefundRate is the item's smoothed share of purchased units refunded:
// an item needs several sales before one refund makes it look bad.
func RefundRate(st ItemStats) float32 {
	return st.Refunds / (st.Purchases + 5)
}

// ItemFeatures are the features an item's statistics give. They cost
// logarithms, so they are derived once per build, not per candidate.
type ItemFeatures struct {
	Popularity, Views, Trend, Conversion, RefundRate float32
	FirstSeen                                        int64
}

// Features derives the item's statistical features.
func (st ItemStats) Features() ItemFeatures {
	if st.Views+st.Purchases+st.Refunds == 0 {
		// Most items of a large catalogue: skip the logarithms.
		return ItemFeatures{Conversion: 0.01, FirstSeen: st.FirstSeen}
	}
	return ItemFeatures{
		Popularity: log1p(st.Purchases),
		Views:      log1p(st.Views),
		Trend:      float32(math.Log((float64(st.Purchases7d)*30/7 + 1) / (float64(st.Purchases) + 1))),
		Conversion: (st.Purchases + 0.1) / (st.Views + st.Purchases + 10),
		RefundRate: RefundRate(st),
		FirstSeen:  st.FirstSeen,
	}
}

// noStats are the features of an item without events.
var noStats = ItemStats{}.Features()

// Stats are the statistics of every item with events, as of a time, with
// their features.
type Stats struct {
	At   time.Time
	byID map[string]statsEntry
	// byNumber are the features by item number, once NumberBy has run:
	// a candidate with a number reads one slice element, where a lookup
	// by id probes a map of every item with events, whose parts are
	// rarely in the CPU cache (7 % of the server's CPU at 100,000 items).
	byNumber []ItemFeatures
}

type statsEntry struct {
	st ItemStats
	f  ItemFeatures
}

func (s *Stats) put(id string, st ItemStats) { s.byID[id] = statsEntry{st, st.Features()} }

// Get returns the item's statistics; zero for an item without events.
func (s *Stats) Get(id string) ItemStats {
	if s == nil {
		return ItemStats{}
	}
	return s.byID[id].st
}

// Features returns the item's statistical features; those of no events
// for an item without.
func (s *Stats) Features(id string) ItemFeatures {
	if s == nil {
		return noStats
	}
	if e, ok := s.byID[id]; ok {
		return e.f
	}
	return noStats
}

// NumberBy indexes the features by the item numbers numbers gives the
// ids (one a number, in their order), for candidates that carry their
// number (Candidate.Number). Call it before the Stats is shared.
//
// The ids go to numbers most active first: a numbering that hands out
// numbers in that order gives the items most requests name neighbouring
// numbers, so their entries here (and in the numbering's own table)
// share cache lines. In map order, a server at 100,000 items spent 7 %
// of its CPU reading the ids of new numbers.
func (s *Stats) NumberBy(numbers func(ids []string) []uint32) {
	if s == nil || len(s.byID) == 0 {
		return
	}
	type byActivity struct {
		id       string
		activity float32
	}
	order := make([]byActivity, 0, len(s.byID))
	for id, e := range s.byID {
		order = append(order, byActivity{id, e.st.Views + e.st.Carts + e.st.Purchases})
	}
	slices.SortFunc(order, func(a, b byActivity) int {
		if c := cmp.Compare(b.activity, a.activity); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	ids := make([]string, len(order))
	for i, o := range order {
		ids[i] = o.id
	}
	nums := numbers(ids)
	s.byNumber = make([]ItemFeatures, slices.Max(nums)+1)
	for i := range s.byNumber {
		s.byNumber[i] = noStats
	}
	for i, id := range ids {
		s.byNumber[nums[i]] = s.byID[id].f
	}
}

// featuresOf is the candidate's statistical features: by its number when
// it has one and the statistics are indexed so, by its id otherwise.
func (s *Stats) featuresOf(c *Candidate) ItemFeatures {
	if c.Numbered && s != nil && s.byNumber != nil {
		if int(c.Number) < len(s.byNumber) {
			return s.byNumber[c.Number]
		}
		return noStats // numbered after the statistics were
	}
	return s.Features(c.ID)
}

// All yields every item with statistics, in no particular order (the
// server's cache warm-up ranks items by them).
func (s *Stats) All() iter.Seq2[string, ItemStats] {
	return func(yield func(string, ItemStats) bool) {
		if s == nil {
			return
		}
		for id, e := range s.byID {
			if !yield(id, e.st) {
				return
			}
		}
	}
}

// NewStats wraps statistics by item id (tests, tools).
func NewStats(at time.Time, byID map[string]ItemStats) *Stats {
	s := &Stats{At: at, byID: make(map[string]statsEntry, len(byID))}
	for id, st := range byID {
		s.put(id, st)
	}
	return s
}

// Len is the number of items with statistics.
func (s *Stats) Len() int {
	if s == nil {
		return 0
	}
	return len(s.byID)
}

// StatsBuilder counts events into Stats as of a time: the build's end, or
// the training cut-off when the ranker learns (so no feature sees the
// future it is asked to predict).
type StatsBuilder struct {
	at   time.Time
	byID map[string]*ItemStats
}

// NewStatsBuilder counts events before at.
func NewStatsBuilder(at time.Time) *StatsBuilder {
	return &StatsBuilder{at: at, byID: make(map[string]*ItemStats)}
}

// Add counts one event; events at or after the builder's time are
// ignored.
func (b *StatsBuilder) Add(e *catalog.Event) {
	if !e.Time.Before(b.at) {
		return
	}
	age := b.at.Sub(e.Time)
	for _, li := range e.Items {
		st := b.byID[li.ItemID]
		if st == nil {
			st = &ItemStats{}
			b.byID[li.ItemID] = st
		}
		if t := e.Time.Unix(); st.FirstSeen == 0 || t < st.FirstSeen {
			st.FirstSeen = t
		}
		if age > 30*24*time.Hour {
			continue
		}
		switch e.Type {
		case catalog.EventViewItem:
			st.Views++
		case catalog.EventAddToCart:
			st.Carts++
		case catalog.EventPurchase:
			// Orders, not units: a wholesale order of 500 is one decision.
			st.Purchases++
			if age <= 7*24*time.Hour {
				st.Purchases7d++
			}
		case catalog.EventRefund:
			st.Refunds++
		}
	}
}

// Stats returns what was counted.
func (b *StatsBuilder) Stats() *Stats {
	s := &Stats{At: b.at, byID: make(map[string]statsEntry, len(b.byID))}
	for id, st := range b.byID {
		s.put(id, *st)
	}
	return s
}

const statsMagic = "RSTATS1\n"

// MarshalBinary encodes the statistics, sorted by id (deterministic).
func (s *Stats) MarshalBinary() ([]byte, error) {
	ids := make([]string, 0, len(s.byID))
	for id := range s.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b := make([]byte, 0, 16+len(ids)*48)
	b = append(b, statsMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.At.Unix()))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		st := s.byID[id].st
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		for _, f := range [...]float32{st.Views, st.Carts, st.Purchases, st.Refunds, st.Purchases7d} {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
		b = binary.LittleEndian.AppendUint64(b, uint64(st.FirstSeen))
	}
	return b, nil
}

var errShortStats = errors.New("item stats: truncated")

// UnmarshalBinary decodes what MarshalBinary wrote.
func (s *Stats) UnmarshalBinary(b []byte) error {
	if !bytes.HasPrefix(b, []byte(statsMagic)) {
		return errors.New("item stats: not an item stats file")
	}
	b = b[len(statsMagic):]
	if len(b) < 12 {
		return errShortStats
	}
	s.At = time.Unix(int64(binary.LittleEndian.Uint64(b)), 0).UTC()
	n := binary.LittleEndian.Uint32(b[8:])
	b = b[12:]
	if uint64(n) > uint64(len(b)) {
		return errShortStats
	}
	s.byID = make(map[string]statsEntry, n)
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return errShortStats
		}
		id := string(b[k : k+int(l)])
		b = b[k+int(l):]
		if len(b) < 28 {
			return errShortStats
		}
		var f [5]float32
		for i := range f {
			f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		s.put(id, ItemStats{Views: f[0], Carts: f[1], Purchases: f[2], Refunds: f[3], Purchases7d: f[4],
			FirstSeen: int64(binary.LittleEndian.Uint64(b[20:]))})
		b = b[28:]
	}
	if len(b) != 0 {
		return fmt.Errorf("item stats: %d trailing bytes", len(b))
	}
	return nil
}
