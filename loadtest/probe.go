package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// StockProbe is what the stock-storm scenario's probe measured: how long
// after the server acknowledged a stock update its recommendations
// reflected it. The probe takes the first item of a home page shown to a
// session of its own, keeps the storm's batches away from that item, and
// then, every Config.StockProbeEvery, restocks it and waits until the page
// shows it, then sets it out of stock and waits until the page leaves it
// out. Its requests are not part of the run's other figures.
type StockProbe struct {
	ItemID string `json:"item_id"`
	// Probes counts out-of-stock updates whose effect was seen.
	Probes int `json:"probes"`
	// Failures counts probes that went wrong: a request failed, or the
	// page did not change within twice the request timeout (at least 1 s).
	Failures int `json:"failures"`
	// OutOfStock is from the acknowledgement of the out-of-stock update
	// to the end of the first page without the item.
	OutOfStock Latency `json:"out_of_stock_visible_ms"`
	// Restock is from the acknowledgement of the restock to the end of
	// the first page that shows the item again.
	Restock Latency `json:"restock_visible_ms"`
	// Errors describes the first failures.
	Errors []string `json:"errors,omitempty"`
}

const (
	probePoll     = 10 * time.Millisecond // pause between page reads
	probeStock    = 50                    // stock level of a restock
	maxProbeNotes = 5                     // errors kept
)

type stockProbe struct {
	r *runner
	// client is the probe's own: the workers may hold every connection
	// of the run's client when the server falls behind.
	client    *fasthttp.HostClient
	item      string
	out, back *Histogram
	probes    int
	failures  int
	notes     []string
}

func (p *stockProbe) fail(format string, args ...any) {
	p.failures++
	if len(p.notes) < maxProbeNotes {
		p.notes = append(p.notes, fmt.Sprintf(format, args...))
	}
}

// newStockProbe returns a probe of r's server.
func newStockProbe(r *runner) *stockProbe {
	return &stockProbe{
		r: r, out: NewHistogram(), back: NewHistogram(),
		client: &fasthttp.HostClient{
			Addr: r.dial, Name: "recs-loadtest-probe", MaxConns: 2,
			ReadTimeout: r.cfg.Timeout, WriteTimeout: r.cfg.Timeout, MaxIdemponentCallAttempts: 1,
		},
	}
}

// run probes during the measured phase.
func (p *stockProbe) run(ctx context.Context) {
	defer p.client.CloseIdleConnections()
	cfg := &p.r.cfg
	select {
	case <-p.r.started:
	case <-ctx.Done():
		return
	}
	if !p.sleepUntil(ctx, cfg.Warmup) {
		return
	}
	end := cfg.Warmup + cfg.Duration
	for p.item == "" {
		ids, err := p.page()
		switch {
		case err != nil:
			p.fail("read the probe's home page: %v", err)
		case len(ids) == 0:
			p.fail("the probe's home page shows no item")
		default:
			p.item = ids[0]
		}
		if p.item == "" && !p.sleepUntil(ctx, time.Since(p.r.start)+time.Second) {
			return
		}
		if time.Since(p.r.start) >= end {
			return
		}
	}
	if i := slices.Index(p.r.cfg.Catalog, p.item); i >= 0 {
		p.r.rend.reserved.Store(int64(i) + 1)
		defer p.r.rend.reserved.Store(0)
	}
	// A storm batch rendered before the reservation may still be on its
	// way; it cannot outlive the request timeout.
	if !p.sleepUntil(ctx, time.Since(p.r.start)+cfg.Timeout) {
		return
	}
	for next := time.Since(p.r.start); next < end; next += cfg.StockProbeEvery {
		if !p.sleepUntil(ctx, next) {
			break
		}
		lag, err := p.setAndWait(ctx, probeStock, true)
		if ctx.Err() != nil {
			break // the run ended: not a failure of the server
		}
		if err != nil {
			p.fail("restock %s: %v", p.item, err)
			continue
		}
		p.back.Record(lag)
		lag, err = p.setAndWait(ctx, 0, false)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			p.fail("out of stock %s: %v", p.item, err)
			continue
		}
		p.out.Record(lag)
		p.probes++
	}
	// Leave the item sellable.
	if _, err := p.setStock(probeStock); err != nil {
		p.fail("final restock of %s: %v", p.item, err)
	}
}

// sleepUntil waits until at (from the start of the run); false if ctx
// ended first.
func (p *stockProbe) sleepUntil(ctx context.Context, at time.Duration) bool {
	d := at - time.Since(p.r.start)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// setAndWait sets the probe item's stock and returns how long after the
// acknowledgement the home page first showed (shown) or left out the item.
func (p *stockProbe) setAndWait(ctx context.Context, stock int, shown bool) (time.Duration, error) {
	wait := max(time.Second, 2*p.r.cfg.Timeout)
	acked, err := p.setStock(stock)
	if err != nil {
		return 0, err
	}
	for {
		ids, err := p.page()
		if err != nil {
			return 0, err
		}
		lag := time.Since(acked)
		if slices.Contains(ids, p.item) == shown {
			return lag, nil
		}
		if lag > wait {
			return 0, fmt.Errorf("the home page did not reflect stock %d within %s", stock, wait)
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		time.Sleep(probePoll)
	}
}

// setStock posts one stock level and returns when it was acknowledged.
func (p *stockProbe) setStock(stock int) (time.Time, error) {
	body := []byte(`[{"item_id":"`)
	body = appendJSONEscaped(body, p.item)
	body = append(body, `","stock":`...)
	body = strconv.AppendInt(body, int64(stock), 10)
	body = append(body, "}]"...)
	_, err := p.do("POST", "/v1/stock", body)
	return time.Now(), err
}

// page returns the item ids of the probe session's home page, module by
// module.
func (p *stockProbe) page() ([]string, error) {
	path := "/v1/recommendations/home?limit=" + string(p.r.rend.limit) + "&session_id=lt-" + p.r.cfg.RunID + "-probe"
	b, err := p.do("GET", path, nil)
	if err != nil {
		return nil, err
	}
	var page struct {
		Modules []struct {
			Items []struct {
				ItemID string `json:"item_id"`
			} `json:"items"`
		} `json:"modules"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return nil, fmt.Errorf("home page: %w", err)
	}
	var ids []string
	for _, m := range page.Modules {
		for _, it := range m.Items {
			ids = append(ids, it.ItemID)
		}
	}
	return ids, nil
}

func (p *stockProbe) do(method, path string, body []byte) ([]byte, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(p.r.base + path)
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}
	if err := p.client.DoTimeout(req, resp, p.r.cfg.Timeout); err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c := resp.StatusCode(); c < 200 || c > 299 {
		return nil, fmt.Errorf("%s %s: status %d", method, path, c)
	}
	return append([]byte(nil), resp.Body()...), nil
}

func (p *stockProbe) result() *StockProbe {
	return &StockProbe{
		ItemID: p.item, Probes: p.probes, Failures: p.failures,
		OutOfStock: latencyOf(p.out), Restock: latencyOf(p.back), Errors: p.notes,
	}
}
