package dataimport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/recs-server/recs/catalog"
)

// MaxLineLen is the longest JSONL line accepted, in bytes without the line
// end. A bigger line is a broken export, not a record: one item or event is
// a few hundred bytes.
const MaxLineLen = 1 << 20

// maxSyntheticNames bounds Report.Synthetic; an item has fewer fields.
const maxSyntheticNames = 32

// Skip reasons of the JSONL importer.
const (
	reasonLineTooLong      = "line too long"
	reasonMalformedJSON    = "malformed json"
	reasonMissingKind      = "missing kind"
	reasonUnknownKind      = "unknown kind"
	reasonUnknownField     = "unknown field"
	reasonBadValue         = "bad value"
	reasonUnknownEventType = "unknown event type"
)

// itemFields is catalog.Item without its UnmarshalJSON method, which would
// decode leniently and could not see the "kind" field.
type itemFields catalog.Item

type itemLine struct {
	itemFields
	Kind string `json:"kind"`
}

type eventLine struct {
	catalog.Event
	Kind string `json:"kind"`
	// Type and Time shadow the event's own fields so that a bad value is
	// reported against its field rather than as an anonymous decode error.
	Type string `json:"type"`
	Time string `json:"time"`
}

// ImportJSONL reads the JSONL interchange format (see the package
// documentation) from r and hands items and events to sink in batches.
// Bad lines are skipped and reported; the error is only for reading, the
// sink or ctx. The report is returned in every case.
func ImportJSONL(ctx context.Context, r io.Reader, sink Sink, opt Options) (*Report, error) {
	b := newBatcher(sink, opt, "jsonl")
	now := b.start.UTC().Truncate(time.Microsecond)
	lr := lineReader{br: bufio.NewReaderSize(r, 64<<10)}
	for lineNo := 1; ; lineNo++ {
		if err := ctx.Err(); err != nil {
			return b.finish(ctx, fmt.Errorf("dataimport: %w", err))
		}
		line, n, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return b.finish(ctx, fmt.Errorf("dataimport: read line %d: %w", lineNo, err))
		}
		if n > MaxLineLen {
			b.rep.LinesRead++
			b.fail(reasonLineTooLong, LineError{lineNo, "", fmt.Sprintf("is %d bytes long, the limit is %d (1 MiB)", n, MaxLineLen)})
			continue
		}
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, []byte("\uFEFF")) // Windows tools start UTF-8 files with a BOM
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		b.rep.LinesRead++
		var (
			it catalog.Item
			ev catalog.Event
		)
		kind, bad := parseLine(line, &it, &ev)
		if bad.reason != "" {
			b.fail(bad.reason, LineError{lineNo, bad.field, bad.why})
			continue
		}
		b.rep.LinesUsed++
		if kind == "item" {
			if it.CreatedAt.IsZero() {
				it.CreatedAt = now
			}
			if it.UpdatedAt.IsZero() {
				it.UpdatedAt = now
			}
			for _, f := range it.Synthetic {
				// Bounded: the report must stay small whatever the feed says.
				f = shorten(f, 64)
				if len(b.rep.Synthetic) < maxSyntheticNames && !slices.Contains(b.rep.Synthetic, f) {
					b.rep.Synthetic = append(b.rep.Synthetic, f)
				}
			}
			err = b.addItem(ctx, it)
		} else {
			err = b.addEvent(ctx, ev)
		}
		if err != nil {
			return b.finish(ctx, err)
		}
	}
	slices.Sort(b.rep.Synthetic)
	return b.finish(ctx, nil)
}

// problem is why a line was skipped: the skip reason and what to show.
type problem struct {
	reason, field, why string
}

