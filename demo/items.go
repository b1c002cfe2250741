package demo

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/recs-server/recs/catalog"
)

const (
	shareOutOfStock = 0.06
	shareLowStock   = 0.05
	shareInactive   = 0.02
	shareNew        = 0.04 // created in the last newDays days
	newDays         = 14
	catalogDays     = 365
)

// makeItems builds the catalog and the per-item facts the event simulation
// uses: popularity, price percentile, complementary partners, trending set.
func (g *gen) makeItems(r *rand.Rand) {
	g.setupTaxonomy()
	n := g.opt.Items
	shares := make([]float64, len(g.subs))
	for i := range g.subs {
		shares[i] = g.subs[i].spec.share
	}
	counts := apportion(n, shares)
	assign := make([]int, 0, n)
	for s, c := range counts {
		for range c {
			assign = append(assign, s)
		}
	}
	// Shuffle so that ids do not follow the category tree.
	r.Shuffle(len(assign), func(i, j int) { assign[i], assign[j] = assign[j], assign[i] })

	ids := idStrings("D-", n, 6)
	g.items = make([]catalog.Item, n)
	g.meta = make([]itemMeta, n)
	for i, s := range assign {
		g.makeItem(r, i, s, ids[i])
		g.subs[s].items = append(g.subs[s].items, int32(i))
	}
	g.linkIncompatible()
	g.pickPartners(r)
	g.setPopularity(r)
	g.setPricePercentiles()
	g.pickTrending(r)
}

// setupTaxonomy resolves the static tables into indices.
func (g *gen) setupTaxonomy() {
	deptIdx := make(map[string]int, len(departments))
	g.depts = make([]dept, len(departments))
	for i, name := range departments {
		deptIdx[name] = i
		g.depts[i].name = name
	}
	for b := range brandTable {
		for _, d := range brandTable[b].depts {
			g.depts[deptIdx[d]].brands = append(g.depts[deptIdx[d]].brands, b)
		}
	}
	subIdx := make(map[string]int, len(subcatTable))
	g.subs = make([]subcat, len(subcatTable))
	for i := range subcatTable {
		spec := &subcatTable[i]
		subIdx[spec.name] = i
		d := deptIdx[spec.dept]
		sc := &g.subs[i]
		sc.spec = spec
		sc.dept = d
		g.depts[d].subs = append(g.depts[d].subs, i)
		if spec.brands != nil {
			for _, name := range spec.brands {
				sc.brands = append(sc.brands, brandIndex(name))
			}
		} else {
			sc.brands = g.depts[d].brands
		}
		sc.brandCum = cumulate(nil, func(k int) float64 { return brandTable[sc.brands[k]].share }, len(sc.brands))
	}
	for i := range g.subs {
		for _, c := range g.subs[i].spec.complements {
			g.subs[i].complements = append(g.subs[i].complements, subIdx[c])
		}
	}
}

func brandIndex(name string) int {
	for i := range brandTable {
		if brandTable[i].name == name {
			return i
		}
	}
	panic("demo: unknown brand " + name) // a typo in the static tables
}

// apportion splits n into len(shares) counts proportional to shares (largest
// remainder), giving every share at least one when n allows.
func apportion(n int, shares []float64) []int {
	total := 0.0
	for _, s := range shares {
		total += s
	}
	counts := make([]int, len(shares))
	rem := make([]int, len(shares))
	frac := make([]float64, len(shares))
	left := n
	for i, s := range shares {
		q := float64(n) * s / total
		counts[i] = int(q)
		frac[i] = q - float64(counts[i])
		rem[i] = i
		left -= counts[i]
	}
	slices.SortStableFunc(rem, func(a, b int) int { return cmp.Compare(frac[b], frac[a]) })
	for i := 0; left > 0; i++ {
		counts[rem[i%len(rem)]]++
		left--
	}
	if n >= len(shares) {
		for i := range counts {
			if counts[i] == 0 {
				j := 0
				for k := range counts {
					if counts[k] > counts[j] {
						j = k
					}
				}
				counts[j]--
				counts[i]++
			}
		}
	}
	return counts
}

