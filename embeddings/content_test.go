package embeddings

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/recs-server/recs/catalog"
)

func testItem(id, title, desc, brand string, cat []string, attrs map[string]string) catalog.Item {
	return catalog.Item{ID: id, Title: title, Description: desc, Brand: brand, Category: cat, Attributes: attrs, Active: true, Price: 10}
}

// testCatalogue has three subcategories with distinct vocabularies plus
// filler items so the IDF means something.
func testCatalogue() []catalog.Item {
	mugs := []string{"Home", "Kitchen", "Mugs"}
	knives := []string{"Home", "Kitchen", "Knives"}
	hoses := []string{"Garden", "Watering", "Hoses"}
	items := []catalog.Item{
		testItem("mug1", "Stoneware coffee mug", "A sturdy mug for coffee and tea, dishwasher safe.", "Acme", mugs, map[string]string{"colour": "blue", "material": "stoneware"}),
		testItem("mug2", "Porcelain tea mug", "Fine porcelain mug, holds 300 ml of tea.", "Brewline", mugs, map[string]string{"colour": "white", "material": "porcelain"}),
		testItem("mug3", "Enamel camping mug", "Light enamel mug for coffee outdoors.", "Trailco", mugs, map[string]string{"colour": "green"}),
		testItem("knife1", "Chef knife 20 cm", "Forged steel chef knife with a full tang.", "Acme", knives, map[string]string{"material": "steel"}),
		testItem("knife2", "Paring knife", "Small steel knife for peeling and trimming.", "Edgeworks", knives, map[string]string{"material": "steel"}),
		testItem("hose1", "Garden hose 25 m", "Kink-free garden hose with brass fittings.", "Greenflow", hoses, map[string]string{"colour": "green", "length": "25 m"}),
		testItem("hose2", "Expandable garden hose", "Lightweight hose that expands to 30 m.", "Greenflow", hoses, map[string]string{"colour": "blue"}),
	}
	for i := range 20 {
		items = append(items, testItem(fmt.Sprintf("f%02d", i), fmt.Sprintf("Filler product %d", i), "An ordinary product for the home and garden.", "Generic", []string{"Misc"}, nil))
	}
	return items
}

func embedAll(m *ContentModel, items []catalog.Item) map[string][]float32 {
	out := make(map[string][]float32, len(items))
	for i := range items {
		out[items[i].ID] = m.Embed(&items[i], nil)
	}
	return out
}

func TestContentVectorsPutSameCategoryCloser(t *testing.T) {
	items := testCatalogue()
	v := embedAll(NewContentModel(items, 1), items)
	f := func(a, near, far string) {
		t.Helper()
		cn, cf := Cosine(v[a], v[near]), Cosine(v[a], v[far])
		if cn <= cf {
			t.Errorf("cos(%s, %s) = %.3f is not above cos(%s, %s) = %.3f", a, near, cn, a, far, cf)
		}
	}
	f("mug1", "mug2", "knife1") // same subcategory beats same brand and parent
	f("mug1", "mug3", "hose1")
	f("mug2", "mug3", "knife2")
	f("knife1", "knife2", "mug1")
	f("knife1", "mug1", "hose1") // same parent category beats another tree
	f("hose1", "hose2", "mug3")
}

func TestContentVectorsOfSharedWordsAreCloser(t *testing.T) {
	items := testCatalogue()
	items = append(items,
		testItem("x1", "Red wool scarf", "", "", nil, nil),
		testItem("x2", "Red wool hat", "", "", nil, nil),
		testItem("x3", "Blue cotton socks", "", "", nil, nil),
	)
	v := embedAll(NewContentModel(items, 7), items)
	if a, b := Cosine(v["x1"], v["x2"]), Cosine(v["x1"], v["x3"]); a <= b+0.2 {
		t.Fatalf("scarf~hat %.3f should clearly beat scarf~socks %.3f", a, b)
	}
}

func TestContentVectorsTolerateSpellingVariants(t *testing.T) {
	items := testCatalogue()
	m := NewContentModel(items, 3)
	a := testItem("n1", "Colourful ceramic teapot", "", "", nil, nil)
	b := testItem("n2", "Colorful ceramic teapot", "", "", nil, nil)   // one variant
	c := testItem("n3", "Colorful ceramics teapots", "", "", nil, nil) // every word differs
	d := testItem("n4", "Waterproof hiking boots", "", "", nil, nil)
	va, vb, vc, vd := m.Embed(&a, nil), m.Embed(&b, nil), m.Embed(&c, nil), m.Embed(&d, nil)
	ab, ac, ad := Cosine(va, vb), Cosine(va, vc), Cosine(va, vd)
	if ab < 0.6 || ac < ad+0.25 {
		t.Fatalf("one variant: cos %.3f (want >= 0.6); all words varied: %.3f; unrelated: %.3f", ab, ac, ad)
	}
}

