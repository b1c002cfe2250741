package dataimport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/recs-server/recs/catalog"
)

// discardSink accepts everything, so a benchmark measures the parse.
type discardSink struct{}

func (discardSink) UpsertItems(context.Context, []catalog.Item) error { return nil }
func (discardSink) AppendEvents(_ context.Context, ev []catalog.Event) (int, error) {
	return len(ev), nil
}

// BenchmarkImportOnlineRetail parses the whole shared file (gzip included)
// from memory.
func BenchmarkImportOnlineRetail(b *testing.B) {
	data, err := io.ReadAll(openRealFile(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	var rows int
	for b.Loop() {
		r, err := ImportOnlineRetail(context.Background(), bytes.NewReader(data), discardSink{}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		rows = r.LinesRead
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkImportJSONL(b *testing.B) {
	var in strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&in, `{"kind":"item","id":"SKU-%d","title":"Blue mug","category":["Home","Kitchen"],"price":12.5,"stock":40}`+"\n", i)
		fmt.Fprintf(&in, `{"kind":"event","event_id":"e%d","type":"purchase","time":"2026-11-01T10:00:00Z","session_id":"s1","items":[{"item_id":"SKU-%d","quantity":2,"price":12.5}]}`+"\n", i, i)
	}
	data := []byte(in.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ImportJSONL(context.Background(), bytes.NewReader(data), discardSink{}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(20000*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
