package ranker

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// ModelKind names the purchase-probability model in the model registry.
const ModelKind = "ranker"

// Model is a logistic regression on standardised features:
// P(purchase) = sigmoid(bias + sum w_i * (x_i - mean_i) / std_i).
// Small, fast (a dot product per candidate) and calibrated by
// construction, which the margin blend needs: it multiplies P by money.
type Model struct {
	Bias   float64
	Weight [NumFeatures]float64
	Mean   [NumFeatures]float64
	Std    [NumFeatures]float64 // 1 where a feature is constant
	// Validation is how the model did on the newest training data, held
	// out (filled by Train's caller).
	Validation Calibration
}

// Calibration measures a model on labelled examples.
type Calibration struct {
	Examples  int
	Positives int
	LogLoss   float64
	// BaseLogLoss is the log loss of always predicting the positive rate:
	// the model is worth something only below it.
	BaseLogLoss float64
	AUC         float64
}

func (c Calibration) String() string {
	return fmt.Sprintf("%d examples (%d positive): log loss %.4f (base rate %.4f), AUC %.4f",
		c.Examples, c.Positives, c.LogLoss, c.BaseLogLoss, c.AUC)
}

// Predict is the purchase probability of one feature vector.
func (m *Model) Predict(x *Vector) float64 {
	return sigmoid(m.logit(x))
}

func (m *Model) logit(x *Vector) float64 {
	z := m.Bias
	for i := range NumFeatures {
		z += m.Weight[i] * (float64(x[i]) - m.Mean[i]) / m.Std[i]
	}
	return z
}

// linear is a logit as bias + sum w_i * x_i.
type linear struct {
	bias float64
	w    [NumFeatures]float64
}

// folded is the model's logit with the standardisation folded into the
// weights and bias: per candidate a multiply-add a feature, where logit
// also subtracts and divides (26 divisions were a fifth of its cost).
// It equals logit up to rounding.
func (m *Model) folded() linear {
	l := linear{bias: m.Bias}
	for i := range NumFeatures {
		l.w[i] = m.Weight[i] / m.Std[i]
		l.bias -= l.w[i] * m.Mean[i]
	}
	return l
}

func (l *linear) at(x *Vector) float64 {
	z := l.bias
	for i := range NumFeatures {
		z += l.w[i] * float64(x[i])
	}
	return z
}

