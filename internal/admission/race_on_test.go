//go:build race

package admission_test

// raceEnabled reports whether the race detector is on: timings under it
// say nothing about overload behaviour.
const raceEnabled = true
