package session

import (
	"fmt"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

// BenchmarkRecentAndUser reads a visitor with a full session, the
// request path's first step on every page.
func BenchmarkRecentAndUser(b *testing.B) {
	s, _ := New(1000)
	for i := range MaxRecent {
		s.Record(ev("s1", "", catalog.EventViewItem, time.Duration(i)*time.Second, fmt.Sprint("i", i)))
	}
	b.ReportAllocs()
	for b.Loop() {
		if got, _ := s.RecentAndUser("s1", "", nil); len(got) != MaxRecent {
			b.Fatalf("%d interactions", len(got))
		}
	}
}
