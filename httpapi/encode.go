package httpapi

import (
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/recs-server/recs/recommend"
)

// Recommendation responses are written on every page view, so they are
// encoded by hand into a reused buffer (append style) rather than through
// encoding/json's reflection. The output is byte-for-byte what
// encoding/json would write (a test holds it to that).

// bodyPool holds encode buffers; one larger than maxPooledBody is dropped
// rather than kept, so a rare huge response does not pin memory.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledBody = 1 << 20

// writeEncoded encodes with enc into a pooled buffer and hands it to the
// response without a copy (SwapBody gives back the response's old buffer,
// which returns to the pool).
func writeEncoded(ctx *fasthttp.RequestCtx, enc func([]byte) []byte) {
	bp := bodyPool.Get().(*[]byte)
	body := enc((*bp)[:0])
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	old := ctx.Response.SwapBody(body)
	if cap(old) <= maxPooledBody {
		*bp = old[:0]
		bodyPool.Put(bp)
	}
}

func appendResponse(dst []byte, r *Response) []byte {
	dst = append(dst, `{"request_id":`...)
	dst = appendString(dst, r.RequestID)
	dst = append(dst, `,"model_version":`...)
	dst = appendString(dst, r.ModelVersion)
	dst = append(dst, `,"modules":`...)
	if r.Modules == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range r.Modules {
			if i > 0 {
				dst = append(dst, ',')
			}
			m := &r.Modules[i]
			dst = append(dst, `{"id":`...)
			dst = appendString(dst, m.ID)
			dst = append(dst, `,"items":`...)
			dst = appendItems(dst, m.Items)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func appendRankResponse(dst []byte, r *RankResponse) []byte {
	dst = append(dst, `{"request_id":`...)
	dst = appendString(dst, r.RequestID)
	dst = append(dst, `,"model_version":`...)
	dst = appendString(dst, r.ModelVersion)
	dst = append(dst, `,"items":`...)
	dst = appendItems(dst, r.Items)
	return append(dst, '}')
}

func appendItems(dst []byte, items []recommend.Item) []byte {
	if items == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		it := &items[i]
		dst = append(dst, `{"item_id":`...)
		dst = appendString(dst, it.ItemID)
		dst = append(dst, `,"score":`...)
		dst = appendFloat(dst, it.Score)
		dst = append(dst, `,"reasons":`...)
		if it.Reasons == nil {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, '[')
			for j, r := range it.Reasons {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendString(dst, r)
			}
			dst = append(dst, ']')
		}
		dst = append(dst, `,"title":`...)
		dst = appendString(dst, it.Title)
		dst = append(dst, `,"price":`...)
		dst = appendFloat(dst, it.Price)
		if it.Currency != "" {
			dst = append(dst, `,"currency":`...)
			dst = appendString(dst, it.Currency)
		}
		if it.URL != "" {
			dst = append(dst, `,"url":`...)
			dst = appendString(dst, it.URL)
		}
		if it.ImageURL != "" {
			dst = append(dst, `,"image_url":`...)
			dst = appendString(dst, it.ImageURL)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendFloat formats like encoding/json: shortest representation, 'e'
// notation only for very small or large magnitudes, with a two-digit
// exponent trimmed (1e-07 -> 1e-7). NaN and infinities, which JSON cannot
// hold, become 0: scores are computed, never user input.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, '0')
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// htmlSafe says which ASCII bytes appendString copies as they are: one
// table load per byte instead of six compares, on the path that copies
// every title and URL of every response.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for b := byte(0x20); b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

const (
	lows  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainWord says whether the eight bytes of w (one per byte) are all
// ASCII that JSON and HTML take as they are: none below 0x20, none of
// " \ < > &, none at or above 0x80.
func plainWord(w uint64) bool {
	// zero(v) has a byte's high bit set if a byte of v is 0 (and maybe
	// in bytes above that one, which does not matter for "any").
	zero := func(v uint64) uint64 { return (v - lows) & ^v & highs }
	bad := w&highs | (w-0x20*lows)&^w&highs |
		zero(w^('"'*lows)) | zero(w^('\\'*lows)) | zero(w^('<'*lows)) | zero(w^('>'*lows)) | zero(w^('&'*lows))
	return bad == 0
}

// word is s[i:i+8] as one little-endian number (one load: the compiler
// merges the byte loads).
func word(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// appendString quotes s as encoding/json does, HTML-safe: <, > and & are
// escaped, as are U+2028 and U+2029; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs a look: titles and URLs
		// are mostly plain ASCII, and the byte loop was 3.5 % of the
		// server's CPU under load.
		for i+8 <= len(s) && plainWord(word(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			if htmlSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
