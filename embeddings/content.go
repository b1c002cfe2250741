package embeddings

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"unicode"

	"github.com/recs-server/recs/catalog"
)

// ContentModelKind is the catalog.Model kind under which a build stores the
// serialised ContentModel; the server loads it to embed items upserted
// between builds.
const ContentModelKind = "content"

// contentScheme versions the tokenisation, field weights and projection.
// Bump it whenever any of them changes: a model serialised under another
// scheme would produce vectors that do not match the build's.
const contentScheme = 1

// Token namespaces: the same text in different roles hashes differently.
const (
	nsWord     = 'w' // a lowercase word, shared by every field
	nsGram     = 'g' // a character 3-gram of a word
	nsCategory = 'c' // a category path prefix ("home>kitchen")
	nsBrand    = 'b' // the whole brand
	nsAttr     = 'a' // key=value of an attribute
)

// Channels are accumulated separately, scaled to unit length, then mixed
// with the channel weights, so a long description cannot drown the title.
const (
	chTitleWords = iota
	chTitleGrams
	chCategory
	chDescWords
	chDescGrams
	chBrand
	chAttrs
	nChannels
)

var channelWeight = [nChannels]float32{
	chTitleWords: 1.0,
	chTitleGrams: 0.6,
	chCategory:   1.0,
	chDescWords:  0.45,
	chDescGrams:  0.25,
	chBrand:      0.5,
	chAttrs:      0.4,
}

const (
	// projProbes is how many signed dimensions each token is hashed into
	// (a sparse random projection); more probes lower the variance of the
	// preserved inner products.
	projProbes = 4
	// maxGramWord caps the runes of a word used for 3-grams.
	maxGramWord = 32
)

// ContentModel turns an item's text and attributes into a unit vector of
// catalog.EmbeddingDims dimensions: TF-IDF weighted words, character
// 3-grams, category path prefixes, brand and attribute values, hashed into
// the dimensions by a seeded sparse random projection. The IDF is learned
// from a catalogue; items the model has never seen (new SKUs) are embedded
// with that IDF, so a new item is comparable with the build's vectors at
// once (cold start).
//
// A ContentModel is safe for concurrent use by many goroutines.
type ContentModel struct {
	seed  uint64
	nDocs int
	// df holds the document frequency of tokens seen in at least two
	// items, idf the derived weight; rarer tokens get unseenIDF.
	df        map[uint64]uint32
	idf       map[uint64]float32
	unseenIDF float32
	pool      sync.Pool // *contentScratch
}

type token struct {
	h  uint64
	w  float32
	ch uint8
}

type contentScratch struct {
	toks  []token
	word  []rune
	keys  []string
	acc   [nChannels][catalog.EmbeddingDims]float32
	dedup []uint64
}

// NewContentModel learns the IDF of every token from items. The seed fixes
// the projection: vectors from models with different seeds are unrelated.
func NewContentModel(items []catalog.Item, seed uint64) *ContentModel {
	m := &ContentModel{seed: seed, nDocs: len(items)}
	df := make(map[uint64]uint32)
	sc := m.scratch()
	for i := range items {
		sc.tokenize(&items[i])
		hs := sc.dedup[:0]
		for _, t := range sc.toks {
			hs = append(hs, t.h)
		}
		slices.Sort(hs)
		hs = slices.Compact(hs)
		for _, h := range hs {
			df[h]++
		}
		sc.dedup = hs
	}
	m.release(sc)
	for h, n := range df {
		if n < 2 {
			delete(df, h)
		}
	}
	m.setDF(df)
	return m
}

func (m *ContentModel) setDF(df map[uint64]uint32) {
	m.df = df
	m.idf = make(map[uint64]float32, len(df))
	for h, n := range df {
		m.idf[h] = idfOf(m.nDocs, n)
	}
	m.unseenIDF = idfOf(m.nDocs, 1)
}

// idfOf is the smoothed inverse document frequency: 1 for a token in every
// item, about ln(N) for a token in one.
func idfOf(nDocs int, df uint32) float32 {
	return float32(math.Log(float64(nDocs+1)/float64(df+1)) + 1)
}

// Tokens returns how many tokens have a learned IDF (seen in two or more
// items).
func (m *ContentModel) Tokens() int { return len(m.df) }

