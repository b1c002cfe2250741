//go:build race

package pseudonym

// raceEnabled: the race detector makes sync.Pool drop entries at random,
// so allocation counts are checked only without it.
const raceEnabled = true
