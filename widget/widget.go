// Package widget serves the storefront widget (widget.js) and the demo shop
// page (/demo) from files embedded in the binary, so `recs serve` needs no
// other files. Each file is compressed once at start and served with an
// ETag, so browsers revalidate instead of downloading it again.
package widget

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

//go:embed widget.js demo
var files embed.FS

// asset is one embedded file, ready to send.
type asset struct {
	body, gzipped []byte
	etag          string
	contentType   string
	cacheControl  string
}

// Assets serves the embedded files.
type Assets struct {
	widget   asset
	demoPage asset
	demo     map[string]*asset // /demo/assets/NAME
}

// Cache lifetimes. widget.js keeps one URL across releases, so caches hold
// it only briefly and then revalidate (cheap: ETag, 304); the demo is
// revalidated every time.
const (
	widgetCacheControl = "public, max-age=300"
	demoCacheControl   = "no-cache"
)

// New loads and compresses the embedded files. They are part of the
// binary, so it fails only for a broken build (a file without a known
// content type), which it reports by panicking; the package's tests load
// every file.
func New() *Assets {
	a, err := load()
	if err != nil {
		panic(err)
	}
	return a
}

func load() (*Assets, error) {
	a := &Assets{demo: map[string]*asset{}}
	var err error
	if a.widget, err = loadFile("widget.js", widgetCacheControl); err != nil {
		return nil, err
	}
	if a.demoPage, err = loadFile("demo/index.html", demoCacheControl); err != nil {
		return nil, err
	}
	entries, err := files.ReadDir("demo/assets")
	if err != nil {
		return nil, fmt.Errorf("embedded demo assets: %w", err)
	}
	for _, e := range entries {
		f, err := loadFile("demo/assets/"+e.Name(), demoCacheControl)
		if err != nil {
			return nil, err
		}
		a.demo[e.Name()] = &f
	}
	return a, nil
}

var contentTypes = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".html": "text/html; charset=utf-8",
	".svg":  "image/svg+xml",
}

func loadFile(name, cacheControl string) (asset, error) {
	body, err := files.ReadFile(name)
	if err != nil {
		return asset{}, fmt.Errorf("embedded file %s: %w", name, err)
	}
	ct, ok := contentTypes[path.Ext(name)]
	if !ok {
		return asset{}, fmt.Errorf("embedded file %s: no content type for its extension", name)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(body)
	if err := zw.Close(); err != nil {
		return asset{}, fmt.Errorf("compress %s: %w", name, err)
	}
	sum := sha256.Sum256(body)
	// Weak: the gzipped and the plain body are the same representation.
	etag := `W/"` + hex.EncodeToString(sum[:8]) + `"`
	return asset{body: body, gzipped: gz.Bytes(), etag: etag, contentType: ct, cacheControl: cacheControl}, nil
}

// WidgetGzipSize is the size of widget.js as served to browsers that
// accept gzip.
func (a *Assets) WidgetGzipSize() int { return len(a.widget.gzipped) }

// Widget serves /widget.js.
func (a *Assets) Widget(ctx *fasthttp.RequestCtx) error {
	// Any page may load the script, also with crossorigin and integrity.
	ctx.Response.Header.Set("Access-Control-Allow-Origin", "*")
	serve(ctx, &a.widget)
	return nil
}

// Demo serves the demo shop: one page for /demo, /demo/item/ID and
// /demo/cart (the page routes in the browser), and its files under
// /demo/assets/.
func (a *Assets) Demo(ctx *fasthttp.RequestCtx) error {
	p := string(ctx.Path())
	switch {
	case p == "/demo" || p == "/demo/" || p == "/demo/cart" || strings.HasPrefix(p, "/demo/item/"):
		serve(ctx, &a.demoPage)
	case strings.HasPrefix(p, "/demo/assets/"):
		f := a.demo[strings.TrimPrefix(p, "/demo/assets/")]
		if f == nil {
			notFound(ctx, p)
			return nil
		}
		serve(ctx, f)
	default:
		notFound(ctx, p)
	}
	return nil
}

func notFound(ctx *fasthttp.RequestCtx, p string) {
	ctx.SetStatusCode(fasthttp.StatusNotFound)
	ctx.SetContentType("application/json")
	fmt.Fprintf(ctx, `{"error":%q}`, "no demo page at "+p+": try /demo")
}

func serve(ctx *fasthttp.RequestCtx, f *asset) {
	h := &ctx.Response.Header
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", f.cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if etagMatches(ctx.Request.Header.Peek("If-None-Match"), f.etag) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetContentType(f.contentType)
	if ctx.Request.Header.HasAcceptEncoding("gzip") {
		h.Set("Content-Encoding", "gzip")
		ctx.SetBody(f.gzipped)
		return
	}
	ctx.SetBody(f.body)
}

// etagMatches reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatches(header []byte, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(string(header), ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}