// Embed appends the item's unit content vector (catalog.EmbeddingDims
// values) to dst and returns the extended slice. It allocates nothing when
// dst has room. An item with no usable text gets the zero vector.
func (m *ContentModel) Embed(it *catalog.Item, dst []float32) []float32 {
	const dims = catalog.EmbeddingDims
	sc := m.scratch()
	sc.tokenize(it)
	for c := range sc.acc {
		clear(sc.acc[c][:])
	}
	for _, t := range sc.toks {
		idf, ok := m.idf[t.h]
		if !ok {
			idf = m.unseenIDF
		}
		project(&sc.acc[t.ch], t.h^m.seed, t.w*idf)
	}
	n := len(dst)
	dst = slices.Grow(dst, dims)[:n+dims]
	out := dst[n:]
	clear(out)
	for c := range sc.acc {
		a := sc.acc[c][:]
		norm := math.Sqrt(float64(Dot(a, a)))
		if norm == 0 {
			continue
		}
		s := channelWeight[c] / float32(norm)
		for i, x := range a {
			out[i] += s * x
		}
	}
	m.release(sc)
	Normalize(out)
	return dst
}

// project adds w to projProbes pseudo-random dimensions of acc with
// pseudo-random signs derived from the seeded token hash h.
func project(acc *[catalog.EmbeddingDims]float32, h uint64, w float32) {
	for j := range uint64(projProbes) {
		r := splitmix64(h + j*0x9e3779b97f4a7c15)
		d := r % catalog.EmbeddingDims
		if r>>63 == 0 {
			acc[d] += w
		} else {
			acc[d] -= w
		}
	}
}

// splitmix64 is a strong 64-bit mixer (the SplitMix64 finaliser).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (m *ContentModel) scratch() *contentScratch {
	if sc, ok := m.pool.Get().(*contentScratch); ok {
		return sc
	}
	return &contentScratch{}
}

func (m *ContentModel) release(sc *contentScratch) {
	const maxKeep = 1 << 14
	if cap(sc.toks) > maxKeep || cap(sc.dedup) > maxKeep {
		return // a freak item: let the garbage collector have it
	}
	m.pool.Put(sc)
}

// FNV-1a over runes, started from a namespace byte.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashStart(ns byte) uint64 { return (fnvOffset ^ uint64(ns)) * fnvPrime }

func hashRune(h uint64, r rune) uint64 { return (h ^ uint64(r)) * fnvPrime }

// isWordRune reports whether r belongs to a word.
func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// tokenize fills sc.toks with the weighted tokens of it.
func (sc *contentScratch) tokenize(it *catalog.Item) {
	sc.toks = sc.toks[:0]
	sc.text(it.Title, chTitleWords, chTitleGrams, 1)
	sc.text(it.Description, chDescWords, chDescGrams, 1)

	// Category: every path prefix, deeper ones weighted more, plus the
	// words of each level.
	h := hashStart(nsCategory)
	for i, level := range it.Category {
		if i > 0 {
			h = hashRune(h, '>')
		}
		h = hashNormalized(h, level)
		sc.toks = append(sc.toks, token{h: h, w: 1 + 0.5*float32(i), ch: chCategory})
		sc.text(level, chCategory, -1, 0.5)
	}

	if it.Brand != "" {
		if h, ok := hashPhrase(hashStart(nsBrand), it.Brand); ok {
			sc.toks = append(sc.toks, token{h: h, w: 1, ch: chBrand})
		}
		sc.text(it.Brand, chBrand, -1, 0.5)
	}

	// Attributes in key order, so float sums do not depend on map order.
	keys := sc.keys[:0]
	for k := range it.Attributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := it.Attributes[k]
		h := hashNormalized(hashStart(nsAttr), k)
		h = hashRune(h, '=')
		if h, ok := hashPhrase(h, v); ok {
			sc.toks = append(sc.toks, token{h: h, w: 1, ch: chAttrs})
		}
		sc.text(v, chAttrs, -1, 0.5)
	}
	clear(keys)
	sc.keys = keys[:0]
}

// hashNormalized hashes s lowercased, with runs of non-word runes folded
// into one space and trimmed.
func hashNormalized(h uint64, s string) uint64 {
	h, _ = hashPhrase(h, s)
	return h
}

// hashPhrase is hashNormalized that also reports whether s had any word
// rune.
func hashPhrase(h uint64, s string) (uint64, bool) {
	seen, gap := false, false
	for _, r := range s {
		if !isWordRune(r) {
			gap = true
			continue
		}
		if gap && seen {
			h = hashRune(h, ' ')
		}
		gap = false
		seen = true
		h = hashRune(h, unicode.ToLower(r))
	}
	return h, seen
}

