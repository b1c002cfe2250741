package httpapi

import (
	"net/netip"
	"testing"
)

func TestIPv6ClientsAreLimitedByTheir64(t *testing.T) {
	a := rateKey(netip.MustParseAddr("2001:db8:1:2:aaaa::1"))
	b := rateKey(netip.MustParseAddr("2001:db8:1:2:bbbb::9"))
	c := rateKey(netip.MustParseAddr("2001:db8:1:3::1"))
	v4 := netip.MustParseAddr("192.0.2.7")
	if a != b || a == c || rateKey(v4) != v4 {
		t.Fatalf("%v %v %v", a, b, c)
	}
}
