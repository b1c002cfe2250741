package widget

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func request(t *testing.T, h func(*fasthttp.RequestCtx) error, path string, headers ...string) *fasthttp.Response {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI(path)
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Set(headers[i], headers[i+1])
	}
	if err := h(&ctx); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	var resp fasthttp.Response
	ctx.Response.CopyTo(&resp)
	return &resp
}

func TestEveryEmbeddedFileHasAContentType(t *testing.T) {
	if _, err := load(); err != nil {
		t.Fatal(err)
	}
}

func TestWidgetIsServedCompressedWithAnETag(t *testing.T) {
	a := New()
	plain := request(t, a.Widget, "/widget.js")
	if plain.StatusCode() != 200 || string(plain.Header.ContentType()) != "text/javascript; charset=utf-8" ||
		len(plain.Header.Peek("Content-Encoding")) != 0 || !bytes.Contains(plain.Body(), []byte("w.Recs = {")) {
		t.Fatalf("plain: %d %q %q", plain.StatusCode(), plain.Header.ContentType(), plain.Header.Peek("Content-Encoding"))
	}
	if cc := string(plain.Header.Peek("Cache-Control")); cc != widgetCacheControl {
		t.Fatalf("Cache-Control %q", cc)
	}
	if got := string(plain.Header.Peek("Access-Control-Allow-Origin")); got != "*" {
		t.Fatalf("Access-Control-Allow-Origin %q, want * (any shop may load the script)", got)
	}

	gz := request(t, a.Widget, "/widget.js", "Accept-Encoding", "gzip, deflate, br")
	if string(gz.Header.Peek("Content-Encoding")) != "gzip" || len(gz.Body()) != a.WidgetGzipSize() {
		t.Fatalf("gzip: encoding %q, %d bytes", gz.Header.Peek("Content-Encoding"), len(gz.Body()))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz.Body()))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain.Body()) {
		t.Fatalf("gzipped body does not unpack to the plain one (err %v)", err)
	}

	etag := string(plain.Header.Peek("ETag"))
	if !strings.HasPrefix(etag, `W/"`) {
		t.Fatalf("ETag %q", etag)
	}
	f := func(ifNoneMatch string, want int) {
		t.Helper()
		r := request(t, a.Widget, "/widget.js", "If-None-Match", ifNoneMatch)
		if r.StatusCode() != want {
			t.Fatalf("If-None-Match %q: status %d, want %d", ifNoneMatch, r.StatusCode(), want)
		}
		if want == 304 && len(r.Body()) != 0 {
			t.Fatalf("304 with a body of %d bytes", len(r.Body()))
		}
	}
	f(etag, 304)
	f(strings.TrimPrefix(etag, "W/"), 304)
	f(`"other", `+etag, 304)
	f("*", 304)
	f(`"other"`, 200)
}

func TestDemoPagesShareOneShellAndUnknownPathsAre404(t *testing.T) {
	a := New()
	shell := request(t, a.Demo, "/demo")
	if shell.StatusCode() != 200 || string(shell.Header.ContentType()) != "text/html; charset=utf-8" ||
		!bytes.Contains(shell.Body(), []byte(`<script src="/widget.js">`)) {
		t.Fatalf("/demo: %d %q", shell.StatusCode(), shell.Header.ContentType())
	}
	for _, p := range []string{"/demo/", "/demo/cart", "/demo/item/D-000001"} {
		if r := request(t, a.Demo, p); r.StatusCode() != 200 || !bytes.Equal(r.Body(), shell.Body()) {
			t.Errorf("%s: %d, want the demo page", p, r.StatusCode())
		}
	}
	f := func(path, contentType string) {
		t.Helper()
		r := request(t, a.Demo, path)
		if r.StatusCode() != 200 || string(r.Header.ContentType()) != contentType || len(r.Body()) == 0 {
			t.Errorf("%s: %d %q", path, r.StatusCode(), r.Header.ContentType())
		}
	}
	f("/demo/assets/demo.js", "text/javascript; charset=utf-8")
	f("/demo/assets/demo.css", "text/css; charset=utf-8")
	for _, p := range []string{"/demo/assets/nope.js", "/demo/elsewhere", "/demo/assets/../index.html"} {
		r := request(t, a.Demo, p)
		if r.StatusCode() != 404 || !bytes.Contains(r.Body(), []byte(`"error"`)) {
			t.Errorf("%s: %d %s, want a 404 with an error", p, r.StatusCode(), r.Body())
		}
	}
}
