package loadtest

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// workers is the portable transport: MaxInFlight goroutines take the
// due requests from a channel and send each with fasthttp, one
// connection each. It costs the generator two wake-ups per request (one
// when the request is due, one when its answer arrives), which the event
// loop of Linux avoids; elsewhere it is the transport.
type workers struct {
	r      *runner
	client *fasthttp.HostClient
	busy   atomic.Int64 // workers sending a request
	stop   atomic.Bool  // the run was interrupted: send nothing more
}

// runWorkers sends the requests of s with the workers.
func (r *runner) runWorkers(ctx context.Context, s *schedule) {
	cfg := &r.cfg
	w := &workers{r: r, client: &fasthttp.HostClient{
		Addr:                          r.dial,
		Name:                          "recs-loadtest",
		MaxConns:                      cfg.MaxInFlight,
		ReadTimeout:                   cfg.Timeout,
		WriteTimeout:                  cfg.Timeout,
		MaxIdleConnDuration:           maxIdleConn,
		MaxIdemponentCallAttempts:     1, // a retry would hide an error
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
	}}
	defer w.client.CloseIdleConnections()
	jobs := make(chan job, cfg.Backlog)
	var wg sync.WaitGroup
	for range cfg.MaxInFlight {
		wg.Go(func() { w.work(jobs) })
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sleeper := newSleeper()
	defer sleeper.close()
	var j job
	for {
		for s.next(time.Since(r.start), &j) {
			j.late = w.busy.Load()+int64(len(jobs)) >= int64(cfg.MaxInFlight)
			select {
			case jobs <- j:
			default: // the backlog is full: the generator cannot keep up
				r.drop(&j, cfg.Timeout)
			}
		}
		at, ok := s.nextAt()
		if !ok {
			break
		}
		wait := at - time.Since(r.start)
		if wait > 2*time.Millisecond {
			// A timer for the long part of the wait, the sleeper for the
			// last millisecond or two, which a timer would overshoot.
			timer.Reset(wait - 1500*time.Microsecond)
			select {
			case <-ctx.Done():
			case <-timer.C:
				continue
			}
		}
		if ctx.Err() != nil {
			w.stop.Store(true)
			break
		}
		sleeper.sleep(wait)
	}
	close(jobs)
	wg.Wait()
}

func (w *workers) work(jobs <-chan job) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	var uri, body []byte
	for j := range jobs {
		if w.stop.Load() {
			continue // interrupted: drain the backlog without sending
		}
		w.busy.Add(1)
		uri, body = w.do(&j, req, resp, uri, body)
		w.busy.Add(-1)
	}
}

// do sends one request and records its outcome; it returns the buffers
// for reuse.
func (w *workers) do(j *job, req *fasthttp.Request, resp *fasthttp.Response, uri, body []byte) ([]byte, []byte) {
	r := w.r
	now := time.Now()
	lag := now.Sub(r.start) - j.at
	if lag >= r.cfg.Timeout {
		r.drop(j, lag)
		return uri, body
	}
	uri, body = r.prepare(req, j, now, uri, body)
	r.sent.Add(1)
	err := w.client.DoDeadline(req, resp, now.Add(r.cfg.Timeout))
	kind := ""
	if err != nil {
		kind = errorKind(err)
	}
	r.record(j, lag, time.Since(r.start), resp.StatusCode(), kind)
	return uri, body
}

// prepare fills req for j, sent at now; it returns the buffers for reuse.
func (r *runner) prepare(req *fasthttp.Request, j *job, now time.Time, uri, body []byte) ([]byte, []byte) {
	e := r.eps[j.ep]
	req.Reset()
	req.Header.SetMethod(e.Method)
	uri = append(uri[:0], r.base...)
	uri = r.rend.render(uri, &e.path, j, now)
	req.SetRequestURIBytes(uri)
	if len(e.body.segs) > 0 {
		body = r.rend.render(body[:0], &e.body, j, now)
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}
	return uri, body
}

func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout),
		errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ErrKindTimeout
	case errors.Is(err, fasthttp.ErrNoFreeConns), errors.Is(err, fasthttp.ErrConnectionClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ErrKindConnection
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return ErrKindConnection
	}
	return ErrKindOther
}
