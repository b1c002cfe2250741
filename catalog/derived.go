package catalog

import (
	"errors"
	"fmt"
	"time"
)

// EmbeddingDims is the length of every item vector recs stores. It is fixed
// because pgvector's HNSW index needs a column of known dimension.
const EmbeddingDims = 128

// Scored is an item with a score from some source; higher is better.
type Scored struct {
	ItemID string  `json:"item_id"`
	Score  float64 `json:"score"`
}

// NeighborKind names an item-to-item table.
type NeighborKind string

const (
	CoPurchase NeighborKind = "co_purchase" // bought in the same order
	CoView     NeighborKind = "co_view"     // viewed in the same session
	// Content is the items nearest by vector, the item itself first:
	// what a vector search from the item's vector returns, computed when
	// the build is published (Build.ContentNeighborsOf).
	Content NeighborKind = "content"
)

// NeighborList is one item's top neighbours in one table, best first.
type NeighborList struct {
	ItemID    string
	Neighbors []Scored
}

// PopularityList is the ranked items of one scope, such as "all:7d" or
// "category:Kitchen:24h", best first.
type PopularityList struct {
	Scope string
	Items []Scored
}

// ItemVector is the embedding recs serves for one item.
type ItemVector struct {
	ItemID string
	Vector []float32
}

// Model is a trained artefact in the model registry (e.g. the ranker).
type Model struct {
	Kind string
	Blob []byte
}

// Build is everything one batch run derives from the catalog and events.
// A store publishes it atomically: readers see the previous build or this
// one, never a mix.
type Build struct {
	Version   string
	CreatedAt time.Time
	// DataFrom and DataTo bound the events the build read: [DataFrom, DataTo).
	DataFrom, DataTo time.Time
	Vectors          []ItemVector
	Neighbors        map[NeighborKind][]NeighborList
	Popularity       []PopularityList
	Models           []Model
	// ContentNeighborsOf asks the store to publish, with the build, the
	// ContentListLen nearest items by the build's Vectors of each of these
	// items as their Content neighbours (what NearestToItems would return
	// once the build is served), so that serving reads a list instead of
	// running a vector search. Needs Vectors and Neighbors; any Content
	// lists in Neighbors are replaced.
	ContentNeighborsOf []string
	ContentListLen     int
}

// MaxContentListLen bounds Build.ContentListLen.
const MaxContentListLen = 1000

// CheckContentNeighbors reports what is wrong with a build's request for
// content neighbours, if anything.
func (b *Build) CheckContentNeighbors() error {
	if len(b.ContentNeighborsOf) == 0 {
		return nil
	}
	if b.Vectors == nil || b.Neighbors == nil {
		return errors.New("content neighbours need the build's vectors and neighbour lists")
	}
	if b.ContentListLen < 1 || b.ContentListLen > MaxContentListLen {
		return fmt.Errorf("content list length must be 1 to %d, got %d", MaxContentListLen, b.ContentListLen)
	}
	return nil
}

// BuildInfo describes a published build without its data.
type BuildInfo struct {
	Version          string
	CreatedAt        time.Time
	DataFrom, DataTo time.Time
}

// StockUpdate sets one item's stock level.
type StockUpdate struct {
	ItemID string `json:"item_id"`
	Stock  int    `json:"stock"`
}
