package apikey

import "testing"

// Any keys file is parsed into valid keys or refused with an error, never
// a panic; what is accepted holds only well-formed entries.
func FuzzParse(f *testing.F) {
	f.Add([]byte("public " + Hash("k") + " shop-web https://shop.example\nadmin " + Hash("a") + " ops\n"))
	f.Add([]byte("# comment\n\n  public " + Hash("k") + " x *\n"))
	f.Add([]byte("admin " + Hash("a") + " ops https://x\n"))
	f.Add([]byte("public zz x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kr, err := Parse(b)
		if err != nil {
			if kr != nil {
				t.Fatal("a keyring with an error")
			}
			return
		}
		for i := range kr.keys {
			k := &kr.keys[i]
			if k.Role != RolePublic && k.Role != RoleAdmin || checkLabel(k.Label) != nil || k.Label == "" {
				t.Fatalf("accepted key %+v", k)
			}
			if k.Role == RoleAdmin && len(k.Origins) > 0 {
				t.Fatalf("admin key with origins %v", k.Origins)
			}
			for _, o := range k.Origins {
				if CheckOrigin(o) != nil {
					t.Fatalf("accepted origin %q", o)
				}
			}
		}
		kr.Lookup(b)
	})
}
