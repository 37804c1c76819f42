//go:build race

package bearer

// raceEnabled: the race detector adds allocations of its own, so exact allocation counts of
// paths that allocate are compared only without it.
const raceEnabled = true
