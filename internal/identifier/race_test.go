//go:build race

package identifier

// raceEnabled is set when the race detector runs, which makes the large
// property suites use fewer inputs.
const raceEnabled = true