func TestContentVectorOfNewItemIsNearItsKind(t *testing.T) {
	items := testCatalogue()
	m := NewContentModel(items, 11)
	v := embedAll(m, items)
	newMug := testItem("new", "Large latte mug", "A big mug for coffee.", "Nobrand", []string{"Home", "Kitchen", "Mugs"}, nil)
	q := m.Embed(&newMug, nil)
	best, bestCos := "", -2.0
	for id, x := range v {
		if c := Cosine(q, x); c > bestCos {
			best, bestCos = id, c
		}
	}
	if best[:3] != "mug" {
		t.Fatalf("the nearest item to a new mug is %s (cos %.3f)", best, bestCos)
	}
}

func TestContentEmbedAppendsOneUnitVector(t *testing.T) {
	items := testCatalogue()
	m := NewContentModel(items, 1)
	dst := []float32{42}
	dst = m.Embed(&items[0], dst)
	if len(dst) != 1+catalog.EmbeddingDims || dst[0] != 42 {
		t.Fatalf("Embed did not append: len %d, dst[0] %v", len(dst), dst[0])
	}
	if n := Dot(dst[1:], dst[1:]); n < 0.999 || n > 1.001 {
		t.Fatalf("|v|² = %v, want 1", n)
	}
	empty := catalog.Item{ID: "e", Title: "--"}
	z := m.Embed(&empty, nil)
	if len(z) != catalog.EmbeddingDims || Dot(z, z) != 0 {
		t.Fatalf("an item without words should get the zero vector, got |v|² = %v", Dot(z, z))
	}
}

func TestContentEmbedAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	items := testCatalogue()
	m := NewContentModel(items, 1)
	dst := make([]float32, 0, catalog.EmbeddingDims)
	m.Embed(&items[0], dst) // warm the pool
	allocs := testing.AllocsPerRun(100, func() { dst = m.Embed(&items[0], dst[:0]) })
	if allocs != 0 {
		t.Fatalf("Embed allocates %.1f times per call", allocs)
	}
}

func TestContentVectorsDependOnSeedOnly(t *testing.T) {
	items := testCatalogue()
	a := NewContentModel(items, 5).Embed(&items[1], nil)
	b := NewContentModel(items, 5).Embed(&items[1], nil)
	c := NewContentModel(items, 6).Embed(&items[1], nil)
	if !slices.Equal(a, b) {
		t.Fatal("two models with one seed embed differently")
	}
	if slices.Equal(a, c) {
		t.Fatal("the seed does not change the projection")
	}
}

func TestContentModelRoundTripEmbedsIdentically(t *testing.T) {
	items := testCatalogue()
	m := NewContentModel(items, 99)
	blob, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	blob2, _ := NewContentModel(items, 99).MarshalBinary()
	if !slices.Equal(blob, blob2) {
		t.Fatal("equal models serialise differently")
	}
	var back ContentModel
	if err := back.UnmarshalBinary(blob); err != nil {
		t.Fatal(err)
	}
	if back.Tokens() != m.Tokens() || back.Tokens() == 0 {
		t.Fatalf("tokens %d after round trip, %d before", back.Tokens(), m.Tokens())
	}
	fresh := testItem("new", "Porcelain espresso cup", "Tiny cup.", "Acme", []string{"Home", "Kitchen", "Cups"}, map[string]string{"colour": "red"})
	for _, it := range append(items, fresh) {
		if a, b := m.Embed(&it, nil), back.Embed(&it, nil); !slices.Equal(a, b) {
			t.Fatalf("item %s embeds differently after a round trip", it.ID)
		}
	}
}

func TestContentModelRejectsCorruptBlobs(t *testing.T) {
	blob, _ := NewContentModel(testCatalogue(), 1).MarshalBinary()
	f := func(name string, b []byte) {
		t.Helper()
		var m ContentModel
		if err := m.UnmarshalBinary(b); !errors.Is(err, ErrContentModel) {
			t.Errorf("%s: err = %v, want ErrContentModel", name, err)
		}
	}
	f("empty", nil)
	f("bad magic", append([]byte("XXXX"), blob[4:]...))
	f("truncated", blob[:len(blob)-3])
	f("trailing", append(slices.Clone(blob), 0))
	f("future scheme", append([]byte("RCCM\x09"), blob[5:]...))
	f("huge count", append(slices.Clone(blob[:14]), 0xff, 0xff, 0xff, 0xff, 0x0f))
}

func FuzzContentModelUnmarshal(f *testing.F) {
	blob, _ := NewContentModel(testCatalogue(), 1).MarshalBinary()
	f.Add(blob)
	f.Add([]byte("RCCM"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m ContentModel
		if m.UnmarshalBinary(b) == nil {
			it := testItem("x", "a title", "", "", nil, nil)
			m.Embed(&it, nil)
		}
	})
}
