package widget_test

// Browser tests: the Debian Chromium, driven through chromedp, loads shop
// pages that embed widget.js from the real recs server (httpapi over
// loopback on the embedded store with a small generated demo shop). The
// widget's API calls go through a recording proxy, so a test can see what
// the widget sent and make the API fail on purpose; events are checked
// where they end up, in the store.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/recs-server/recs/build"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/demo"
	"github.com/recs-server/recs/httpapi"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/recommend"
)

// requireBrowserEnv set to 1 (as `make test` does) turns a missing
// Chromium into a failure instead of a skip.
const requireBrowserEnv = "RECS_TEST_REQUIRE_BROWSER"

var screenshotPath = flag.String("demo-screenshot", "", "write a PNG screenshot of the demo's product page to this file")

func chromiumPath() string {
	if p := os.Getenv("RECS_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// env is what every browser test shares: one shop, one recs server, one
// browser (each test gets a fresh browser context: its own storage).
type env struct {
	recs    string // the recs server
	host    string // the shop's own origin: its pages, product images, landing pages
	store   *memstore.Store
	items   map[string]catalog.Item
	ids     []string // sellable items, in catalogue order
	pages   sync.Map // host path -> HTML
	landing atomic.Value
	browser context.Context
}

var (
	envOnce  sync.Once
	shared   *env
	envErr   error
	teardown []func()
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	for i := len(teardown) - 1; i >= 0; i-- {
		teardown[i]()
	}
	os.Exit(code)
}

func setup(t *testing.T) *env {
	t.Helper()
	chromium := chromiumPath()
	if chromium == "" {
		if os.Getenv(requireBrowserEnv) == "1" {
			t.Fatalf("Chromium is not installed and %s=1: run scripts/browser.sh", requireBrowserEnv)
		}
		t.Skipf("Chromium is not installed (scripts/browser.sh installs it; %s=1 makes this a failure)", requireBrowserEnv)
	}
	envOnce.Do(func() { shared, envErr = newEnv(chromium) })
	if envErr != nil {
		t.Fatal(envErr)
	}
	return shared
}

func newEnv(chromium string) (*env, error) {
	e := &env{items: map[string]catalog.Item{}}
	host := httptest.NewServer(http.HandlerFunc(e.serveHost))
	teardown = append(teardown, host.Close)
	e.host = host.URL

	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	shop := demo.Generate(demo.Options{Items: 200, Visitors: 300})
	for i := range shop.Items {
		it := &shop.Items[i]
		it.ImageURL = e.host + "/img/" + it.ID + ".svg"
		e.items[it.ID] = *it
		if it.Active && it.Stock > 0 {
			e.ids = append(e.ids, it.ID)
		}
	}
	e.store = memstore.New()
	if err := e.store.UpsertItems(ctx, shop.Items); err != nil {
		return nil, err
	}
	if _, err := e.store.AppendEvents(ctx, shop.Events); err != nil {
		return nil, err
	}
	b, _, err := build.Run(ctx, e.store, build.Options{Seed: 1}, log)
	if err != nil {
		return nil, err
	}
	if err := e.store.PublishBuild(ctx, b); err != nil {
		return nil, err
	}
	set := metrics.NewSet()
	engine, err := recommend.New(recommend.Config{SourceBudget: 2 * time.Second}, e.store, set)
	if err != nil {
		return nil, err
	}
	teardown = append(teardown, engine.Close)
	// Generous budgets: these tests check what the widget does, not how fast
	// the server is, on a machine shared with other tests.
	srv := httpapi.New(httpapi.Config{ReadDeadline: 5 * time.Second, AllowedOrigins: []string{e.host}}, e.store, engine, log, set)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go srv.Serve(ln)
	teardown = append(teardown, func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(c)
	})
	e.recs = "http://" + ln.Addr().String()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	teardown = append(teardown, cancelAlloc, cancelBrowser)
	if err := chromedp.Do(browser); err != nil { // starts the browser
		return nil, fmt.Errorf("start %s: %w", chromium, err)
	}
	e.browser = browser
	return e, nil
}

// serveHost is the shop: pages registered by the tests, a product image
// for every item, and the product pages a click on a recommendation lands
// on (/demo/item/ID, the URL the demo catalogue gives its items).
func (e *env) serveHost(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/img/"):
		// A product photo stand-in: the title's initial on a tint.
		it := e.items[strings.TrimSuffix(strings.TrimPrefix(p, "/img/"), ".svg")]
		initial, hue := "?", 0
		if it.Title != "" {
			initial = strings.ToUpper(it.Title[:1])
			hue = int(it.Title[0]) * 37 % 360
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="160"><rect width="160" height="160" fill="hsl(%d,45%%,86%%)"/>`+
			`<text x="80" y="104" font-family="sans-serif" font-size="72" font-weight="bold" text-anchor="middle" fill="hsl(%d,40%%,32%%)">%s</text></svg>`, hue, hue, initial)
	case strings.HasPrefix(p, "/demo/item/"):
		id := strings.TrimPrefix(p, "/demo/item/")
		api, _ := e.landing.Load().(string)
		writeHTML(w, hostPage(pdpTag(id, e.items[id].Title, pdpLimit), e.script(api, `data-recs-consent="true"`)))
	default:
		page, ok := e.pages.Load(p)
		if !ok {
			http.NotFound(w, r)
			return
		}
		writeHTML(w, page.(string))
	}
}

func writeHTML(w http.ResponseWriter, page string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, page)
}

// hostPage is a shop page around the given placements: the shop's own
// content (#keep) must survive whatever the widget meets.
func hostPage(body, script string) string {
	return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Host shop</title></head>
<body><a id="before" href="#">Shop</a><main><h1>Host shop page</h1><p id="keep">The shop's own content.</p>
` + body + `</main>` + script + `</body></html>`
}

func pdpTag(id, title string, limit int) string {
	return fmt.Sprintf(`<div id="recs" data-recs-placement="pdp" data-recs-item-id="%s" data-recs-item-title="%s" data-recs-limit="%d"></div>`, id, title, limit)
}

// script is the widget's tag, loaded from the recs server, calling the API
// at endpoint.
func (e *env) script(endpoint, attrs string) string {
	return fmt.Sprintf(`<script src="%s/widget.js" data-recs-endpoint="%s" %s></script>`, e.recs, endpoint, attrs)
}

func (e *env) page(t *testing.T, html string) string {
	p := "/t/" + strings.ReplaceAll(t.Name(), "/", "_")
	e.pages.Store(p, html)
	return e.host + p
}

// recorded is one request the widget sent to the API.
type recorded struct {
	Method, Path string
	Query        url.Values
	Body         string
}

// endpoint is the API as the widget sees it: a recording proxy to the
// recs server, or a broken API.
type endpoint struct {
	URL     string
	mu      sync.Mutex
	reqs    []recorded
	answers []answer
}

// answer is one response of the recs server the widget received.
type answer struct {
	Path string
	Body []byte
}

// answered returns the bodies of the server's answers on path.
func (ep *endpoint) answered(path string) [][]byte {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	var out [][]byte
	for _, a := range ep.answers {
		if a.Path == path {
			out = append(out, a.Body)
		}
	}
	return out
}

func (ep *endpoint) requests(method, path string) []recorded {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	var out []recorded
	for _, r := range ep.reqs {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

const emptyAnswer = `{"request_id":"0123456789abcdef","model_version":"m","modules":[{"id":"similar","items":[]},{"id":"bought_together","items":[]}]}`

// newEndpoint starts an API endpoint: mode "ok" forwards to the recs
// server; "500", "hang", "garbage" and "empty" answer that way; "down" is
// a port nobody listens on.
func (e *env) newEndpoint(t *testing.T, mode string) *endpoint {
	t.Helper()
	ep := &endpoint{}
	if mode == "down" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ep.URL = "http://" + ln.Addr().String()
		ln.Close()
		return ep
	}
	target, _ := url.Parse(e.recs)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				return err
			}
			if body, err = io.ReadAll(zr); err != nil {
				return err
			}
		}
		ep.mu.Lock()
		ep.answers = append(ep.answers, answer{resp.Request.URL.Path, body})
		ep.mu.Unlock()
		return nil
	}
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.Method != "OPTIONS" {
			ep.mu.Lock()
			ep.reqs = append(ep.reqs, recorded{r.Method, r.URL.Path, r.URL.Query(), string(body)})
			ep.mu.Unlock()
		}
		if mode != "ok" {
			// Let the widget read the broken answers.
			w.Header().Set("Access-Control-Allow-Origin", "*")
			if r.Method == "OPTIONS" {
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
				w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Api-Key")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		switch mode {
		case "ok":
			proxy.ServeHTTP(w, r)
		case "500":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			io.WriteString(w, `{"error":"the server could not complete the request; retry later"}`)
		case "hang":
			select {
			case <-r.Context().Done():
			case <-done:
			}
		case "garbage":
			io.WriteString(w, "<html>not JSON")
		case "empty":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, emptyAnswer)
		default:
			panic("unknown endpoint mode " + mode)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	ep.URL = srv.URL
	return ep
}

// tab opens a tab in a fresh browser context (empty storage, no cookies)
// and collects the uncaught exceptions of its pages.
func (e *env) tab(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var exceptions []string
	ctx, cancel := chromedp.NewContext(e.browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(func(ev any) {
		if x, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			d := x.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			exceptions = append(exceptions, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber+1))
			mu.Unlock()
		}
	}))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 30*time.Second)
	t.Cleanup(cancelT)
	return ctx, func() []string { // the exceptions since the last call
		mu.Lock()
		defer mu.Unlock()
		ex := exceptions
		exceptions = nil
		return ex
	}
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitFor waits until the JavaScript expression is true, also across a
// navigation (which makes evaluations fail while the next page loads).
func waitFor(t *testing.T, ctx context.Context, js string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", js, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitState(t *testing.T, ctx context.Context, sel string, states ...string) {
	t.Helper()
	js, _ := json.Marshal(states)
	waitFor(t, ctx, fmt.Sprintf(`(() => { const b = document.querySelector(%q); return !!b && %s.includes(b.getAttribute('data-recs-state')); })()`, sel, js))
}

