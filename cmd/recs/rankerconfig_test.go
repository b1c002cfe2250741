package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadRankerConfig(t *testing.T) {
	f := func(body, wantErr string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "rules.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadRankerConfig(p)
		if (err == nil) != (wantErr == "") || (err != nil && !strings.Contains(err.Error(), wantErr)) {
			t.Fatalf("%s: got %v, want error containing %q", body, err, wantErr)
		}
	}
	f(`{"blends": {"cross_sell": {"prob": 0.5, "margin": 0.5}}, "recent_purchase_window": "336h", "max_per_category": 4, "pins": {"trending": ["D-1"]}}`, "")
	f(`{"blendz": {}}`, `unknown field "blendz"`)
	f(`{"blends": {"similar": {"prob": -1}}}`, "non-negative")
	f(`{"recent_purchase_window": 14}`, "duration")
	f(`{"boosts": [{"brand": "acme", "factor": 0}]}`, "positive factor")
	f(`{"depths": {"similar": 20, "for_you": 10000}}`, "")
	f(`{"depths": {"similar": 9}}`, `depth of "similar": want 10 to 10000 candidates, got 9`)
	f(`{"depths": {"similar": "20"}}`, "cannot unmarshal")

	c, err := loadRankerConfig("")
	if err != nil || time.Duration(c.WithDefaults().RecentPurchaseWindow) != 14*24*time.Hour {
		t.Fatalf("no file: %+v %v, want the defaults", c, err)
	}
}
