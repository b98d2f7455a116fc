//go:build !race

package identifier

const raceEnabled = false