type card struct {
	Item, Href, Name, Price, Reason, Alt, Src string
	Tab                                       int
}

type module struct {
	ID, Title, LabelledBy string
	Cards                 []card
}

func readModules(t *testing.T, ctx context.Context, sel string) []module {
	t.Helper()
	return eval[[]module](t, ctx, fmt.Sprintf(`[...document.querySelectorAll('%s .recs-module')].map(s => ({
		ID: s.dataset.recsModule,
		Title: s.querySelector('.recs-title').textContent,
		LabelledBy: (document.getElementById(s.getAttribute('aria-labelledby')) || {}).textContent || '',
		Cards: [...s.querySelectorAll('.recs-link')].map(a => ({
			Item: a.dataset.recsItem, Href: a.getAttribute('href') || '', Tab: a.tabIndex,
			Name: (a.querySelector('.recs-name') || {}).textContent || '',
			Price: (a.querySelector('.recs-price') || {}).textContent || '',
			Reason: (a.querySelector('.recs-reason') || {}).textContent || '',
			Alt: (a.querySelector('img') || {}).alt || '',
			Src: (a.querySelector('img') || {}).src || '',
		})),
	}))`, sel))
}

func cardIDs(m module) []string {
	var out []string
	for _, c := range m.Cards {
		out = append(out, c.Item)
	}
	return out
}