// text appends the words of s (two runes or more) to channel wch and, when
// gch >= 0, their boundary-marked character 3-grams to gch. The 3-grams
// of one word share a total weight of w, so long words do not count more.
func (sc *contentScratch) text(s string, wch, gch int, w float32) {
	word := sc.word[:0]
	flush := func() {
		if len(word) >= 2 {
			h := hashStart(nsWord)
			for _, r := range word {
				h = hashRune(h, r)
			}
			sc.toks = append(sc.toks, token{h: h, w: w, ch: uint8(wch)})
			if gch >= 0 {
				sc.grams(word, gch, w)
			}
		}
		word = word[:0]
	}
	for _, r := range s {
		if isWordRune(r) {
			word = append(word, unicode.ToLower(r))
			continue
		}
		flush()
	}
	flush()
	sc.word = word
}

// grams appends the 3-grams of "<word>" ('<' and '>' as runes that no
// word contains).
func (sc *contentScratch) grams(word []rune, ch int, w float32) {
	if len(word) > maxGramWord {
		word = word[:maxGramWord]
	}
	const bow, eow = rune(1), rune(2)
	n := len(word) + 2
	at := func(i int) rune {
		switch i {
		case 0:
			return bow
		case n - 1:
			return eow
		}
		return word[i-1]
	}
	gw := w / float32(math.Sqrt(float64(n-2)))
	for i := 0; i+3 <= n; i++ {
		h := hashStart(nsGram)
		h = hashRune(h, at(i))
		h = hashRune(h, at(i+1))
		h = hashRune(h, at(i+2))
		sc.toks = append(sc.toks, token{h: h, w: gw, ch: uint8(ch)})
	}
}

var contentMagic = [4]byte{'R', 'C', 'C', 'M'}

// MarshalBinary serialises the model: magic, scheme, seed, number of
// items and the (hash, document frequency) table in hash order, so equal
// models give equal bytes.
func (m *ContentModel) MarshalBinary() ([]byte, error) {
	hs := make([]uint64, 0, len(m.df))
	for h := range m.df {
		hs = append(hs, h)
	}
	slices.Sort(hs)
	b := make([]byte, 0, 32+len(hs)*11)
	b = append(b, contentMagic[:]...)
	b = binary.AppendUvarint(b, contentScheme)
	b = binary.LittleEndian.AppendUint64(b, m.seed)
	b = binary.AppendUvarint(b, uint64(m.nDocs))
	b = binary.AppendUvarint(b, uint64(len(hs)))
	for _, h := range hs {
		b = binary.LittleEndian.AppendUint64(b, h)
		b = binary.AppendUvarint(b, uint64(m.df[h]))
	}
	return b, nil
}

// ErrContentModel reports a serialised content model that cannot be read.
var ErrContentModel = errors.New("invalid content model")

// UnmarshalBinary replaces m with a model serialised by MarshalBinary.
func (m *ContentModel) UnmarshalBinary(b []byte) error {
	if len(b) < len(contentMagic) || [4]byte(b[:4]) != contentMagic {
		return fmt.Errorf("%w: bad magic", ErrContentModel)
	}
	b = b[4:]
	next := func(what string) (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, fmt.Errorf("%w: truncated %s", ErrContentModel, what)
		}
		b = b[n:]
		return v, nil
	}
	scheme, err := next("scheme")
	if err != nil {
		return err
	}
	if scheme != contentScheme {
		return fmt.Errorf("%w: scheme %d, this server reads scheme %d (rebuild)", ErrContentModel, scheme, contentScheme)
	}
	if len(b) < 8 {
		return fmt.Errorf("%w: truncated seed", ErrContentModel)
	}
	seed := binary.LittleEndian.Uint64(b)
	b = b[8:]
	nDocs, err := next("item count")
	if err != nil {
		return err
	}
	count, err := next("token count")
	if err != nil {
		return err
	}
	if nDocs > math.MaxInt32 || count > uint64(len(b))/9 {
		return fmt.Errorf("%w: %d tokens do not fit in %d bytes", ErrContentModel, count, len(b))
	}
	df := make(map[uint64]uint32, count)
	for range count {
		if len(b) < 8 {
			return fmt.Errorf("%w: truncated token table", ErrContentModel)
		}
		h := binary.LittleEndian.Uint64(b)
		b = b[8:]
		n, err := next("document frequency")
		if err != nil {
			return err
		}
		if n == 0 || n > nDocs {
			return fmt.Errorf("%w: document frequency %d of %d items", ErrContentModel, n, nDocs)
		}
		df[h] = uint32(n)
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrContentModel, len(b))
	}
	m.seed, m.nDocs = seed, int(nDocs)
	m.setDF(df)
	return nil
}
