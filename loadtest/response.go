package loadtest

import (
	"bytes"
	"errors"
	"fmt"
)

// maxResponseHeader bounds the status line and headers of an answer.
const maxResponseHeader = 64 << 10

// errMalformed is wrapped by every error of responseReader: the answer
// is not HTTP/1.1 as the generator understands it (ErrKindOther).
var errMalformed = errors.New("malformed HTTP response")

// responseReader follows one HTTP/1.x answer at a time through the bytes
// of a connection, as they arrive, without keeping the body: the event
// loop only needs the status, where the answer ends and whether the
// connection may be reused. Bodies are framed by Content-Length, chunked
// transfer coding or the end of the connection (RFC 9112, section 6.3).
type responseReader struct {
	state  uint8
	hdr    []byte // the header bytes so far, when they span reads
	status int
	close  bool  // the connection ends after this answer
	remain int64 // body bytes left: of a fixed length, or of a chunk
	size   int64 // the chunk size being read
	digits int   // hex digits of size
}

const (
	rsHeader      = iota // reading the status line and headers
	rsFixed              // reading remain bytes of body
	rsUntilClose         // the body ends with the connection
	rsChunkSize          // reading a chunk-size line
	rsChunkExt           // skipping a chunk extension to the end of the line
	rsChunkData          // reading remain bytes of a chunk
	rsChunkEnd           // expecting the CRLF after a chunk
	rsTrailer            // at the start of a trailer line, or of the final CRLF
	rsTrailerLine        // inside a trailer line
	rsDone
)

// reset prepares r for the next answer on the connection.
func (r *responseReader) reset() {
	hdr := r.hdr[:0]
	*r = responseReader{hdr: hdr}
}

// feed reads b, the next bytes of the connection. It returns how many
// bytes belong to the answer and whether the answer is complete.
func (r *responseReader) feed(b []byte) (n int, done bool, err error) {
	for n < len(b) && r.state != rsDone {
		switch r.state {
		case rsHeader:
			m, err := r.feedHeader(b[n:])
			if err != nil {
				return n, false, err
			}
			n += m
		case rsFixed, rsChunkData:
			m := int(min(r.remain, int64(len(b)-n)))
			n += m
			r.remain -= int64(m)
			if r.remain == 0 {
				if r.state == rsFixed {
					r.state = rsDone
				} else {
					r.state = rsChunkEnd
				}
			}
		case rsUntilClose:
			n = len(b)
		default:
			if err := r.chunkByte(b[n]); err != nil {
				return n, false, err
			}
			n++
		}
	}
	return n, r.state == rsDone, nil
}

// eof tells r that the connection ended; it returns whether that
// completed the answer.
func (r *responseReader) eof() bool {
	if r.state == rsUntilClose {
		r.state = rsDone
	}
	return r.state == rsDone
}

// feedHeader reads header bytes from b and, at the end of the headers,
// parses them; it returns how many bytes of b it used.
func (r *responseReader) feedHeader(b []byte) (int, error) {
	head := b
	from := 0
	if len(r.hdr) > 0 {
		from = max(len(r.hdr)-3, 0) // the end may straddle the reads
		r.hdr = append(r.hdr, b...)
		head = r.hdr
	}
	end := headerEnd(head, from)
	if end < 0 {
		if len(r.hdr) == 0 {
			r.hdr = append(r.hdr, b...)
		}
		if len(r.hdr) > maxResponseHeader {
			return len(b), fmt.Errorf("%w: headers longer than %d bytes", errMalformed, maxResponseHeader)
		}
		return len(b), nil
	}
	used := end - (len(head) - len(b)) // of b
	if end > maxResponseHeader {
		return used, fmt.Errorf("%w: headers longer than %d bytes", errMalformed, maxResponseHeader)
	}
	if err := r.parseHeader(head[:end]); err != nil {
		return used, err
	}
	r.hdr = r.hdr[:0]
	return used, nil
}