// apiModules asks the recs server directly, for comparison.
func (e *env) apiModules(t *testing.T, method, path, body string) map[string][]string {
	t.Helper()
	req, _ := http.NewRequest(method, e.recs+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, err)
	}
	return modulesOf(t, answer)
}

// modulesOf reads the item ids of each module of a recommendation answer.
func modulesOf(t *testing.T, body []byte) map[string][]string {
	t.Helper()
	var r httpapi.Response
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	out := map[string][]string{}
	for _, m := range r.Modules {
		for _, it := range m.Items {
			out[m.ID] = append(out[m.ID], it.ItemID)
		}
	}
	return out
}

// pdpLimit is the size of product-page modules in the tests: more cards
// than a desktop window shows, so the carousels scroll.
const pdpLimit = 10

// pdpAnchor is an item whose product page has full modules, some of them
// proposed by co-viewing (so the reason names the anchor).
func (e *env) pdpAnchor(t *testing.T) catalog.Item {
	t.Helper()
	for _, id := range e.ids {
		mods := e.apiModules(t, "GET", fmt.Sprintf("/v1/recommendations/pdp?limit=%d&item_id=%s", pdpLimit, url.QueryEscape(id)), "")
		if len(mods["similar"]) == pdpLimit && len(mods["bought_together"]) == pdpLimit {
			return e.items[id]
		}
	}
	t.Fatal("no item in the test shop has full product-page modules")
	return catalog.Item{}
}

// productPage is a shop's product page with a pdp placement for a
// well-connected item, opened in a new tab and rendered by the widget.
type productPage struct {
	anchor     catalog.Item
	api        *endpoint
	ctx        context.Context
	exceptions func() []string
}

