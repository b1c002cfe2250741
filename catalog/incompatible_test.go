package catalog

import (
	"fmt"
	"testing"
)

func TestCompactIncompatibleAnswersAsTheList(t *testing.T) {
	var named []string
	for i := range MaxIncompatible {
		named = append(named, fmt.Sprint("acc-", i))
	}
	named = append(named, named[0]) // a repeat
	it := Item{ID: "phone", IncompatibleWith: named}
	plain := it
	it.CompactIncompatible()
	if it.IncompatibleWith != nil || !it.DeclaresAnyIncompatible() {
		t.Fatalf("compacted: list %v, declares any %v", it.IncompatibleWith, it.DeclaresAnyIncompatible())
	}
	for _, id := range named {
		if !it.DeclaresIncompatible(id) || !plain.DeclaresIncompatible(id) {
			t.Fatalf("%s not declared", id)
		}
	}
	for i := range 100_000 {
		id := fmt.Sprint("other-", i)
		if it.DeclaresIncompatible(id) || plain.DeclaresIncompatible(id) {
			t.Fatalf("%s declared", id)
		}
	}
	none := Item{ID: "mug", IncompatibleWith: []string{}}
	none.CompactIncompatible()
	if none.DeclaresAnyIncompatible() || none.DeclaresIncompatible("") {
		t.Fatal("an empty list declares something")
	}
	// A compacted item answers from its compact form alone, never reading
	// the list (another cache line).
	none.IncompatibleWith = []string{"acc-1"}
	if none.DeclaresAnyIncompatible() || none.DeclaresIncompatible("acc-1") {
		t.Fatal("a compacted item with nothing declared read IncompatibleWith")
	}
}