// headerEnd returns the index just after the empty line that ends the
// headers in b, searching from from, or -1.
func headerEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		i += max(bytes.IndexByte(b[i:], '\n'), 0)
		if b[i] != '\n' {
			return -1
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}

// parseHeader reads the status line and the headers that frame the
// body, and sets the state that reads the body.
func (r *responseReader) parseHeader(h []byte) error {
	line, rest := cutLine(h)
	// HTTP/1.x SSS reason
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return fmt.Errorf("%w: status line %.40q", errMalformed, line)
	}
	r.status = 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: status line %.40q", errMalformed, line)
		}
		r.status = r.status*10 + int(c-'0')
	}
	http10 := line[7] == '0'
	keepAlive, chunked := false, false
	length := int64(-1)
	for len(rest) > 0 {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return fmt.Errorf("%w: header line %.40q", errMalformed, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			v, ok := parseLength(value)
			if !ok || (length >= 0 && v != length) {
				return fmt.Errorf("%w: Content-Length %.40q", errMalformed, value)
			}
			length = v
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = hasToken(value, "chunked")
		case asciiEqualFold(name, "connection"):
			r.close = r.close || hasToken(value, "close")
			keepAlive = keepAlive || hasToken(value, "keep-alive")
		}
	}
	r.close = r.close || (http10 && !keepAlive)
	switch {
	case r.status == 101:
		return fmt.Errorf("%w: 101 Switching Protocols", errMalformed)
	case r.status >= 100 && r.status < 200:
		// Informational: the answer follows.
		r.state, r.close = rsHeader, false
	case r.status == 204 || r.status == 304:
		r.state = rsDone
	case chunked:
		r.state = rsChunkSize
	case length == 0:
		r.state = rsDone
	case length > 0:
		r.state, r.remain = rsFixed, length
	default:
		r.state, r.close = rsUntilClose, true
	}
	return nil
}

// chunkByte reads one byte of chunk framing.
func (r *responseReader) chunkByte(c byte) error {
	switch r.state {
	case rsChunkSize:
		switch d := hexValue(c); {
		case d >= 0:
			if r.size > (1<<62)/16 {
				return fmt.Errorf("%w: chunk size overflows", errMalformed)
			}
			r.size = r.size*16 + int64(d)
			r.digits++
			return nil
		case r.digits == 0:
			return fmt.Errorf("%w: chunk size %q", errMalformed, c)
		case c == ';' || c == ' ' || c == '\t' || c == '\r':
			r.state = rsChunkExt
			return nil
		case c != '\n':
			return fmt.Errorf("%w: chunk size %q", errMalformed, c)
		}
		r.endChunkSize()
	case rsChunkExt:
		if c == '\n' {
			r.endChunkSize()
		}
	case rsChunkEnd:
		switch c {
		case '\r':
		case '\n':
			r.state, r.size, r.digits = rsChunkSize, 0, 0
		default:
			return fmt.Errorf("%w: no CRLF after a chunk", errMalformed)
		}
	case rsTrailer:
		switch c {
		case '\r':
		case '\n':
			r.state = rsDone
		default:
			r.state = rsTrailerLine
		}
	case rsTrailerLine:
		if c == '\n' {
			r.state = rsTrailer
		}
	}
	return nil
}

func (r *responseReader) endChunkSize() {
	if r.size == 0 {
		r.state = rsTrailer
		return
	}
	r.state, r.remain = rsChunkData, r.size
}

// cutLine returns the line at the start of b, without its CRLF or LF,
// and the rest.
func cutLine(b []byte) (line, rest []byte) {
	line, rest, _ = bytes.Cut(b, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), rest
}

// asciiEqualFold reports whether b equals the lower-case ASCII s,
// ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != s[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds the
// lower-case token t, ignoring case.
func hasToken(v []byte, t string) bool {
	for len(v) > 0 {
		var tok []byte
		tok, v, _ = bytes.Cut(v, []byte(","))
		if asciiEqualFold(bytes.TrimSpace(tok), t) {
			return true
		}
	}
	return false
}

func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

func hexValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