// openProductPage opens it with the widget's script attributes; before
// runs ahead of the navigation (a viewport, say).
func (e *env) openProductPage(t *testing.T, scriptAttrs string, before ...chromedp.Action[chromedp.Void]) *productPage {
	t.Helper()
	p := &productPage{anchor: e.pdpAnchor(t), api: e.newEndpoint(t, "ok")}
	p.ctx, p.exceptions = e.tab(t)
	page := e.page(t, hostPage(pdpTag(p.anchor.ID, p.anchor.Title, pdpLimit), e.script(p.api.URL, scriptAttrs)))
	do(t, p.ctx, append(before, chromedp.Navigate(page))...)
	waitState(t, p.ctx, "#recs", "ready")
	return p
}

// events returns the events stored since the test began.
func (e *env) events(t *testing.T, match func(*catalog.Event) bool) []catalog.Event {
	t.Helper()
	var out []catalog.Event
	now := time.Now()
	err := e.store.ScanEvents(t.Context(), now.Add(-time.Hour), now.Add(time.Hour), func(ev *catalog.Event) error {
		if match(ev) {
			out = append(out, *ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) waitEvents(t *testing.T, n int, match func(*catalog.Event) bool) []catalog.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := e.events(t, match)
		if len(evs) >= n || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func noExceptions(t *testing.T, exceptions func() []string) {
	t.Helper()
	if ex := exceptions(); len(ex) > 0 {
		t.Fatalf("uncaught exceptions in the page: %q", ex)
	}
}

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// euros formats a price as Intl.NumberFormat does for "en" and EUR.
func euros(p float64) string {
	s := fmt.Sprintf("%.2f", p)
	for i := len(s) - 6; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return "€" + s
}

func TestWidgetRendersProductPageCarousels(t *testing.T) {
	e := setup(t)
	p := e.openProductPage(t, `data-recs-consent="true"`)
	ctx, anchor := p.ctx, p.anchor

	rid := eval[string](t, ctx, `document.querySelector('#recs').dataset.recsRequestId`)
	if !requestIDPattern.MatchString(rid) {
		t.Fatalf("request id %q", rid)
	}
	// What the server answered the widget (its order depends on the
	// visitor, so a second request would not do).
	answers := p.api.answered("/v1/recommendations/pdp")
	if len(answers) != 1 {
		t.Fatalf("%d answers to the product page's request, want 1", len(answers))
	}
	want := modulesOf(t, answers[0])
	mods := readModules(t, ctx, "#recs")
	if len(mods) != 2 || mods[0].ID != "similar" || mods[1].ID != "bought_together" {
		t.Fatalf("modules %+v", mods)
	}
	becauseViewed := 0
	for _, m := range mods {
		if m.Title == "" || m.LabelledBy != m.Title {
			t.Errorf("module %s: title %q, aria-labelledby names %q", m.ID, m.Title, m.LabelledBy)
		}
		if got := cardIDs(m); !slices.Equal(got, want[m.ID]) {
			t.Errorf("module %s shows %v, the API answers %v", m.ID, got, want[m.ID])
		}
		for i, c := range m.Cards {
			it := e.items[c.Item]
			if c.Name != it.Title || c.Alt != it.Title || c.Src != it.ImageURL {
				t.Errorf("card %s: name %q, alt %q, image %q; want the title %q and %q", c.Item, c.Name, c.Alt, c.Src, it.Title, it.ImageURL)
			}
			if wantPrice := euros(it.Price); c.Price != wantPrice {
				t.Errorf("card %s: price %q, want %q", c.Item, c.Price, wantPrice)
			}
			if c.Href != it.URL+"#recs-rid="+rid {
				t.Errorf("card %s: link %q, want %q with the request id", c.Item, c.Href, it.URL)
			}
			if c.Reason == "" {
				t.Errorf("card %s shows no reason", c.Item)
			}
			if c.Reason == "Because you viewed "+anchor.Title {
				becauseViewed++
			}
			if wantTab := map[bool]int{true: 0, false: -1}[i == 0]; c.Tab != wantTab {
				t.Errorf("card %d of %s: tabindex %d, want %d (one tab stop per carousel)", i, m.ID, c.Tab, wantTab)
			}
		}
	}
	if becauseViewed == 0 {
		t.Errorf("no card says %q", "Because you viewed "+anchor.Title)
	}
	labels := eval[[]string](t, ctx, `[...document.querySelectorAll('#recs button')].map(b => b.getAttribute('aria-label'))`)
	if !slices.Equal(labels, []string{"Previous items", "Next items", "Previous items", "Next items"}) {
		t.Errorf("carousel buttons are labelled %q", labels)
	}
	if got := eval[string](t, ctx, `document.querySelector('#keep').textContent`); got != "The shop's own content." {
		t.Errorf("host content changed to %q", got)
	}
	noExceptions(t, p.exceptions)
}

func TestCarouselKeyboardNavigation(t *testing.T) {
	e := setup(t)
	p := e.openProductPage(t, `data-recs-consent="true"`)
	ctx := p.ctx
	first := cardIDs(readModules(t, ctx, "#recs")[0])

	focused := func() string {
		return eval[string](t, ctx, `(document.activeElement.dataset || {}).recsItem || document.activeElement.className || document.activeElement.tagName`)
	}
	// Tab from the link before the widget: the first carousel's "previous"
	// button is disabled at the start, so "next", then the first card.
	do(t, ctx, chromedp.Focus(chromedp.ID("before")), chromedp.KeyEvent(kb.Tab))
	if got := focused(); got != "recs-next" {
		t.Fatalf("first tab stop is %q, want the next button", got)
	}
	do(t, ctx, chromedp.KeyEvent(kb.Tab))
	if got := focused(); got != first[0] {
		t.Fatalf("focus on %q, want the first card %q", got, first[0])
	}
	f := func(key, want string) {
		t.Helper()
		do(t, ctx, chromedp.KeyEvent(key))
		if got := focused(); got != want {
			t.Fatalf("after %q focus is on %q, want %q", key, got, want)
		}
	}
	f(kb.ArrowRight, first[1])
	f(kb.ArrowRight, first[2])
	f(kb.ArrowLeft, first[1])
	f(kb.End, first[len(first)-1])
	if left := eval[float64](t, ctx, `document.querySelector('#recs .recs-track').scrollLeft`); left <= 0 {
		t.Errorf("the last card is focused but the carousel did not scroll (scrollLeft %v)", left)
	}
	f(kb.ArrowRight, first[len(first)-1]) // stays at the end
	f(kb.Home, first[0])
	// The focused card is the carousel's one tab stop, so Tab leaves it.
	do(t, ctx, chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.Tab))
	if got := focused(); slices.Contains(first, got) {
		t.Fatalf("Tab stayed in the carousel (on %q)", got)
	}
	noExceptions(t, p.exceptions)
}

func TestClickOnRecommendationSendsEventWithRequestID(t *testing.T) {
	e := setup(t)
	p := e.openProductPage(t, `data-recs-consent="true"`)
	ctx, anchor, ep := p.ctx, p.anchor, p.api
	e.landing.Store(ep.URL)
	rid := eval[string](t, ctx, `document.querySelector('#recs').dataset.recsRequestId`)
	visitor := eval[string](t, ctx, `localStorage.getItem('recs_aid')`)
	clicked := readModules(t, ctx, "#recs")[1].Cards[2].Item

	// The page view of the anchor arrived, without a request id.
	views := e.waitEvents(t, 1, func(ev *catalog.Event) bool {
		return ev.SessionID == visitor && ev.Items[0].ItemID == anchor.ID
	})
	if len(views) != 1 || views[0].Type != catalog.EventViewItem || views[0].RequestID != "" {
		t.Fatalf("page view events %+v", views)
	}

	do(t, ctx, chromedp.Click(chromedp.CSS(`#recs [data-recs-module="bought_together"] [data-recs-item="`+clicked+`"]`)))
	// The link leads to the item's page; its widget reports the same view.
	waitFor(t, ctx, `location.pathname === '/demo/item/`+clicked+`' && document.querySelector('#recs') && document.querySelector('#recs').dataset.recsState === 'ready'`)
	if hash := eval[string](t, ctx, `location.hash`); hash != "" {
		t.Errorf("the landing page kept %q in its URL", hash)
	}
	attributed := e.waitEvents(t, 1, func(ev *catalog.Event) bool { return ev.RequestID == rid })
	if len(attributed) != 1 {
		t.Fatalf("%d events carry request id %s, want 1: %+v", len(attributed), rid, attributed)
	}
	ev := attributed[0]
	if ev.Type != catalog.EventViewItem || len(ev.Items) != 1 || ev.Items[0].ItemID != clicked ||
		ev.SessionID != visitor || ev.Channel != "web" || !strings.HasPrefix(ev.ID, "c-"+rid+"-") {
		t.Fatalf("click event %+v, want a view_item of %s by %s", ev, clicked, visitor)
	}
	// Both the click and the landing page sent it; stored once.
	sent := 0
	for _, r := range ep.requests("POST", "/v1/events") {
		if strings.Contains(r.Body, `"event_id":"`+ev.ID+`"`) {
			sent++
		}
	}
	if sent != 2 {
		t.Errorf("the click's event was sent %d times, want 2 (click and landing page)", sent)
	}
	noExceptions(t, p.exceptions)
}

func TestAddingToCartChangesTheCartModule(t *testing.T) {
	e := setup(t)
	var first string
	var before []string
	for _, id := range e.ids {
		mods := e.apiModules(t, "POST", "/v1/recommendations/cart", `{"item_ids":["`+id+`"],"limit":5}`)
		if len(mods["cross_sell"]) == 5 {
			first, before = id, mods["cross_sell"]
			break
		}
	}
	if first == "" {
		t.Fatal("no item in the test shop has a full cart module")
	}
	ep := e.newEndpoint(t, "ok")
	ctx, exceptions := e.tab(t)
	body := `<div id="cart" data-recs-placement="cart" data-recs-item-ids="` + first + `" data-recs-limit="5"></div>
<button id="add" onclick="const c = document.getElementById('cart');
  c.dataset.recsItemIds += ',' + c.querySelector('.recs-link').dataset.recsItem">Add the first suggestion to the cart</button>`
	do(t, ctx, chromedp.Navigate(e.page(t, hostPage(body, e.script(ep.URL, `data-recs-consent="true"`)))))
	waitState(t, ctx, "#cart", "ready")
	mods := readModules(t, ctx, "#cart")
	if len(mods) != 1 || mods[0].ID != "cross_sell" || !slices.Equal(cardIDs(mods[0]), before) {
		t.Fatalf("cart module %+v, the API answers %v", mods, before)
	}
	added := before[0]
	rid := eval[string](t, ctx, `document.querySelector('#cart').dataset.recsRequestId`)

	do(t, ctx, chromedp.Click(chromedp.ID("add")))
	waitFor(t, ctx, `document.querySelector('#cart').dataset.recsRequestId !== '`+rid+`' && document.querySelector('#cart').dataset.recsState === 'ready'`)
	after := cardIDs(readModules(t, ctx, "#cart")[0])
	if slices.Equal(after, before) || slices.Contains(after, first) || slices.Contains(after, added) {
		t.Fatalf("cart module after adding %s: %v (before %v); it must change and never show a cart item", added, after, before)
	}
	carts := ep.requests("POST", "/v1/recommendations/cart")
	var last struct {
		ItemIDs   []string `json:"item_ids"`
		SessionID string   `json:"session_id"`
	}
	if err := json.Unmarshal([]byte(carts[len(carts)-1].Body), &last); err != nil ||
		!slices.Equal(last.ItemIDs, []string{first, added}) || last.SessionID == "" {
		t.Fatalf("last cart request %s (%v)", carts[len(carts)-1].Body, err)
	}
	noExceptions(t, exceptions)
}

// TestAPIFailureLeavesHostPageIntact: whatever goes wrong with the API,
// the shop's page stays as it was, nothing is rendered and nothing throws.
func TestAPIFailureLeavesHostPageIntact(t *testing.T) {
	e := setup(t)
	ctx, exceptions := e.tab(t) // one tab: a new page for every case
	for _, mode := range []string{"500", "hang", "down", "garbage", "empty"} {
		t.Run(mode, func(t *testing.T) {
			ep := e.newEndpoint(t, mode)
			body := pdpTag(e.ids[0], "", pdpLimit) +
				`<div id="home" data-recs-placement="home"></div><div id="cart" data-recs-placement="cart" data-recs-item-ids="` + e.ids[0] + `"></div>`
			start := time.Now()
			do(t, ctx, chromedp.Navigate(e.page(t, hostPage(body, e.script(ep.URL, `data-recs-consent="true" data-recs-timeout="500"`)))))
			want := map[string]string{"empty": "empty"}[mode]
			if want == "" {
				want = "error"
			}
			for _, sel := range []string{"#recs", "#home", "#cart"} {
				waitState(t, ctx, sel, want)
			}
			if mode == "hang" && time.Since(start) > 10*time.Second {
				t.Errorf("the widget waited %v for a hanging API; its timeout is 500 ms", time.Since(start))
			}
			if n := eval[int](t, ctx, `document.querySelectorAll('.recs-widget, .recs-module, #recs-style').length`); n != 0 {
				t.Errorf("%d widget elements rendered on a failed API", n)
			}
			if got := eval[string](t, ctx, `document.querySelector('main').innerText.replace(/\s+/g, ' ').trim()`); got != "Host shop page The shop's own content." {
				t.Errorf("host page text is %q", got)
			}
			if mode != "down" && len(ep.requests("GET", "/v1/recommendations/pdp")) == 0 {
				t.Error("the widget never asked the API")
			}
			noExceptions(t, exceptions)
		})
	}
}

func TestNoConsentSendsConsentFalseAndStoresNothing(t *testing.T) {
	e := setup(t)
	p := e.openProductPage(t, `data-recs-user-id="u-42"`)
	ctx, anchor, ep := p.ctx, p.anchor, p.api
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('#recs .recs-link').addEventListener('click', e => e.preventDefault())`),
		chromedp.Click(chromedp.CSS(`#recs .recs-link`)))

	stored := func() string {
		return eval[string](t, ctx, `JSON.stringify({local: {...localStorage}, session: {...sessionStorage}, cookie: document.cookie})`)
	}
	if got := stored(); got != `{"local":{},"session":{},"cookie":""}` {
		t.Fatalf("without consent the widget stored %s", got)
	}
	reads := ep.requests("GET", "/v1/recommendations/pdp")
	if len(reads) != 1 {
		t.Fatalf("%d product-page requests", len(reads))
	}
	q := reads[0].Query
	if q.Get("consent") != "false" || q.Has("session_id") || q.Has("user_id") || q.Get("item_id") != anchor.ID {
		t.Fatalf("request without consent: %v", q)
	}
	var events []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for len(events) < 2 && time.Now().Before(deadline) {
		events = events[:0]
		for _, r := range ep.requests("POST", "/v1/events") {
			var ev map[string]any
			if err := json.Unmarshal([]byte(r.Body), &ev); err != nil {
				t.Fatalf("event body %q: %v", r.Body, err)
			}
			events = append(events, ev)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(events) != 2 {
		t.Fatalf("%d events sent, want the page view and the click", len(events))
	}
	for _, ev := range events {
		if ev["consent"] != false || ev["user_id"] != nil || ev["session_id"] != nil {
			t.Errorf("event without consent: %v", ev)
		}
	}
	if events[0]["type"] != "view_item" || events[1]["type"] != "view_item" || events[1]["request_id"] == nil {
		t.Errorf("the page view and the click: %v", events)
	}

	// With consent the same page keeps an anonymous id and sends it.
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`Recs.setConsent(true)`))
	waitFor(t, ctx, `document.querySelector('#recs').dataset.recsState === 'ready' && !!localStorage.getItem('recs_aid')`)
	aid := eval[string](t, ctx, `localStorage.getItem('recs_aid')`)
	deadline = time.Now().Add(10 * time.Second)
	for len(ep.requests("GET", "/v1/recommendations/pdp")) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	reads = ep.requests("GET", "/v1/recommendations/pdp")
	if q := reads[len(reads)-1].Query; q.Get("session_id") != aid || q.Get("user_id") != "u-42" || q.Has("consent") {
		t.Fatalf("request with consent: %v (stored id %q)", q, aid)
	}
	// Withdrawing consent forgets the id.
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`Recs.setConsent(false)`))
	if got := stored(); got != `{"local":{},"session":{},"cookie":""}` {
		t.Fatalf("after consent was withdrawn the browser still holds %s", got)
	}
	noExceptions(t, p.exceptions)
}

func TestWidgetFitsAMobileScreen(t *testing.T) {
	e := setup(t)
	p := e.openProductPage(t, `data-recs-consent="true"`, chromedp.EmulateViewport(375, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	ctx := p.ctx
	type layout struct {
		Viewport, PageWidth, TrackWidth, TrackScroll float64
		CardLeft, CardRight, CardWidth               float64
		Buttons                                      string
	}
	l := eval[layout](t, ctx, `(() => {
		const track = document.querySelector('#recs .recs-track'), c = track.querySelector('.recs-card').getBoundingClientRect();
		return {Viewport: innerWidth, PageWidth: document.documentElement.scrollWidth,
			TrackWidth: track.clientWidth, TrackScroll: track.scrollWidth,
			CardLeft: c.left, CardRight: c.right, CardWidth: c.width,
			Buttons: getComputedStyle(document.querySelector('#recs .recs-next')).display};
	})()`)
	if l.Viewport != 375 || l.PageWidth > l.Viewport {
		t.Errorf("page is %v px wide on a %v px screen: the widget overflows it", l.PageWidth, l.Viewport)
	}
	if l.TrackScroll <= l.TrackWidth {
		t.Errorf("carousel does not scroll sideways (%v of %v px)", l.TrackScroll, l.TrackWidth)
	}
	if l.CardLeft < 0 || l.CardRight > l.Viewport || l.CardWidth < 120 || l.CardWidth > 200 {
		t.Errorf("first card at %v..%v (%v px wide) on a %v px screen", l.CardLeft, l.CardRight, l.CardWidth, l.Viewport)
	}
	if l.Buttons != "none" {
		t.Errorf("arrow buttons shown on a phone (display %s): it swipes", l.Buttons)
	}
	noExceptions(t, p.exceptions)
}

// TestDemoShopShowsEveryPlacement walks the demo as a new visitor would:
// home, a product, a recommended product, the cart, and home again, where
// what they viewed shows.
func TestDemoShopShowsEveryPlacement(t *testing.T) {
	e := setup(t)
	ctx, exceptions := e.tab(t)
	do(t, ctx, chromedp.Navigate(e.recs+"/demo"))
	waitState(t, ctx, `[data-recs-placement="home"]`, "ready")
	do(t, ctx, chromedp.Click(chromedp.ID("consent-yes")))
	waitFor(t, ctx, `!!localStorage.getItem('recs_aid') && document.querySelector('[data-recs-placement="home"]').dataset.recsState === 'ready'`)
	visitor := eval[string](t, ctx, `localStorage.getItem('recs_aid')`)
	home := readModules(t, ctx, `[data-recs-placement="home"]`)
	if len(home) < 2 || home[0].ID != "for_you" || home[1].ID != "trending" {
		t.Fatalf("home modules %+v", home)
	}

	viewed := home[1].Cards[0].Item
	do(t, ctx, chromedp.Click(chromedp.CSS(`[data-recs-module="trending"] .recs-link`)))
	productPage := func(id string) {
		t.Helper()
		waitFor(t, ctx, `location.pathname === '/demo/item/`+id+`'`)
		waitState(t, ctx, `[data-recs-placement="pdp"]`, "ready")
		if got := eval[string](t, ctx, `document.querySelector('main h1').textContent`); got != e.items[id].Title {
			t.Fatalf("product page of %s shows %q", id, got)
		}
		pdp := readModules(t, ctx, `[data-recs-placement="pdp"]`)
		if len(pdp) != 2 || pdp[0].ID != "similar" || pdp[1].ID != "bought_together" {
			t.Fatalf("product page modules %+v", pdp)
		}
	}
	productPage(viewed)
	bought := readModules(t, ctx, `[data-recs-placement="pdp"]`)[0].Cards[0].Item
	do(t, ctx, chromedp.Click(chromedp.CSS(`[data-recs-module="similar"] .recs-link`)))
	productPage(bought)
	if got := eval[bool](t, ctx, `document.getElementById('consent-banner').getBoundingClientRect().height === 0`); !got {
		t.Error("the consent banner is still shown after the visitor answered")
	}
	if *screenshotPath != "" {
		do(t, ctx, chromedp.EmulateViewport(1200, 1240), chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*screenshotPath, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	do(t, ctx, chromedp.Click(chromedp.CSS(`button.buy`)))
	carted := e.waitEvents(t, 1, func(ev *catalog.Event) bool {
		return ev.Type == catalog.EventAddToCart && ev.SessionID == visitor && ev.Items[0].ItemID == bought
	})
	if len(carted) != 1 {
		t.Fatalf("add_to_cart events of %s: %+v", visitor, carted)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`.added a`)))
	waitState(t, ctx, `[data-recs-placement="cart"]`, "ready")
	cart := readModules(t, ctx, `[data-recs-placement="cart"]`)
	if len(cart) != 1 || cart[0].ID != "cross_sell" || slices.Contains(cardIDs(cart[0]), bought) {
		t.Fatalf("cart modules %+v (the cart holds %s)", cart, bought)
	}
	if got := eval[string](t, ctx, `document.getElementById('cart-count').textContent`); got != "1" {
		t.Errorf("cart count %q", got)
	}

	do(t, ctx, chromedp.Click(chromedp.CSS(`a.logo`)))
	waitState(t, ctx, `[data-recs-placement="home"]`, "ready")
	var recent []string
	for _, m := range readModules(t, ctx, `[data-recs-placement="home"]`) {
		if m.ID == "recently_viewed" {
			recent = cardIDs(m)
		}
	}
	if !slices.Contains(recent, viewed) {
		t.Fatalf("recently viewed %v, want it to hold %s", recent, viewed)
	}
	noExceptions(t, exceptions)
}
