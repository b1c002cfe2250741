package httpapi_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/recs-server/recs/httpapi"
	"github.com/recs-server/recs/memstore"
)

// countingListener counts the Write calls on the connections it accepts.
type countingListener struct {
	net.Listener
	mu     sync.Mutex
	writes []int // the size of each write, in order
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

func (l *countingListener) sizes() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.writes...)
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	c.l.writes = append(c.l.writes, len(p))
	c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// A page of recommendations is larger than fasthttp's default write
// buffer (4 KiB); the server's is large enough for it to go out in one
// system call, as one segment, not two.
func TestResponseOfSeveralKilobytesIsOneWrite(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: inner}
	base := startServerOn(t, ln, memstore.New(), httpapi.Config{}, io.Discard)

	var items, ids []string
	for i := range 60 {
		id := fmt.Sprintf("item-%02d", i)
		items = append(items, itemJSON(id, 5, "Home", ""))
		ids = append(ids, fmt.Sprintf("%q", id))
	}
	for _, batch := range [][]string{items[:30], items[30:]} {
		if r := call(t, "PUT", base+"/v1/items", "["+strings.Join(batch, ",")+"]"); r.status != 200 {
			t.Fatalf("put items: %d %s", r.status, r.body)
		}
	}
	before := len(ln.sizes())
	r := call(t, "POST", base+"/v1/rank", `{"placement":"category","item_ids":[`+strings.Join(ids, ",")+`]}`)
	if r.status != 200 || len(r.body) <= 4<<10 {
		t.Fatalf("rank: %d, %d bytes (want a 200 of more than 4 KiB)", r.status, len(r.body))
	}
	if got := ln.sizes()[before:]; len(got) != 1 || got[0] < len(r.body) {
		t.Fatalf("the rank response of %d bytes went out in writes of %v bytes, want one write", len(r.body), got)
	}
}