// contribution is feature i's share of the logit: what "why" means here.
func (m *Model) contribution(x *Vector, i int) float64 {
	return m.Weight[i] * (float64(x[i]) - m.Mean[i]) / m.Std[i]
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// TrainOptions tune Train.
type TrainOptions struct {
	// L2 is the ridge penalty on the standardised weights; default 1.
	L2 float64
	// Iterations of Newton's method; default 25 (it converges in ~8).
	Iterations int
}

// Train fits the model to examples x with labels y (true: bought) by
// Newton's method (iteratively reweighted least squares) with an L2
// penalty: deterministic, no learning rate to tune, and exact for 26
// features.
func Train(x []Vector, y []bool, opt TrainOptions) (*Model, error) {
	if len(x) != len(y) {
		return nil, fmt.Errorf("ranker: %d examples but %d labels", len(x), len(y))
	}
	pos := 0
	for _, l := range y {
		if l {
			pos++
		}
	}
	if pos == 0 || pos == len(y) {
		return nil, fmt.Errorf("ranker: need positive and negative examples, have %d of %d positive", pos, len(y))
	}
	if opt.L2 <= 0 {
		opt.L2 = 1
	}
	if opt.Iterations <= 0 {
		opt.Iterations = 25
	}
	m := &Model{}
	n := float64(len(x))
	for _, v := range x {
		for i := range NumFeatures {
			m.Mean[i] += float64(v[i])
		}
	}
	for i := range NumFeatures {
		m.Mean[i] /= n
	}
	for _, v := range x {
		for i := range NumFeatures {
			d := float64(v[i]) - m.Mean[i]
			m.Std[i] += d * d
		}
	}
	for i := range NumFeatures {
		m.Std[i] = math.Sqrt(m.Std[i] / n)
		if m.Std[i] < 1e-9 {
			m.Std[i] = 1
		}
	}
	const d = NumFeatures + 1 // weights, then bias
	m.Bias = math.Log(float64(pos) / float64(len(y)-pos))
	var z [d]float64
	for range opt.Iterations {
		var grad [d]float64
		var hess [d][d]float64
		for k, v := range x {
			for i := range NumFeatures {
				z[i] = (float64(v[i]) - m.Mean[i]) / m.Std[i]
			}
			z[NumFeatures] = 1
			p := sigmoid(m.logit(&v))
			r := p
			if y[k] {
				r = p - 1
			}
			w := max(p*(1-p), 1e-12)
			for i := range d {
				grad[i] += r * z[i]
				for j := i; j < d; j++ {
					hess[i][j] += w * z[i] * z[j]
				}
			}
		}
		for i := range NumFeatures { // the bias is not penalised
			grad[i] += opt.L2 * m.Weight[i]
			hess[i][i] += opt.L2
		}
		for i := range d {
			for j := range i {
				hess[i][j] = hess[j][i]
			}
		}
		step, ok := solve(hess, grad)
		if !ok {
			return nil, errors.New("ranker: training diverged (singular Hessian)")
		}
		// Newton's full step can overshoot on nearly separable data:
		// halve it until the penalised loss goes down.
		before := objective(m, x, y, opt.L2)
		prev := *m
		t := 1.0
		for range 30 {
			for i := range NumFeatures {
				m.Weight[i] = prev.Weight[i] - t*step[i]
			}
			m.Bias = prev.Bias - t*step[NumFeatures]
			if objective(m, x, y, opt.L2) <= before {
				break
			}
			t /= 2
		}
		change := 0.0
		for i := range d {
			change = max(change, math.Abs(t*step[i]))
		}
		if change < 1e-7 {
			break
		}
	}
	return m, nil
}

// objective is the penalised negative log-likelihood Train minimises.
func objective(m *Model, x []Vector, y []bool, l2 float64) float64 {
	sum := 0.0
	for k := range x {
		z := m.logit(&x[k])
		if !y[k] {
			z = -z
		}
		// -log(sigmoid(z)), stable for large |z|.
		if z > 0 {
			sum += math.Log1p(math.Exp(-z))
		} else {
			sum += -z + math.Log1p(math.Exp(z))
		}
	}
	for _, w := range m.Weight {
		sum += l2 / 2 * w * w
	}
	return sum
}

// solve solves a*x = b for a symmetric positive definite a by Cholesky.
func solve(a [NumFeatures + 1][NumFeatures + 1]float64, b [NumFeatures + 1]float64) ([NumFeatures + 1]float64, bool) {
	const d = NumFeatures + 1
	var l [d][d]float64
	for i := range d {
		for j := 0; j <= i; j++ {
			s := a[i][j]
			for k := range j {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				if s <= 0 {
					return b, false
				}
				l[i][i] = math.Sqrt(s)
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	var y, x [d]float64
	for i := range d {
		s := b[i]
		for k := range i {
			s -= l[i][k] * y[k]
		}
		y[i] = s / l[i][i]
	}
	for i := d - 1; i >= 0; i-- {
		s := y[i]
		for k := i + 1; k < d; k++ {
			s -= l[k][i] * x[k]
		}
		x[i] = s / l[i][i]
	}
	return x, true
}

// Calibrate measures the model on labelled examples.
func (m *Model) Calibrate(x []Vector, y []bool) Calibration {
	c := Calibration{Examples: len(x)}
	if len(x) == 0 {
		return c
	}
	type pred struct {
		p   float64
		pos bool
	}
	ps := make([]pred, len(x))
	for i := range x {
		ps[i] = pred{m.Predict(&x[i]), y[i]}
		if y[i] {
			c.Positives++
		}
	}
	rate := float64(c.Positives) / float64(len(x))
	const eps = 1e-12
	for _, p := range ps {
		q, b := p.p, rate
		if !p.pos {
			q, b = 1-q, 1-b
		}
		c.LogLoss -= math.Log(max(q, eps))
		c.BaseLogLoss -= math.Log(max(b, eps))
	}
	c.LogLoss /= float64(len(x))
	c.BaseLogLoss /= float64(len(x))
	// AUC: the chance a positive outscores a negative (ties count half),
	// from the ranks of the sorted predictions.
	slices.SortFunc(ps, func(a, b pred) int { return cmp.Compare(a.p, b.p) })
	neg := len(ps) - c.Positives
	if c.Positives > 0 && neg > 0 {
		rankSum := 0.0
		for i := 0; i < len(ps); {
			j := i
			for j < len(ps) && ps[j].p == ps[i].p {
				j++
			}
			mid := float64(i+j+1) / 2 // mean 1-based rank of the tie group
			for k := i; k < j; k++ {
				if ps[k].pos {
					rankSum += mid
				}
			}
			i = j
		}
		c.AUC = (rankSum - float64(c.Positives)*float64(c.Positives+1)/2) / (float64(c.Positives) * float64(neg))
	}
	return c
}

const modelMagic = "RRANKLR1\n"

// MarshalBinary writes the model with its feature names, so a server
// never applies weights to the wrong features after an upgrade.
func (m *Model) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(modelMagic)
	names := strings.Join(FeatureNames[:], ",")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(names)))
	b.WriteString(names)
	_ = binary.Write(&b, binary.LittleEndian, m.Bias)
	_ = binary.Write(&b, binary.LittleEndian, m.Weight)
	_ = binary.Write(&b, binary.LittleEndian, m.Mean)
	_ = binary.Write(&b, binary.LittleEndian, m.Std)
	v := m.Validation
	_ = binary.Write(&b, binary.LittleEndian, [2]uint64{uint64(v.Examples), uint64(v.Positives)})
	_ = binary.Write(&b, binary.LittleEndian, [3]float64{v.LogLoss, v.BaseLogLoss, v.AUC})
	return b.Bytes(), nil
}

// ErrFeatureMismatch is returned for a model trained on other features.
var ErrFeatureMismatch = errors.New("ranker: the model was trained on other features; rebuild")

// UnmarshalBinary reads what MarshalBinary wrote.
func (m *Model) UnmarshalBinary(data []byte) error {
	if !bytes.HasPrefix(data, []byte(modelMagic)) {
		return errors.New("ranker: not a ranker model file")
	}
	r := bytes.NewReader(data[len(modelMagic):])
	var n uint32
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil || int(n) > r.Len() {
		return errors.New("ranker: truncated model file")
	}
	names := make([]byte, n)
	_, _ = r.Read(names)
	if string(names) != strings.Join(FeatureNames[:], ",") {
		return ErrFeatureMismatch
	}
	var cnt [2]uint64
	var cal [3]float64
	for _, p := range []any{&m.Bias, &m.Weight, &m.Mean, &m.Std, &cnt, &cal} {
		if err := binary.Read(r, binary.LittleEndian, p); err != nil {
			return errors.New("ranker: truncated model file")
		}
	}
	for i := range NumFeatures {
		if !(m.Std[i] > 0) || math.IsNaN(m.Weight[i]) || math.IsNaN(m.Mean[i]) {
			return fmt.Errorf("ranker: model feature %s is corrupt", FeatureNames[i])
		}
	}
	m.Validation = Calibration{Examples: int(cnt[0]), Positives: int(cnt[1]), LogLoss: cal[0], BaseLogLoss: cal[1], AUC: cal[2]}
	return nil
}
