//go:build race

package embeddings

// raceEnabled: the race detector is on, so training runs single-threaded
// (Hogwild updates race by design).
const raceEnabled = true
