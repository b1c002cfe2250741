package loadtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Endpoint is one kind of request in the traffic mix. Path (with its
// query) and Body are templates whose {{name}} placeholders are filled for
// every request from the virtual session that sends it:
//
//	{{session}}  the session id, "lt-<run>-s<n>"
//	{{user}}     the session's user id, "lt-<run>-u<n>"
//	{{item}}     an item the session views now (Zipf-drawn); URL-escaped in
//	             Path, JSON-escaped (without quotes) in Body
//	{{items}}    JSON array of 1-3 items the session viewed so far
//	{{page}}     JSON array of Config.RankItems consecutive catalogue ids,
//	             the page chosen by popularity (a category listing)
//	{{events}}   JSON array of view_item events for the session's views
//	             not yet reported (1-4; a fresh view if there are none), or
//	             of Config.EventsBatch views of Zipf-drawn items
//	{{stock}}    JSON array of Config.StockBatch {"item_id","stock"} updates
//	{{limit}}    Config.Limit
//	{{seq}}      the request's sequence number in the run
//
// The array placeholders are allowed in Body only. Any 2xx answer is a
// success; every other status, a 404 included, is an error.
type Endpoint struct {
	Name   string `json:"name"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Body   string `json:"body,omitempty"`
}

// DefaultEndpoints returns the endpoints the scenarios use. Against a
// server without cart or rank, exclude them (Config.Exclude), or every one
// of them counts as a 404 error.
func DefaultEndpoints() []Endpoint {
	return []Endpoint{
		{Name: "pdp", Method: "GET", Path: "/v1/recommendations/pdp?item_id={{item}}&limit={{limit}}&session_id={{session}}&user_id={{user}}"},
		{Name: "home", Method: "GET", Path: "/v1/recommendations/home?limit={{limit}}&session_id={{session}}&user_id={{user}}"},
		{Name: "cart", Method: "POST", Path: "/v1/recommendations/cart",
			Body: `{"session_id":"{{session}}","user_id":"{{user}}","item_ids":{{items}},"limit":{{limit}}}`},
		{Name: "events", Method: "POST", Path: "/v1/events", Body: `{{events}}`},
		{Name: "rank", Method: "POST", Path: "/v1/rank",
			Body: `{"session_id":"{{session}}","user_id":"{{user}}","placement":"category","item_ids":{{page}}}`},
		{Name: "stock", Method: "POST", Path: "/v1/stock", Body: `{{stock}}`},
	}
}

type placeholder uint8

const (
	phNone placeholder = iota
	phSession
	phUser
	phItem
	phItems
	phPage
	phEvents
	phStock
	phLimit
	phSeq
)

var placeholders = map[string]placeholder{
	"session": phSession, "user": phUser, "item": phItem, "items": phItems, "page": phPage,
	"events": phEvents, "stock": phStock, "limit": phLimit, "seq": phSeq,
}

// segment is a literal or a placeholder of a compiled template.
type segment struct {
	lit []byte
	ph  placeholder
}

type template struct {
	segs   []segment
	inPath bool
}

func compileTemplate(s string, inPath bool) (template, error) {
	t := template{inPath: inPath}
	for s != "" {
		i := strings.Index(s, "{{")
		if i < 0 {
			t.segs = append(t.segs, segment{lit: []byte(s)})
			break
		}
		if i > 0 {
			t.segs = append(t.segs, segment{lit: []byte(s[:i])})
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return t, fmt.Errorf("unterminated placeholder in %q", s)
		}
		name := s[i+2 : i+j]
		ph, ok := placeholders[name]
		if !ok {
			return t, fmt.Errorf("unknown placeholder {{%s}} (known: session, user, item, items, page, events, stock, limit, seq)", name)
		}
		if inPath && (ph == phItems || ph == phPage || ph == phEvents || ph == phStock) {
			return t, fmt.Errorf("placeholder {{%s}} is a JSON array and may only be used in a body", name)
		}
		t.segs = append(t.segs, segment{ph: ph})
		s = s[i+j+2:]
	}
	return t, nil
}

// endpoint is a compiled Endpoint.
type endpoint struct {
	Endpoint
	path, body template
	used       uint32 // bit 1<<ph for every placeholder in path or body
}

func (e *endpoint) uses(ph placeholder) bool { return e.used&(1<<ph) != 0 }

func compileEndpoint(e Endpoint) (*endpoint, error) {
	if e.Name == "" || strings.Trim(e.Name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		return nil, fmt.Errorf("endpoint name %q must be lower-case letters, digits, '_' or '-'", e.Name)
	}
	switch e.Method {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
	default:
		return nil, fmt.Errorf("endpoint %s: method %q is not one of GET, POST, PUT, PATCH, DELETE", e.Name, e.Method)
	}
	if !strings.HasPrefix(e.Path, "/") {
		return nil, fmt.Errorf("endpoint %s: path %q must start with /", e.Name, e.Path)
	}
	c := &endpoint{Endpoint: e}
	var err error
	if c.path, err = compileTemplate(e.Path, true); err != nil {
		return nil, fmt.Errorf("endpoint %s: path: %w", e.Name, err)
	}
	if c.body, err = compileTemplate(e.Body, false); err != nil {
		return nil, fmt.Errorf("endpoint %s: body: %w", e.Name, err)
	}
	for _, s := range slices.Concat(c.path.segs, c.body.segs) {
		c.used |= 1 << s.ph
	}
	return c, nil
}

// job is one planned request: everything about it is decided by the
// scheduler, so the sequence depends on the seed only, never on timing.
type job struct {
	at      time.Duration // scheduled send time, from the start of the run
	seq     uint64
	session uint64
	ep      uint8
	late    bool  // no connection was free when it was due
	n       uint8 // items used
	items   [maxEventItems]int32
	window  int32 // first catalogue index of a {{page}} or {{stock}}
}

const (
	maxEventItems = 4 // views reported per events request
	viewRing      = 8 // views a session remembers
	usersPerSess  = 3 // sessions per user id: users come back
)

// session is a virtual shopper: it views items, reports the views and
// reads recommendations for what it viewed.
type session struct {
	num     uint64
	left    int // requests before the session ends
	viewed  [viewRing]int32
	views   int // total views
	pending int // views not yet reported, at most viewRing
}

// zipf draws ranks 0..n-1 with P(k) proportional to 1/(k+1)^s by inverse
// CDF: any s >= 0, exact, O(log n) per draw.
type zipf struct{ cum []float64 }

func newZipf(n int, s float64) zipf {
	cum := make([]float64, n)
	var sum float64
	for k := range cum {
		sum += math.Pow(float64(k+1), -s)
		cum[k] = sum
	}
	return zipf{cum: cum}
}

func (z zipf) draw(r *rand.Rand) int { return z.at(r.Float64()) }

// at returns the rank at u, a uniform draw in [0, 1).
func (z zipf) at(u float64) int {
	return min(sort.SearchFloat64s(z.cum, u*z.cum[len(z.cum)-1]), len(z.cum)-1)
}

// unitHash maps (a, b) to a uniform float in [0, 1) (splitmix64), so
// workers derive draws from a job without sharing a generator.
func unitHash(a, b uint64) float64 {
	h := a*0x9e3779b97f4a7c15 + b + 1
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return float64(h>>11) / (1 << 53)
}

// planner turns sequence numbers into jobs. It is used by the scheduler
// goroutine only.
type planner struct {
	rng      *rand.Rand
	eps      []*endpoint
	cum      []float64 // cumulative mix weights, parallel to eps
	items    zipf
	pages    zipf
	pageSize int
	nItems   int
	batch    int
	sessions []session
	nextSess uint64
}

func newPlanner(cfg *Config, eps []*endpoint, weights []float64) *planner {
	p := &planner{
		rng:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		eps:      eps,
		items:    newZipf(len(cfg.Catalog), cfg.ZipfS),
		pageSize: cfg.RankItems,
		nItems:   len(cfg.Catalog),
		batch:    cfg.StockBatch,
		sessions: make([]session, cfg.Sessions),
	}
	p.pages = newZipf(max(1, len(cfg.Catalog)/cfg.RankItems), cfg.ZipfS)
	var sum float64
	for _, w := range weights {
		sum += w
		p.cum = append(p.cum, sum)
	}
	return p
}

func (p *planner) view(s *session) int32 {
	it := int32(p.items.draw(p.rng))
	s.viewed[s.views%viewRing] = it
	s.views++
	s.pending = min(s.pending+1, viewRing)
	return it
}

// recent copies the k most recent views of s into dst.
func recent(s *session, dst []int32, k int) {
	for i := range k {
		dst[i] = s.viewed[(s.views-1-i)%viewRing]
	}
}

func (p *planner) plan(j *job) {
	u := p.rng.Float64() * p.cum[len(p.cum)-1]
	ep := 0
	for ep < len(p.cum)-1 && u >= p.cum[ep] {
		ep++
	}
	j.ep = uint8(ep)
	s := &p.sessions[p.rng.IntN(len(p.sessions))]
	if s.left <= 0 {
		p.nextSess++
		*s = session{num: p.nextSess, left: 5 + p.rng.IntN(36)}
	}
	s.left--
	j.session = s.num
	j.n = 0
	e := p.eps[ep]
	if e.uses(phItem) {
		j.items[0] = p.view(s)
		j.n = 1
	}
	if e.uses(phItems) {
		if s.views == 0 {
			p.view(s)
		}
		k := min(1+p.rng.IntN(3), s.views, viewRing)
		recent(s, j.items[:], k)
		j.n = uint8(k)
	}
	if e.uses(phEvents) {
		if s.pending == 0 {
			p.view(s)
		}
		k := min(s.pending, maxEventItems)
		recent(s, j.items[:], k)
		j.n = uint8(k)
		s.pending = 0
	}
	switch {
	case e.uses(phPage):
		j.window = int32(p.pages.draw(p.rng) * p.pageSize)
		j.window = min(j.window, int32(p.nItems-p.pageSize))
	case e.uses(phStock):
		j.window = int32(p.rng.IntN(p.nItems - p.batch + 1))
	}
}

// renderer writes jobs as request bytes; it is read-only and shared by
// the workers.
type renderer struct {
	catalog     []string
	run         string
	limit       []byte
	pageSize    int
	batch       int
	eventsBatch int
	items       zipf // for the items of event batches
	// reserved is 1 + the catalogue index of the item the stock probe
	// owns (0: none); stock batches leave it out.
	reserved *atomic.Int64
}

// newRenderer returns the renderer of a validated configuration.
func newRenderer(cfg *Config) *renderer {
	r := &renderer{
		catalog: cfg.Catalog, run: cfg.RunID, limit: strconv.AppendInt(nil, int64(cfg.Limit), 10),
		pageSize: cfg.RankItems, batch: cfg.StockBatch, eventsBatch: cfg.EventsBatch,
		reserved: new(atomic.Int64),
	}
	if cfg.EventsBatch > 0 {
		r.items = newZipf(len(cfg.Catalog), cfg.ZipfS)
	}
	return r
}

func (r *renderer) appendSession(dst []byte, n uint64) []byte {
	dst = append(dst, "lt-"...)
	dst = append(dst, r.run...)
	dst = append(dst, "-s"...)
	return strconv.AppendUint(dst, n, 10)
}

func (r *renderer) appendUser(dst []byte, session uint64) []byte {
	dst = append(dst, "lt-"...)
	dst = append(dst, r.run...)
	dst = append(dst, "-u"...)
	return strconv.AppendUint(dst, (session+usersPerSess-1)/usersPerSess, 10)
}

func appendIDArray(dst []byte, ids []string) []byte {
	dst = append(dst, '[')
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = appendJSONEscaped(dst, id)
		dst = append(dst, '"')
	}
	return append(dst, ']')
}

// render appends the filled template t for job j to dst. now is the
// time stamped on events.
func (r *renderer) render(dst []byte, t *template, j *job, now time.Time) []byte {
	for _, s := range t.segs {
		switch s.ph {
		case phNone:
			dst = append(dst, s.lit...)
		case phSession:
			dst = r.appendSession(dst, j.session)
		case phUser:
			dst = r.appendUser(dst, j.session)
		case phItem:
			id := r.catalog[j.items[0]]
			if t.inPath {
				dst = appendQueryEscaped(dst, id)
			} else {
				dst = appendJSONEscaped(dst, id)
			}
		case phItems:
			dst = append(dst, '[')
			for i := range int(j.n) {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, '"')
				dst = appendJSONEscaped(dst, r.catalog[j.items[i]])
				dst = append(dst, '"')
			}
			dst = append(dst, ']')
		case phPage:
			dst = appendIDArray(dst, r.catalog[j.window:int(j.window)+r.pageSize])
		case phEvents:
			dst = r.appendEvents(dst, j, now)
		case phStock:
			dst = r.appendStock(dst, j)
		case phLimit:
			dst = append(dst, r.limit...)
		case phSeq:
			dst = strconv.AppendUint(dst, j.seq, 10)
		}
	}
	return dst
}

// appendEvents writes one view_item event per item of j (or
// eventsBatch events of items drawn from j's sequence number), valid per
// catalog.Event.Validate, with ids unique in the run.
func (r *renderer) appendEvents(dst []byte, j *job, now time.Time) []byte {
	dst = append(dst, '[')
	n := int(j.n)
	if r.eventsBatch > 0 {
		n = r.eventsBatch
	}
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		item := r.catalog[j.items[min(i, maxEventItems-1)]]
		if r.eventsBatch > 0 {
			item = r.catalog[r.items.at(unitHash(j.seq, uint64(i)))]
		}
		dst = append(dst, `{"event_id":"lt-`...)
		dst = append(dst, r.run...)
		dst = append(dst, '-')
		dst = strconv.AppendUint(dst, j.seq, 10)
		dst = append(dst, '-')
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, `","type":"view_item","time":"`...)
		dst = now.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, `","session_id":"`...)
		dst = r.appendSession(dst, j.session)
		dst = append(dst, `","user_id":"`...)
		dst = r.appendUser(dst, j.session)
		dst = append(dst, `","items":[{"item_id":"`...)
		dst = appendJSONEscaped(dst, item)
		dst = append(dst, `"}]}`...)
	}
	return append(dst, ']')
}

