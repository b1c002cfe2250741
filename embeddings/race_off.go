//go:build !race

package embeddings

const raceEnabled = false
