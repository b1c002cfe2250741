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

// The eight-byte scan must stop at every byte the byte loop would treat,
// wherever in a word it sits.
func TestPlainWordFindsEveryByteThatNeedsALook(t *testing.T) {
	for b := range 256 {
		for pos := range 8 {
			w := []byte("aaaaaaaa")
			w[pos] = byte(b)
			want := b < 0x80 && htmlSafe[b]
			if got := plainWord(word(string(w), 0)); got != want {
				t.Fatalf("byte %#x at %d: plainWord %v, want %v", b, pos, got, want)
			}
		}
	}
	// Borrows between bytes must not hide one: pairs of awkward bytes.
	for _, pair := range [][2]byte{{0, '"'}, {0x1f, 0x20}, {0x20, 0x1f}, {'&', '\\'}, {0xff, 0}, {0x21, '<'}} {
		for pos := range 7 {
			w := []byte("zzzzzzzz")
			w[pos], w[pos+1] = pair[0], pair[1]
			if plainWord(word(string(w), 0)) {
				t.Fatalf("%q taken as plain", w)
			}
		}
	}
	if !plainWord(word("https://", 0)) || !plainWord(word(" ~!#$%'(", 0)) {
		t.Fatal("plain ASCII not taken as plain")
	}
}

// Escapes at every offset of a long string, across word boundaries.
func TestHandEncodingEscapesAtEveryOffset(t *testing.T) {
	base := "https://shop.example/products/a-long-plain-title-0123456789"
	for _, esc := range []string{`"`, `\\`, "<", ">", "&", "\x00", "\n", "\x1f", "é", "\u2028", "\xff", "日本"} {
		for i := range len(base) + 1 {
			s := base[:i] + esc + base[i:]
			want, _ := json.Marshal(s)
			if got := appendString(nil, s); string(got) != string(want) {
				t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
			}
		}
	}
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

// BenchmarkAppendString quotes the strings of a typical item: a title,
// its page and image URLs, a reason.
func BenchmarkAppendString(b *testing.B) {
	strs := []string{"WHITE HANGING HEART T-LIGHT HOLDER", "https://shop.example/products/85123A",
		"https://cdn.shop.example/images/85123A-large.jpg", "co_purchase", "EUR"}
	var buf []byte
	for range b.N {
		buf = buf[:0]
		for _, s := range strs {
			buf = appendString(buf, s)
		}
	}
}