// parseLine decodes, validates and normalises one line into it or ev,
// depending on the kind it returns.
func parseLine(line []byte, it *catalog.Item, ev *catalog.Event) (kind string, bad problem) {
	if line[0] != '{' {
		return "", problem{reasonMalformedJSON, "", "is not a JSON object"}
	}
	var head struct {
		Kind any `json:"kind"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return "", problem{reasonMalformedJSON, "", jsonReason(err)}
	}
	switch k := head.Kind.(type) {
	case nil:
		return "", problem{reasonMissingKind, "kind", `is required ("item" or "event")`}
	case string:
		kind = k
	default:
		return "", problem{reasonUnknownKind, "kind", fmt.Sprintf(`is a JSON %s, want "item" or "event"`, jsonType(k))}
	}
	switch kind {
	case "item":
		l := itemLine{itemFields: itemFields{Active: true}} // as catalog.Item.UnmarshalJSON does
		if bad := decodeStrict(line, &l); bad.reason != "" {
			return kind, bad
		}
		*it = catalog.Item(l.itemFields)
		if err := it.Validate(); err != nil {
			return kind, invalid(kind, err)
		}
	case "event":
		var l eventLine
		if bad := decodeStrict(line, &l); bad.reason != "" {
			return kind, bad
		}
		*ev = l.Event
		if l.Type != "" {
			t, ok := catalog.ParseEventType(l.Type)
			if !ok {
				return kind, problem{reasonUnknownEventType, "type", fmt.Sprintf(
					"is %s, want one of view_item, add_to_cart, remove_from_cart, begin_checkout, purchase, search, refund", quote(l.Type))}
			}
			ev.Type = t
		}
		if l.Time != "" {
			t, err := time.Parse(time.RFC3339, l.Time)
			if err != nil {
				return kind, problem{"invalid event: time", "time", fmt.Sprintf("is %s, want an RFC 3339 time such as 2026-11-23T10:00:00Z", quote(l.Time))}
			}
			ev.Time = t
		}
		if err := ev.Validate(); err != nil {
			return kind, invalid(kind, err)
		}
		ev.Normalize()
	default:
		return kind, problem{reasonUnknownKind, "kind", fmt.Sprintf(`is %s, want "item" or "event"`, quote(kind))}
	}
	return kind, problem{}
}

// decodeStrict decodes line into v, refusing fields v does not have.
func decodeStrict(line []byte, v any) problem {
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	err := d.Decode(v)
	if err == nil {
		return problem{}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// The path starts at the line's struct: drop the embedded type's name.
		field := strings.TrimPrefix(strings.TrimPrefix(te.Field, "itemFields."), "Event.")
		return problem{reasonBadValue, field, fmt.Sprintf("is a JSON %s, want %s", te.Value, te.Type)}
	}
	// encoding/json has no error type for this one: its message is the API.
	if _, after, ok := strings.Cut(err.Error(), "unknown field "); ok {
		name, err := strconv.Unquote(after)
		if err != nil {
			name = after
		}
		return problem{reasonUnknownField, name, "is not a known field (the fields are those of catalog.Item or catalog.Event)"}
	}
	return problem{reasonBadValue, "", jsonReason(err)}
}

// invalid turns a validation error into a problem whose skip reason names
// the field without indices or keys, so that one bad field across many
// lines is one reason.
func invalid(kind string, err error) problem {
	var fe *catalog.FieldError
	if !errors.As(err, &fe) {
		return problem{"invalid " + kind, "", err.Error()}
	}
	return problem{"invalid " + kind + ": " + fieldClass(fe.Field), fe.Field, fe.Reason}
}

// fieldClass maps "items[3].quantity" to "items[].quantity" and
// "attributes.colour" to "attributes".
func fieldClass(f string) string {
	if strings.HasPrefix(f, "attributes") {
		return "attributes"
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(f, '[')
		j := strings.IndexByte(f, ']')
		if i < 0 || j < i {
			break
		}
		b.WriteString(f[:i+1])
		f = f[j:]
	}
	b.WriteString(f)
	return b.String()
}

func jsonType(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "value"
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// quote quotes s for a message, shortened: reports must stay small even
// when a line carries a megabyte in one field.
func quote(s string) string {
	const limit = 64
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	return strconv.Quote(strings.ToValidUTF8(s[:limit], "")) + "..."
}

// lineReader reads lines of any length, keeping at most MaxLineLen bytes:
// bufio.Scanner would stop the whole import at the first overlong line.
type lineReader struct {
	br  *bufio.Reader
	buf []byte
}

// next returns the next line without its line end, and its length. A line
// longer than MaxLineLen is consumed but not kept. The slice is valid until
// the next call.
func (lr *lineReader) next() (line []byte, n int, err error) {
	lr.buf = lr.buf[:0]
	over, nl := false, false
	for {
		frag, err := lr.br.ReadSlice('\n')
		n += len(frag)
		if !over {
			if len(lr.buf)+len(frag) > MaxLineLen+2 { // +2 for "\r\n"
				over = true
				lr.buf = lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if n == 0 {
				return nil, 0, io.EOF
			}
			break // a last line without "\n"
		}
		if err != nil {
			return nil, n, err
		}
		nl = true
		break
	}
	if nl {
		n--
	}
	if over {
		return nil, n, nil
	}
	line = lr.buf
	if nl {
		line = line[:len(line)-1]
	}
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
		n--
	}
	return line, n, nil
}