func (g *gen) makeItem(r *rand.Rand, i, s int, id string) {
	sc := &g.subs[s]
	spec := sc.spec
	brand := sc.brands[pickCum(r, sc.brandCum)]
	bs := &brandTable[brand]

	model := -1
	if kind := cmp.Or(spec.device, spec.fits); kind != "" {
		// A device maker's accessories fit its own models.
		var own, all []int
		for m := range modelTable {
			if modelTable[m].kind == kind {
				all = append(all, m)
				if modelTable[m].brand == bs.name {
					own = append(own, m)
				}
			}
		}
		if len(own) > 0 {
			all = own
		}
		model = all[r.IntN(len(all))]
	}

	noun := r.IntN(len(spec.nouns))
	var adj, colour, material, size string
	if len(spec.adjs) > 0 && r.Float64() < 0.7 {
		adj = spec.adjs[r.IntN(len(spec.adjs))]
	}
	if len(spec.colours) > 0 {
		colour = spec.colours[r.IntN(len(spec.colours))]
	}
	if len(spec.materials) > 0 {
		material = spec.materials[r.IntN(len(spec.materials))]
	}
	sizeIdx := 0
	if len(spec.sizes) > 0 {
		sizeIdx = r.IntN(len(spec.sizes))
		size = spec.sizes[sizeIdx]
	}
	modelName := ""
	if model >= 0 {
		modelName = modelTable[model].name
	}

	// Title: not every attribute makes it into the title.
	tColour, tMaterial := colour, material
	if spec.device == "" && r.Float64() < 0.4 {
		tColour = ""
	}
	if r.Float64() < 0.5 {
		tMaterial = ""
	}
	var tb strings.Builder
	add := func(w string) {
		if w == "" {
			return
		}
		if tb.Len() > 0 {
			tb.WriteByte(' ')
		}
		tb.WriteString(w)
	}
	if spec.device != "" {
		add(modelName)
		add(adj)
		add(spec.nouns[noun])
		add(size)
		if colour != "" {
			add("in")
			add(colour)
		}
	} else {
		add(adj)
		add(tColour)
		add(tMaterial)
		add(spec.nouns[noun])
		if spec.sizeInTitle {
			add(size)
		}
		if modelName != "" {
			add("for")
			add(modelName)
		}
	}

	attrs := make(map[string]string, 4)
	if colour != "" {
		attrs["colour"] = colour
	}
	if material != "" {
		attrs["material"] = material
	}
	if size != "" {
		attrs["size"] = size
	}
	if spec.device != "" {
		attrs["model"] = modelName
	} else if modelName != "" {
		attrs["compatible_model"] = modelName
	}

	// Price: log-normal around the subcategory median, moved by the brand's
	// tier and the pack size, rounded to a shelf price.
	mult := [...]float64{0.7, 1, 1.55}[bs.tier]
	if spec.sizeScales && len(spec.sizes) > 1 {
		mult *= 1 + 0.9*float64(sizeIdx)/float64(len(spec.sizes)-1)
	}
	raw := spec.median * mult * math.Exp(spec.sigma*r.NormFloat64())
	raw = min(max(raw, max(1, spec.median/6)), spec.median*6)
	price := shelfPrice(raw)
	m := spec.margin[0] + 0.01 + r.Float64()*(spec.margin[1]-spec.margin[0]-0.02)
	cost := round2(price * (1 - m))

	var stock int
	switch x := r.Float64(); {
	case x < shareOutOfStock:
		stock = 0
	case x < shareOutOfStock+shareLowStock:
		stock = 1 + r.IntN(5)
	default:
		base := 10.0
		switch {
		case price < 20:
			base = 60
		case price < 100:
			base = 25
		}
		if spec.consumable {
			base *= 2
		}
		stock = 6 + int(base*math.Exp(0.8*r.NormFloat64()))
		stock = min(stock, 5000)
	}

	end := g.end
	var created int64
	if r.Float64() < shareNew {
		created = end - int64(r.Float64()*float64(newDays*usPerDay))
	} else {
		created = end - newDays*usPerDay - int64(r.Float64()*float64((catalogDays-newDays)*usPerDay))
	}
	created -= created % usPerSec
	active := r.Float64() >= shareInactive
	updated := created + int64(r.Float64()*float64(end-created))
	updated -= updated % usPerSec
	until := end
	if !active {
		until = updated // deactivated then: no events from here on
	}

	it := &g.items[i]
	*it = catalog.Item{
		ID:          id,
		Title:       upperFirst(tb.String()),
		Description: describe(r, spec, bs.name, spec.nouns[noun], adj, colour, material, size, modelName),
		Category:    []string{spec.dept, spec.name},
		Brand:       bs.name,
		Price:       price,
		Cost:        cost,
		Currency:    "EUR",
		Stock:       stock,
		Attributes:  attrs,
		Consumable:  spec.consumable,
		URL:         "/demo/item/" + id,
		Active:      active,
		CreatedAt:   time.UnixMicro(created).UTC(),
		UpdatedAt:   time.UnixMicro(updated).UTC(),
	}
	g.meta[i] = itemMeta{sub: s, brand: brand, model: model, noun: noun, from: created, until: until}
}