// appendStock writes a batch of stock levels for consecutive items (but
// the probe's); about one in fifty goes out of stock.
func (r *renderer) appendStock(dst []byte, j *job) []byte {
	dst = append(dst, '[')
	h := j.seq*0x9e3779b97f4a7c15 + 1
	skip := int(r.reserved.Load()) - 1
	first := true
	for i := range r.batch {
		h ^= h >> 29
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 32
		if int(j.window)+i == skip {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, `{"item_id":"`...)
		dst = appendJSONEscaped(dst, r.catalog[int(j.window)+i])
		dst = append(dst, `","stock":`...)
		dst = strconv.AppendUint(dst, h%50, 10)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

const hexDigits = "0123456789ABCDEF"

// appendJSONEscaped appends s as the inside of a JSON string.
func appendJSONEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendQueryEscaped appends s escaped as a URL query value.
func appendQueryEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return dst
}

// appendRequest appends the HTTP/1.1 request of j to e, sent at now, to
// dst, as fasthttp writes it; body is a buffer for the body, returned
// for reuse.
func (r *renderer) appendRequest(dst, body []byte, e *endpoint, j *job, host string, now time.Time) ([]byte, []byte) {
	dst = append(dst, e.Method...)
	dst = append(dst, ' ')
	dst = r.render(dst, &e.path, j, now)
	dst = append(dst, " HTTP/1.1\r\nUser-Agent: recs-loadtest\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\n"...)
	body = body[:0]
	switch {
	case len(e.body.segs) > 0:
		body = r.render(body, &e.body, j, now)
		dst = append(dst, "Content-Type: application/json\r\n"...)
	case e.Method == "GET": // no body, no length
		return append(dst, "\r\n"...), body
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...), body
}
