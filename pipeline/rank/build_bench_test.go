package rank_test

import (
	"testing"

	"github.com/nexus-compliance/nexus/pipeline/catalog/catalogtest"
	"github.com/nexus-compliance/nexus/pipeline/rank"
)

// BenchmarkBuild is what one `nexus map` process pays before its first
// mapping: the BM25F index of the catalog and the mapping memory.
func BenchmarkBuild(b *testing.B) {
	_, all := catalogtest.NIST(b)
	srcs, maps := catalogtest.Mapping(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := rank.NewDefault(rank.Config{Targets: all, Sources: srcs, Approved: maps}); err != nil {
			b.Fatal(err)
		}
	}
}
