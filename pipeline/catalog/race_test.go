//go:build race

package catalog_test

// raceEnabled: the race detector slows JSON decoding tens of times, so
// timing bars are not checked under it.
const raceEnabled = true