// shelfPrice rounds to prices shops use: 449.99, 14.99, 3.49.
func shelfPrice(p float64) float64 {
	switch {
	case p >= 100:
		p = math.Round(p/5)*5 - 0.01
	case p >= 10:
		p = math.Floor(p) + 0.99
	default:
		p = math.Floor(p*2)/2 + 0.49
	}
	return round2(max(p, 0.99))
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if unicode.IsUpper(r) || !unicode.IsLetter(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// plural reports whether a product noun reads as plural ("coffee beans",
// "jeans"), for agreement in descriptions.
func plural(noun string) bool {
	return strings.HasSuffix(noun, "s") && !strings.HasSuffix(noun, "ss")
}

// describe writes one to three sentences about an item.
func describe(r *rand.Rand, spec *subcatSpec, brand, noun, adj, colour, material, size, model string) string {
	this, is, comes := "This", "is", "comes"
	if plural(noun) {
		this, is, comes = "These", "are", "come"
	}
	var b strings.Builder
	switch {
	case spec.device == "phone":
		b.WriteString("The " + model + " with " + size + " of storage.")
	case spec.device != "":
		b.WriteString("The " + model + " " + noun + " handles everyday printing at home and in small offices.")
	case material != "" && r.Float64() < 0.6:
		b.WriteString(this + " " + noun + " from " + brand + " " + is + " made of " + material + ".")
	case colour != "" && r.Float64() < 0.6:
		b.WriteString(this + " " + noun + " from " + brand + " " + comes + " in " + colour + ".")
	case adj != "":
		b.WriteString(this + " " + adj + " " + noun + " " + is + " made by " + brand + ".")
	default:
		b.WriteString(this + " " + noun + " " + is + " made by " + brand + ".")
	}
	sentences := 1
	if spec.fits != "" {
		b.WriteString(" Fits the " + model + " only; check your model before ordering.")
		sentences++
	}
	if len(spec.blurbs) > 0 && r.Float64() < 0.75 {
		b.WriteString(" " + spec.blurbs[r.IntN(len(spec.blurbs))])
		sentences++
	}
	if sentences < 3 && r.Float64() < 0.4 {
		closing := durableBlurbs
		if spec.consumable {
			closing = consumableBlurbs
		}
		b.WriteString(" " + closing[r.IntN(len(closing))])
	}
	return b.String()
}

// linkIncompatible marks accessories for one model as incompatible with the
// devices of its sibling models (same kind and brand), in both directions:
// a case for the Nexa 14 must not be recommended with a Nexa 14 Pro.
func (g *gen) linkIncompatible() {
	devices := make([][]int32, len(modelTable))
	for i := range g.meta {
		m := &g.meta[i]
		if m.model >= 0 && g.subs[m.sub].spec.device != "" {
			devices[m.model] = append(devices[m.model], int32(i))
		}
	}
	for a := range g.meta {
		ma := g.meta[a].model
		if ma < 0 || g.subs[g.meta[a].sub].spec.fits == "" {
			continue
		}
		for m := range modelTable {
			if m == ma || modelTable[m].kind != modelTable[ma].kind || modelTable[m].brand != modelTable[ma].brand {
				continue
			}
			for _, d := range devices[m] {
				ia, id := &g.items[a], &g.items[d]
				if len(ia.IncompatibleWith) >= catalog.MaxIncompatible || len(id.IncompatibleWith) >= catalog.MaxIncompatible {
					continue
				}
				ia.IncompatibleWith = append(ia.IncompatibleWith, id.ID)
				id.IncompatibleWith = append(id.IncompatibleWith, ia.ID)
			}
		}
	}
}

// pickPartners gives every item of a subcategory with complements one or
// two specific partner items in each complementary subcategory: for a
// phone, cases and screen protectors that fit its model; for a shampoo,
// preferably a conditioner of the same brand. Partners are chosen without
// regard to popularity, so what is bought together differs from what is
// popular.
//
// Candidates come from indexes of each subcategory's items, built once, so
// the work grows with the catalogue, not with its square: scanning every
// complementary subcategory for every item took 4 s for 50k items, 38 s
// for 200k and about 15 minutes for a million. The draws, and so the shop,
// are the same as with the scan.
func (g *gen) pickPartners(r *rand.Rand) {
	idx := g.partnerIndex()
	var scanned, sameBrand []int32
	for a := range g.meta {
		ma := &g.meta[a]
		src := g.subs[ma.sub].spec
		for _, c := range g.subs[ma.sub].complements {
			dst := &g.subs[c]
			fits := dst.spec.fits != "" && dst.spec.fits == src.device
			var cands, same []int32
			switch {
			case fits && c == ma.sub: // no such pair in the tables; kept for safety
				scanned = scanned[:0]
				for _, b := range dst.items {
					if mb := &g.meta[b]; int(b) != a && mb.model == ma.model && mb.noun != ma.noun {
						scanned = append(scanned, b)
					}
				}
				cands = scanned
				same = g.withBrand(sameBrand[:0], cands, ma.brand)
			case fits: // accessories that fit the device's model
				cands = idx.byModel[[2]int{c, ma.model}]
				same = g.withBrand(sameBrand[:0], cands, ma.brand)
			case c == ma.sub: // a shampoo goes with a conditioner, not another shampoo
				cands = idx.otherNoun[[2]int{c, ma.noun}]
				same = idx.otherNounBrand[[3]int{c, ma.noun, ma.brand}]
			default:
				cands = dst.items
				same = idx.byBrand[[2]int{c, ma.brand}]
			}
			if len(cands) == 0 {
				continue
			}
			pool := cands
			if len(same) > 0 && r.Float64() < 0.6 {
				pool = same
			}
			first := pool[r.IntN(len(pool))]
			ma.partners = append(ma.partners, partner{item: first, p: 0.45})
			if len(pool) > 1 && r.Float64() < 0.3 {
				second := pool[r.IntN(len(pool))]
				if second != first {
					ma.partners = append(ma.partners, partner{item: second, p: 0.2})
				}
			}
		}
	}
}

// partnerIndex groups each subcategory's items as pickPartners filters
// them, every group in the subcategory's item order.
type partnerIndex struct {
	byModel, byBrand map[[2]int][]int32 // (sub, model or brand) -> items
	otherNoun        map[[2]int][]int32 // (sub, noun) -> items with another noun
	otherNounBrand   map[[3]int][]int32 // (sub, noun, brand) -> those of the brand
}

func (g *gen) partnerIndex() *partnerIndex {
	idx := &partnerIndex{
		byModel: map[[2]int][]int32{}, byBrand: map[[2]int][]int32{},
		otherNoun: map[[2]int][]int32{}, otherNounBrand: map[[3]int][]int32{},
	}
	for s := range g.subs {
		sc := &g.subs[s]
		nouns := map[int]bool{}
		for _, b := range sc.items {
			mb := &g.meta[b]
			idx.byModel[[2]int{s, mb.model}] = append(idx.byModel[[2]int{s, mb.model}], b)
			idx.byBrand[[2]int{s, mb.brand}] = append(idx.byBrand[[2]int{s, mb.brand}], b)
			nouns[mb.noun] = true
		}
		if !slices.Contains(sc.complements, s) {
			continue
		}
		for noun := range nouns {
			for _, b := range sc.items {
				if mb := &g.meta[b]; mb.noun != noun {
					idx.otherNoun[[2]int{s, noun}] = append(idx.otherNoun[[2]int{s, noun}], b)
					k := [3]int{s, noun, mb.brand}
					idx.otherNounBrand[k] = append(idx.otherNounBrand[k], b)
				}
			}
		}
	}
	return idx
}

// withBrand appends to dst the items among items of the brand.
func (g *gen) withBrand(dst, items []int32, brand int) []int32 {
	for _, b := range items {
		if g.meta[b].brand == brand {
			dst = append(dst, b)
		}
	}
	return dst
}

// setPopularity gives items Zipf-like weights over a random ranking; new
// items start low (cold start).
func (g *gen) setPopularity(r *rand.Rand) {
	order := r.Perm(len(g.meta))
	for rank, i := range order {
		w := 1 / float64(rank+5)
		if g.meta[i].from > g.end-newDays*usPerDay {
			w *= 0.2
		}
		g.meta[i].weight = w
	}
	g.globalCum = cumulate(nil, func(i int) float64 { return g.meta[i].weight }, len(g.meta))
	for s := range g.subs {
		sc := &g.subs[s]
		sc.cum = cumulate(nil, func(k int) float64 { return g.meta[sc.items[k]].weight }, len(sc.items))
		for _, it := range sc.items {
			b := g.meta[it].brand
			k := slices.IndexFunc(sc.byBrand, func(bi brandItems) bool { return bi.brand == b })
			if k < 0 {
				sc.byBrand = append(sc.byBrand, brandItems{brand: b})
				k = len(sc.byBrand) - 1
			}
			sc.byBrand[k].items = append(sc.byBrand[k].items, it)
		}
	}
	for d := range g.depts {
		dp := &g.depts[d]
		dp.cum = cumulate(nil, func(k int) float64 {
			sc := &g.subs[dp.subs[k]]
			if len(sc.cum) == 0 {
				return 0
			}
			return sc.cum[len(sc.cum)-1]
		}, len(dp.subs))
	}
	g.deptCum = cumulate(nil, func(d int) float64 {
		if c := g.depts[d].cum; len(c) > 0 {
			return c[len(c)-1]
		}
		return 0
	}, len(g.depts))
}

func (g *gen) setPricePercentiles() {
	var byPrice []int32
	for s := range g.subs {
		byPrice = append(byPrice[:0], g.subs[s].items...)
		slices.SortStableFunc(byPrice, func(a, b int32) int { return cmp.Compare(g.items[a].Price, g.items[b].Price) })
		for rank, it := range byPrice {
			if len(byPrice) > 1 {
				g.meta[it].pct = float64(rank) / float64(len(byPrice)-1)
			} else {
				g.meta[it].pct = 0.5
			}
		}
	}
}

// pickTrending chooses a few mid-popularity items, on sale for the whole
// last month and in stock, whose demand rises over the last week.
func (g *gen) pickTrending(r *rand.Rand) {
	byWeight := make([]int32, len(g.meta))
	for i := range byWeight {
		byWeight[i] = int32(i)
	}
	slices.SortStableFunc(byWeight, func(a, b int32) int { return cmp.Compare(g.meta[b].weight, g.meta[a].weight) })
	var cands []int32
	for _, it := range byWeight[len(byWeight)/10 : len(byWeight)/2] {
		m := &g.meta[it]
		if m.from < g.end-30*usPerDay && m.until == g.end && g.items[it].Stock > 0 {
			cands = append(cands, it)
		}
	}
	r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	k := min(len(cands), max(2, min(12, len(g.meta)/250)))
	g.trending = slices.Clone(cands[:k])
}
