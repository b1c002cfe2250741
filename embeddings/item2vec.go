package embeddings

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/recs-server/recs/catalog"
)

// Item2VecOptions tunes TrainItem2Vec. Zero values take the defaults.
type Item2VecOptions struct {
	Dims      int // vector length; default catalog.EmbeddingDims
	Window    int // largest distance between an item and its context; default 5
	Negatives int // negative samples per positive pair; default 5
	Epochs    int // passes over the sequences; default 5
	// LearningRate is the starting rate, decayed linearly to 1/10000 of
	// it; default 0.025.
	LearningRate float64
	// Subsample is the word2vec threshold above which frequent items are
	// randomly dropped from sequences; default 1e-3, negative disables.
	Subsample float64
	// MinCount is the fewest occurrences (in sequences of two or more
	// items) an item needs to get a vector; default 2.
	MinCount int
	Seed     uint64
	// Workers > 1 trains lock-free in parallel (Hogwild): faster, but the
	// result then depends on scheduling. With 1 (the default) the vectors
	// are a pure function of the input and Seed. Under the race detector
	// training always uses one worker, as Hogwild races by design.
	Workers int
}

func (o Item2VecOptions) withDefaults() Item2VecOptions {
	if o.Dims <= 0 {
		o.Dims = catalog.EmbeddingDims
	}
	if o.Window <= 0 {
		o.Window = 5
	}
	if o.Negatives <= 0 {
		o.Negatives = 5
	}
	if o.Epochs <= 0 {
		o.Epochs = 5
	}
	if o.LearningRate <= 0 {
		o.LearningRate = 0.025
	}
	if o.Subsample == 0 {
		o.Subsample = 1e-3
	}
	if o.MinCount <= 0 {
		o.MinCount = 2
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Workers > runtime.GOMAXPROCS(0) {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if raceEnabled {
		o.Workers = 1
	}
	return o
}

// Item2VecCounts returns how often each item occurs in sequences of two or
// more valid items: the occurrences TrainItem2Vec learns from, and a fair
// nEvents for Blend.
func Item2VecCounts(seqs [][]int32, nItems int) []int {
	counts := make([]int, nItems)
	for _, s := range seqs {
		valid := 0
		for _, it := range s {
			if it >= 0 && int(it) < nItems {
				valid++
			}
		}
		if valid < 2 {
			continue
		}
		for _, it := range s {
			if it >= 0 && int(it) < nItems {
				counts[it]++
			}
		}
	}
	return counts
}

// TrainItem2Vec learns item vectors with skip-gram and negative sampling
// (word2vec) over seqs, where every sequence is a visit's items in order or
// a basket, items numbered 0..nItems-1 (others are ignored). It returns
// nItems unit vectors; items seen fewer than MinCount times get nil.
func TrainItem2Vec(seqs [][]int32, nItems int, opt Item2VecOptions) [][]float32 {
	opt = opt.withDefaults()
	out := make([][]float32, nItems)
	counts := Item2VecCounts(seqs, nItems)
	var total int64
	vocab := 0
	for _, c := range counts {
		if c >= opt.MinCount {
			total += int64(c)
			vocab++
		}
	}
	if vocab < 2 {
		return out
	}

	// Rows only for the vocabulary: memory follows the items that occur,
	// not the catalogue.
	d := opt.Dims
	t := &i2vTrainer{
		opt:   opt,
		seqs:  seqs,
		row:   make([]int32, nItems),
		syn0:  make([]float32, vocab*d),
		syn1:  make([]float32, vocab*d),
		keep:  make([]float32, vocab),
		total: total * int64(opt.Epochs),
	}
	for i := range t.sig {
		x := (float64(i)/sigSize*2 - 1) * sigMax
		t.sig[i] = float32(1 / (1 + math.Exp(-x)))
	}
	init := rng{s: opt.Seed ^ 0x5eed1234}
	r := int32(0)
	for i, c := range counts {
		if c < opt.MinCount {
			t.row[i] = -1
			continue
		}
		t.row[i] = r
		vec := t.syn0[int(r)*d : int(r+1)*d]
		for j := range vec {
			vec[j] = (init.float32() - 0.5) / float32(d)
		}
		t.keep[r] = 1
		if opt.Subsample > 0 {
			thr := opt.Subsample * float64(total)
			if k := (math.Sqrt(float64(c)/thr) + 1) * thr / float64(c); k < 1 {
				t.keep[r] = float32(k)
			}
		}
		r++
	}
	t.buildTable(counts, vocab)

	if opt.Workers == 1 {
		t.work(0, 1)
	} else {
		var wg sync.WaitGroup
		for w := range opt.Workers {
			wg.Go(func() { t.work(w, opt.Workers) })
		}
		wg.Wait()
	}

	for i, r := range t.row {
		if r < 0 {
			continue
		}
		v := t.syn0[int(r)*d : int(r+1)*d : int(r+1)*d]
		Normalize(v)
		out[i] = v
	}
	return out
}

const (
	sigSize = 1024
	sigMax  = 6
)

type i2vTrainer struct {
	opt  Item2VecOptions
	seqs [][]int32
	row  []int32 // item → vocabulary row, -1 for items below MinCount
	// syn0 holds the item (input) vectors, syn1 the context (output)
	// vectors, row r at [r*Dims, (r+1)*Dims).
	syn0, syn1 []float32
	keep       []float32 // per row: probability of keeping an occurrence (subsampling)
	table      []int32   // negative sampling table of rows, count^0.75
	sig        [sigSize + 1]float32
	total      int64        // occurrences × epochs, for the rate schedule
	done       atomic.Int64 // occurrences processed so far
}

func (t *i2vTrainer) buildTable(counts []int, vocab int) {
	size := min(max(vocab*64, 1<<12), 1<<20)
	var sum float64
	for i, c := range counts {
		if t.row[i] >= 0 {
			sum += math.Pow(float64(c), 0.75)
		}
	}
	t.table = make([]int32, 0, size)
	var cum float64
	for i, c := range counts {
		if t.row[i] < 0 {
			continue
		}
		cum += math.Pow(float64(c), 0.75)
		for len(t.table) < size && float64(len(t.table)) < cum/sum*float64(size) {
			t.table = append(t.table, t.row[i])
		}
	}
}

// work trains on every workers-th sequence starting at w, for all epochs.
func (t *i2vTrainer) work(w, workers int) {
	opt := t.opt
	d := opt.Dims
	r := rng{s: opt.Seed + uint64(w+1)*0x9e3779b97f4a7c15}
	sent := make([]int32, 0, 64)
	neu1e := make([]float32, d)
	alpha := float32(opt.LearningRate)
	minAlpha := float32(opt.LearningRate * 1e-4)
	var pending int64
	for range opt.Epochs {
		for si := w; si < len(t.seqs); si += workers {
			seq := t.seqs[si]
			sent = sent[:0]
			for _, it := range seq {
				if it < 0 || int(it) >= len(t.row) || t.row[it] < 0 {
					continue
				}
				row := t.row[it]
				pending++
				if k := t.keep[row]; k < 1 && r.float32() >= k {
					continue
				}
				sent = append(sent, row)
			}
			if pending >= 4096 {
				done := t.done.Add(pending)
				pending = 0
				alpha = max(float32(opt.LearningRate*(1-float64(done)/float64(t.total+1))), minAlpha)
			}
			if len(sent) < 2 {
				continue
			}
			for i, center := range sent {
				b := int(r.uint64() % uint64(opt.Window))
				lo, hi := max(i-opt.Window+b, 0), min(i+opt.Window-b, len(sent)-1)
				for j := lo; j <= hi; j++ {
					ctx := sent[j]
					if j == i || ctx == center {
						continue
					}
					t.pair(ctx, center, alpha, neu1e, &r)
				}
			}
		}
	}
}

// pair trains one (context → center) positive and its negatives.
func (t *i2vTrainer) pair(ctx, center int32, alpha float32, neu1e []float32, r *rng) {
	d := t.opt.Dims
	l1 := t.syn0[int(ctx)*d : int(ctx)*d+d]
	clear(neu1e)
	for k := 0; k <= t.opt.Negatives; k++ {
		target, label := center, float32(1)
		if k > 0 {
			target = t.table[r.uint64()%uint64(len(t.table))]
			if target == center {
				continue
			}
			label = 0
		}
		l2 := t.syn1[int(target)*d : int(target)*d+d]
		f := Dot(l1, l2)
		var g float32
		switch {
		case f > sigMax:
			g = (label - 1) * alpha
		case f < -sigMax:
			g = label * alpha
		default:
			g = (label - t.sig[int((f+sigMax)*(sigSize/sigMax/2))]) * alpha
		}
		axpy(neu1e, l2, g)
		axpy(l2, l1, g)
	}
	axpy(l1, neu1e, 1)
}

// axpy does y += a*x; x must be at least as long as y.
func axpy(y, x []float32, a float32) {
	x = x[:len(y)]
	for len(y) >= 4 && len(x) >= 4 {
		y[0] += a * x[0]
		y[1] += a * x[1]
		y[2] += a * x[2]
		y[3] += a * x[3]
		y, x = y[4:], x[4:]
	}
	for i := range y {
		y[i] += a * x[i]
	}
}

// rng is a small deterministic generator (SplitMix64).
type rng struct{ s uint64 }

func (r *rng) uint64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float32 returns a uniform value in [0, 1).
func (r *rng) float32() float32 { return float32(r.uint64()>>40) / (1 << 24) }

// DefaultBlendK is the number of behavioural events at which
// BehaviourWeight gives behaviour and content equal shares.
const DefaultBlendK = 20

// DefaultMaxBehaviourWeight caps the behaviour share of a blend. One vector
// per item serves both item-to-item similarity and cold start, where a new
// item's content-only vector is the query: uncapped, a well-sold item's
// vector would be nearly all behaviour and content queries could no longer
// find it. At 0.5 a content query still sees about 0.7 of the content
// similarity of every item.
const DefaultMaxBehaviourWeight = 0.5

// BehaviourWeight is n/(n+k): the share of the behavioural vector in a
// blend for an item with n events, before any cap.
func BehaviourWeight(n int, k float64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(n) / (float64(n) + k)
}

// Blend appends to dst the unit blend of an item's content and behavioural
// vectors, with the behaviour weighted by nEvents/(nEvents+DefaultBlendK)
// up to DefaultMaxBehaviourWeight: items with little history lean on their
// content. A nil behaviour gives the content vector alone.
func Blend(content, behaviour []float32, nEvents int, dst []float32) []float32 {
	w := min(BehaviourWeight(nEvents, DefaultBlendK), DefaultMaxBehaviourWeight)
	return BlendWeighted(content, behaviour, w, dst)
}

// BlendWeighted appends to dst the unit vector along
// (1-w)·content/|content| + w·behaviour/|behaviour|. Both inputs have the
// same length, or behaviour is nil (then w is taken as 0).
func BlendWeighted(content, behaviour []float32, w float64, dst []float32) []float32 {
	n := len(dst)
	dst = append(dst, content...)
	out := dst[n:]
	Normalize(out)
	if len(behaviour) != len(content) || w <= 0 {
		return dst
	}
	bn := math.Sqrt(float64(Dot(behaviour, behaviour)))
	if bn == 0 {
		return dst
	}
	if w > 1 {
		w = 1
	}
	wc, wb := float32(1-w), float32(w/bn)
	for i := range out {
		out[i] = wc*out[i] + wb*behaviour[i]
	}
	Normalize(out)
	return dst
}
