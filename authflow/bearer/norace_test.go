//go:build !race

package bearer

const raceEnabled = false
