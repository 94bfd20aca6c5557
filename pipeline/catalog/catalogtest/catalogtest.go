// Package catalogtest loads the real data nexus is measured on (the NIST SP
// 800-53 r5 OSCAL catalog and the cdk-nag AWS Config → NIST mapping) for
// tests and benchmarks. The files are read in place from ../shared/data
// beside the repository root, never copied; a test skips, saying so, when
// they are absent.
package catalogtest

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/catalog"
)

// The real data files and the keys tests give them.
const (
	CatalogFile     = "nist-800-53-r5-catalog.json"
	ControlsFile    = "nist-800-53-r5-controls.jsonl"
	MappingFile     = "cdknag-awsconfig-aws-to-nist80053r5.jsonl"
	Framework       = "NIST-SP-800-53#R5"
	SourceFramework = "AWS.Config#1.0"
)

// Path returns the path of a file of the shared data folder, skipping the
// test when the folder is not there. NEXUS_SHARED_DATA overrides where it
// is looked for.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	dir := os.Getenv("NEXUS_SHARED_DATA")
	if dir == "" {
		dir = defaultDir()
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("real data not available under CI (%v): ../shared/data must sit beside the repository", err)
		}
		tb.Skipf("real data not available (%v); set NEXUS_SHARED_DATA to the shared data folder", err)
	}
	return p
}

// defaultDir is ../shared/data from the repository root, found by walking
// up from the working directory (a package folder under go test) to go.mod.
func defaultDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join("..", "shared", "data")
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "data")
		}
		up := filepath.Dir(dir)
		if up == dir {
			return filepath.Join("..", "shared", "data")
		}
		dir = up
	}
}

var (
	nistOnce sync.Once
	nistFW   pipeline.Framework
	nistAll  []pipeline.Control
	nistErr  error

	mapOnce sync.Once
	mapSrc  []pipeline.Control
	mapMaps []pipeline.Mapping
	mapErr  error
)

// NIST returns the parsed NIST SP 800-53 r5 catalog, withdrawn controls
// included, parsed once per test binary. Callers must not modify it.
func NIST(tb testing.TB) (pipeline.Framework, []pipeline.Control) {
	tb.Helper()
	p := Path(tb, CatalogFile)
	nistOnce.Do(func() {
		f, err := os.Open(p)
		if err != nil {
			nistErr = err
			return
		}
		defer f.Close()
		nistFW, nistAll, nistErr = catalog.ParseOSCAL(f, Framework)
	})
	if nistErr != nil {
		tb.Fatal(nistErr)
	}
	return nistFW, nistAll
}

// Live returns the NIST controls that are not withdrawn.
func Live(tb testing.TB) []pipeline.Control {
	tb.Helper()
	_, all := NIST(tb)
	var out []pipeline.Control
	for _, c := range all {
		if !c.Withdrawn {
			out = append(out, c)
		}
	}
	return out
}

// Mapping returns the cdk-nag mapping's source controls and APPROVED
// mappings, parsed once per test binary. Callers must not modify them.
func Mapping(tb testing.TB) ([]pipeline.Control, []pipeline.Mapping) {
	tb.Helper()
	p := Path(tb, MappingFile)
	mapOnce.Do(func() {
		f, err := os.Open(p)
		if err != nil {
			mapErr = err
			return
		}
		defer f.Close()
		mapSrc, mapMaps, mapErr = catalog.ParseMappingJSONL(f, SourceFramework, Framework)
	})
	if mapErr != nil {
		tb.Fatal(mapErr)
	}
	return mapSrc, mapMaps
}
