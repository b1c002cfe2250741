package demo

import "testing"

var sinkShop *Shop

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkShop = Generate(Options{})
	}
	b.ReportMetric(float64(len(sinkShop.Events)), "events")
}
