package main

import (
	"errors"
	"testing"
)

// Network lists from flags: parsed into masked prefixes or refused with a
// usage error naming the flag.
func FuzzParsePrefixes(f *testing.F) {
	f.Add("127.0.0.0/8,::1/128")
	f.Add("10.0.0.1, 192.168.0.0/16")
	f.Add("10.0.0.0/33,x")
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := parsePrefixes("rate-exempt", s)
		if err != nil {
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v is not a usage error", err)
			}
			return
		}
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("prefix %v", p)
			}
		}
	})
}
