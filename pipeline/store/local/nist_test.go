package local_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/catalog"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

// nistCatalog is the OSCAL catalog of the shared data, found from this
// package's folder (pipeline/store/local → the repository root → ../shared).
func nistCatalog(tb testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "shared", "data", "nist-800-53-r5-catalog.json")
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data not found: %v", err)
	}
	return p
}

// BenchmarkControlsNIST reads the 1,189 controls of the real NIST SP 800-53
// rev. 5 catalog from the file, with no in-memory copy (a fresh process),
// and from memory (every later read).
func BenchmarkControlsNIST(b *testing.B) {
	f, err := os.Open(nistCatalog(b))
	if err != nil {
		b.Fatal(err)
	}
	fw, cs, err := catalog.ParseOSCAL(f, "")
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "nexus.db")
	s, err := local.Open(path, local.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := s.PutControls(ctx, cs); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Controls(ctx, fw.Key); err != nil { // builds the snapshot
		b.Fatal(err)
	}
	s.Close()
	b.Run("fresh-process", func(b *testing.B) {
		for b.Loop() {
			s, err := local.Open(path, local.Options{})
			if err != nil {
				b.Fatal(err)
			}
			got, err := s.Controls(ctx, fw.Key)
			if err != nil || len(got) != 1189 {
				b.Fatal(len(got), err)
			}
			s.Close()
		}
	})
	b.Run("open-only", func(b *testing.B) {
		for b.Loop() {
			s, err := local.Open(path, local.Options{})
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	s, _ = local.Open(path, local.Options{})
	defer s.Close()
	_, _ = s.Controls(ctx, fw.Key)
	b.Run("warm", func(b *testing.B) {
		for b.Loop() {
			if got, _ := s.Controls(ctx, fw.Key); len(got) != 1189 {
				b.Fatal(len(got))
			}
		}
	})
}

// BenchmarkApprovedMappings reads the 1,814 approved mappings of the
// published AWS Config → NIST table from a fresh process.
func BenchmarkApprovedMappings(b *testing.B) {
	f, err := os.Open(filepath.Join(filepath.Dir(nistCatalog(b)), "cdknag-awsconfig-aws-to-nist80053r5.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	_, ms, err := catalog.ParseMappingJSONL(f, "AWS.ConfigRules#1.0", "NIST-SP-800-53#R5")
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	for i := range ms {
		ms[i].CreatedBy = map[string]any{"name": "nexus catalog import"}
	}
	path := filepath.Join(b.TempDir(), "nexus.db")
	s, _ := local.Open(path, local.Options{})
	ctx := context.Background()
	if err := s.PutMappings(ctx, ms); err != nil {
		b.Fatal(err)
	}
	_, _ = s.MappingsByStatus(ctx, pipeline.MappingApproved)
	s.Close()
	for b.Loop() {
		s, _ := local.Open(path, local.Options{})
		got, err := s.MappingsByStatus(ctx, pipeline.MappingApproved)
		if err != nil || len(got) != len(ms) {
			b.Fatal(len(got), err)
		}
		s.Close()
	}
}
