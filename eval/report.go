package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Tasks a report can be about.
const (
	TaskBasket  = "basket_completion" // given one item of an order, find the others
	TaskSession = "session_next_item" // given a session prefix, find the next view
	TaskForYou  = "for_you"           // given a customer's history, what they buy next
)

// Report is one evaluation run: where the figures come from and the table
// of strategies by metrics.
type Report struct {
	Dataset string `json:"dataset"`
	Source  string `json:"source"`
	Task    string `json:"task"`
	// Cutoff splits the data: the build learnt from events in
	// [TrainFrom, Cutoff), the test cases come from after it.
	Cutoff    time.Time `json:"cutoff"`
	TrainFrom time.Time `json:"train_from"`
	// BuildVersion names the build; BuildDigest hashes its tables and
	// vectors, so two reports with equal digests evaluated the same model.
	BuildVersion   string    `json:"build_version"`
	BuildDigest    string    `json:"build_digest"`
	BuildCreatedAt time.Time `json:"build_created_at"`
	Seed           uint64    `json:"seed"`
	K              []int     `json:"k"`

	CatalogItems int `json:"catalog_items"` // active items at the cut-off
	TrainEvents  int `json:"train_events"`  // events the build used
	// Cases is the number of evaluated queries; CasesTotal before
	// subsampling (Options.MaxQueries).
	Cases      int `json:"cases"`
	CasesTotal int `json:"cases_total"`

	Results []Result `json:"results"`
	// Synthetic names the catalogue fields that were made up (stock,
	// cost, ...): figures derived from them (out-of-stock share, margin)
	// are synthetic too.
	Synthetic []string `json:"synthetic,omitempty"`
	Notes     []string `json:"notes,omitempty"`
	Timings   Timings  `json:"timings"`
}

// Timings are the wall-clock seconds of each stage of a run.
type Timings struct {
	Load  float64 `json:"load_s"`  // reading and importing the data
	Build float64 `json:"build_s"` // the batch build on the training part
	Eval  float64 `json:"eval_s"`  // asking and scoring every strategy
	Total float64 `json:"total_s"`
}

// Result returns the result of a strategy, or nil.
func (r *Report) Result(strategy string) *Result {
	for i := range r.Results {
		if r.Results[i].Strategy == strategy {
			return &r.Results[i]
		}
	}
	return nil
}

// column is one metric column of the table.
type column struct {
	name string
	get  func(*Result) float64
}

func (r *Report) columns() []column {
	var cols []column
	at := func(k int, f func(Scores) float64) func(*Result) float64 {
		return func(res *Result) float64 {
			s, _ := res.Get(k)
			return f(s)
		}
	}
	for _, k := range r.K {
		if r.Task == TaskSession {
			cols = append(cols,
				column{fmt.Sprintf("HR@%d", k), at(k, func(s Scores) float64 { return s.Hit })},
				column{fmt.Sprintf("MRR@%d", k), at(k, func(s Scores) float64 { return s.RR })},
			)
			continue
		}
		cols = append(cols,
			column{fmt.Sprintf("R@%d", k), at(k, func(s Scores) float64 { return s.Recall })},
			column{fmt.Sprintf("NDCG@%d", k), at(k, func(s Scores) float64 { return s.NDCG })},
			column{fmt.Sprintf("MAP@%d", k), at(k, func(s Scores) float64 { return s.AP })},
			column{fmt.Sprintf("HR@%d", k), at(k, func(s Scores) float64 { return s.Hit })},
		)
	}
	cols = append(cols,
		column{"cover", func(res *Result) float64 { return res.Coverage }},
		column{"oos", func(res *Result) float64 { return res.OutOfStock }},
	)
	if r.hasMargin() {
		cols = append(cols, column{"margin", func(res *Result) float64 { return res.AvgMargin }})
	}
	cols = append(cols,
		column{"own", func(res *Result) float64 { return res.Own }},
		column{"own_hits", func(res *Result) float64 { return res.OwnHits }},
	)
	return cols
}

// hasMargin: margins mean something only when the catalogue has costs
// (made-up or not); RetailRocket has none.
func (r *Report) hasMargin() bool {
	for i := range r.Results {
		if r.Results[i].AvgMargin != 0 {
			return true
		}
	}
	return false
}

func (r *Report) header() []string {
	lines := []string{
		fmt.Sprintf("data set %s (%s), task %s", r.Dataset, r.Source, r.Task),
		fmt.Sprintf("train on events [%s, %s), test after; build %s (digest %s, %.1fs), seed %d",
			r.TrainFrom.UTC().Format(time.RFC3339), r.Cutoff.UTC().Format(time.RFC3339), r.BuildVersion, r.BuildDigest, r.Timings.Build, r.Seed),
		fmt.Sprintf("%d active catalogue items, %d training events, %d test cases (of %d); load %.1fs, eval %.1fs, total %.1fs",
			r.CatalogItems, r.TrainEvents, r.Cases, r.CasesTotal, r.Timings.Load, r.Timings.Eval, r.Timings.Total),
	}
	if len(r.Synthetic) > 0 {
		lines = append(lines, "synthetic catalogue fields (made up, not in the data): "+strings.Join(r.Synthetic, ", "))
	}
	return lines
}

// Table is the report as plain text for a terminal: a header, one row per
// strategy, the notes.
func (r *Report) Table() string {
	var b strings.Builder
	for _, l := range r.header() {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	cols := r.columns()
	width := len("strategy")
	for i := range r.Results {
		width = max(width, len(r.Results[i].Strategy))
	}
	fmt.Fprintf(&b, "\n%-*s", width, "strategy")
	for _, c := range cols {
		fmt.Fprintf(&b, " %8s", c.name)
	}
	fmt.Fprintf(&b, " %8s\n", "µs/query")
	for i := range r.Results {
		res := &r.Results[i]
		fmt.Fprintf(&b, "%-*s", width, res.Strategy)
		for _, c := range cols {
			fmt.Fprintf(&b, " %8.4f", c.get(res))
		}
		fmt.Fprintf(&b, " %8.0f\n", res.LatencyMicros)
	}
	if len(r.Notes) > 0 {
		b.WriteByte('\n')
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "note: %s\n", n)
		}
	}
	return b.String()
}

// WriteMarkdown writes the report as a Markdown section.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s: %s\n\n", r.Dataset, r.Task)
	for _, l := range r.header() {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	cols := r.columns()
	b.WriteString("\n| strategy |")
	for _, c := range cols {
		fmt.Fprintf(&b, " %s |", c.name)
	}
	b.WriteString(" µs/query |\n|---|")
	for range cols {
		b.WriteString("---:|")
	}
	b.WriteString("---:|\n")
	for i := range r.Results {
		res := &r.Results[i]
		fmt.Fprintf(&b, "| %s |", res.Strategy)
		for _, c := range cols {
			fmt.Fprintf(&b, " %.4f |", c.get(res))
		}
		fmt.Fprintf(&b, " %.0f |\n", res.LatencyMicros)
	}
	if len(r.Notes) > 0 {
		b.WriteByte('\n')
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
