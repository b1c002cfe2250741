package httpapi

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/recs-server/recs/recommend"
)

func sampleResponse(s string, f float64) *Response {
	return &Response{RequestID: "abc" + s, ModelVersion: "v1", Modules: []recommend.Module{
		{ID: "similar", Items: []recommend.Item{
			{ItemID: s, Score: f, Reasons: []string{"co_view", s}, Title: s, Price: f * 3, Currency: "EUR", URL: "/i/" + s},
			{ItemID: "x", Score: 0.1 / 3, Reasons: []string{}, Title: "t", Price: 12.5, ImageURL: "i.png"},
		}},
		{ID: "empty", Items: []recommend.Item{}},
		{ID: "nil"},
	}}
}

func TestHandEncodingMatchesEncodingJSON(t *testing.T) {
	f := func(s string, x float64) {
		t.Helper()
		r := sampleResponse(s, x)
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendResponse(nil, r); string(got) != string(want) {
			t.Fatalf("response differs:\n got %s\nwant %s", got, want)
		}
		rr := &RankResponse{RequestID: s, ModelVersion: s, Items: r.Modules[0].Items}
		want, _ = json.Marshal(rr)
		if got := appendRankResponse(nil, rr); string(got) != string(want) {
			t.Fatalf("rank response differs:\n got %s\nwant %s", got, want)
		}
	}
	f("plain", 1)
	f(`quote " backslash \ <b>&amp;</b>`, 0.5)
	f("ctl \x00\x01\x1f\n\r\t\b\f end", -2.25)
	f("utf8 é ü 日本 \u2028 \u2029 bad \xff\xfe", 1e-7)
	f("big", 1e21)
	f("tiny", 1.5e-300)
	f("neg", -123456789.125)
	f("", 0)
	f("e", 12345678901234567890)
}

func FuzzHandEncodingMatchesEncodingJSON(f *testing.F) {
	f.Add("a", 1.0)
	f.Add("<\u2028\xff", 1e-9)
	f.Fuzz(func(t *testing.T, s string, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		r := sampleResponse(s, x)
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendResponse(nil, r); string(got) != string(want) {
			t.Fatalf("differs:\n got %s\nwant %s", got, want)
		}
	})
}

func BenchmarkEncodeResponse(b *testing.B) {
	r := sampleResponse("D-000123", 0.123456)
	for range 3 {
		r.Modules[0].Items = append(r.Modules[0].Items, r.Modules[0].Items...)
	}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for range b.N {
			buf = appendResponse(buf[:0], r)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := json.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
