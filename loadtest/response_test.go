package loadtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// readAll feeds in to a responseReader in pieces of at most step bytes,
// as reads of a connection would, and says where the answer ended.
func readAll(in []byte, step int, eof bool) (used int, done bool, status int, closeConn bool, err error) {
	var r responseReader
	for used < len(in) && !done {
		piece := in[used:min(used+step, len(in))]
		var n int
		n, done, err = r.feed(piece)
		used += n
		if err != nil {
			return used, false, 0, false, err
		}
		if !done && n != len(piece) {
			return used, false, 0, false, fmt.Errorf("used %d of %d bytes without finishing", n, len(piece))
		}
	}
	if !done && eof {
		done = r.eof()
	}
	return used, done, r.status, r.close, nil
}

func TestResponseReaderFindsTheEndOfEachFraming(t *testing.T) {
	// answer is followed by next, which it must not use.
	f := func(answer, next string, eof bool, wantStatus int, wantClose bool) {
		t.Helper()
		in := answer + next
		for _, step := range []int{1, 2, 3, 7, len(in) + 1} {
			used, done, status, closeConn, err := readAll([]byte(in), step, eof)
			if err != nil || !done || used != len(answer) || status != wantStatus || closeConn != wantClose {
				t.Errorf("%.80q in pieces of %d: used %d done %v status %d close %v err %v; want used %d status %d close %v",
					in, step, used, done, status, closeConn, err, len(answer), wantStatus, wantClose)
			}
		}
	}
	const next = "HTTP/1.1 200 OK\r\n"
	f("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", next, false, 200, false)
	f("HTTP/1.1 404 Not Found\r\ncontent-length:0\r\n\r\n", next, false, 404, false)
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nA;x=1\r\n0123456789\r\n0\r\n\r\n", next, false, 200, false)
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Trailer: 1\r\n\r\n", next, false, 200, false)
	f("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", next, false, 204, false)
	f("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", next, false, 201, false)
	f("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", "", false, 503, true)
	f("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", "", false, 200, true)
	f("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", next, false, 200, false)
	f("HTTP/1.1 200 OK\n\nuntil the end", "", true, 200, true)
	f("HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n", next, false, 500, false)
}

func TestResponseReaderWaitsForTheRestOfAnAnswer(t *testing.T) {
	f := func(in string) {
		t.Helper()
		if _, done, _, _, err := readAll([]byte(in), 5, false); done || err != nil {
			t.Errorf("%q: done %v err %v, want an unfinished answer", in, done, err)
		}
	}
	f("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab")
	f("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n")
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
	f("HTTP/1.1 200 OK\r\n\r\nuntil the end")
}

func TestResponseReaderRejectsWhatIsNotHTTP(t *testing.T) {
	f := func(in string) {
		t.Helper()
		if _, _, _, _, err := readAll([]byte(in), len(in), true); !errors.Is(err, errMalformed) {
			t.Errorf("%.80q: %v, want errMalformed", in, err)
		}
	}
	f("SSH-2.0-OpenSSH\r\n\r\n")
	f("HTTP/1.1 2x0 OK\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nno colon\r\n\r\n")
	f("HTTP/1.1 101 Switching Protocols\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n")
	f("HTTP/1.1 200 OK\r\nX: " + strings.Repeat("y", maxResponseHeader) + "\r\n\r\n")
}

// Answers written by net/http, with each framing it uses, end where
// net/http's own client says they end.
func TestResponseReaderAgreesWithNetHTTP(t *testing.T) {
	for _, tc := range []struct {
		status  int
		body    string
		chunked bool
		close   bool
	}{
		{200, `{"modules":[]}`, false, false},
		{200, strings.Repeat("x", 100_000), true, false},
		{429, `{"error":"slow down"}`, false, true},
		{500, "", true, false},
		{304, "", false, false},
	} {
		resp := &http.Response{
			StatusCode: tc.status, ProtoMajor: 1, ProtoMinor: 1, Close: tc.close,
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   io.NopCloser(strings.NewReader(tc.body)), ContentLength: int64(len(tc.body)),
		}
		if tc.chunked {
			resp.ContentLength, resp.TransferEncoding = -1, []string{"chunked"}
		}
		var wire bytes.Buffer
		if err := resp.Write(&wire); err != nil {
			t.Fatal(err)
		}
		in := wire.Bytes()
		back, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, back.Body); err != nil {
			t.Fatal(err)
		}
		for _, step := range []int{1, 1000, len(in)} {
			used, done, status, closeConn, err := readAll(in, step, false)
			if err != nil || !done || used != len(in) || status != tc.status || closeConn != back.Close {
				t.Errorf("%d %d bytes chunked %v in pieces of %d: used %d of %d, done %v, status %d, close %v (net/http: %v), err %v",
					tc.status, len(tc.body), tc.chunked, step, used, len(in), done, status, closeConn, back.Close, err)
			}
		}
	}
}

// However the bytes of a connection are split into reads, the reader
// comes to the same end.
func FuzzResponseReaderIgnoresHowReadsSplitTheBytes(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"), uint8(3))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a\r\nabc\r\n0\r\nT: 1\r\n\r\n"), uint8(1))
	f.Add([]byte("HTTP/1.1 100 Continue\n\nHTTP/1.0 200 OK\n\nbody"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		used, done, status, closeConn, err := readAll(in, len(in)+1, true)
		used2, done2, status2, closeConn2, err2 := readAll(in, int(step)+1, true)
		if (err == nil) != (err2 == nil) || err == nil && (used != used2 || done != done2 || status != status2 || closeConn != closeConn2) {
			t.Fatalf("whole: used %d done %v status %d close %v err %v; in pieces of %d: used %d done %v status %d close %v err %v",
				used, done, status, closeConn, err, int(step)+1, used2, done2, status2, closeConn2, err2)
		}
		if used > len(in) {
			t.Fatalf("used %d of %d bytes", used, len(in))
		}
	})
}
