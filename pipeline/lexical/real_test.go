package lexical_test

import (
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/pipeline/catalog/catalogtest"
	"github.com/nexus-compliance/nexus/pipeline/lexical"
)

func nistIndex(tb testing.TB) *lexical.Index {
	tb.Helper()
	live := catalogtest.Live(tb)
	titles := map[string]string{}
	for _, c := range live {
		titles[c.ID] = c.Title
	}
	docs := make([][]string, len(live))
	for i, c := range live {
		docs[i] = lexical.ControlFields(c, titles[c.Parent])
	}
	return lexical.NewIndex(docs, lexical.ControlParams())
}

// TestRealCatalogQuerySpeed checks the bar: a query against the 1,007 live
// controls of NIST 800-53 r5 in well under 10 ms, index built once.
func TestRealCatalogQuerySpeed(t *testing.T) {
	ix := nistIndex(t)
	if ix.Len() != 1007 {
		t.Fatalf("indexed %d controls", ix.Len())
	}
	srcs, _ := catalogtest.Mapping(t)
	var scores []float64
	start := time.Now()
	for _, s := range srcs {
		scores = ix.Scores(ix.Compile(s.Text()), scores)
	}
	per := time.Since(start) / time.Duration(len(srcs))
	t.Logf("%d queries, %v each", len(srcs), per)
	if per > 10*time.Millisecond {
		t.Fatalf("a query took %v on average", per)
	}
	hits := ix.Search("Account management: automated mechanisms to create, enable, modify, disable and remove accounts", 3)
	if len(hits) == 0 || catalogtest.Live(t)[hits[0].Doc].ID[:4] != "AC-2" {
		t.Fatalf("account management query: %+v", hits)
	}
}

func BenchmarkQuery(b *testing.B) {
	ix := nistIndex(b)
	srcs, _ := catalogtest.Mapping(b)
	var scores []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := srcs[i%len(srcs)]
		scores = ix.Scores(ix.Compile(s.Text()), scores)
	}
}

func BenchmarkBuild(b *testing.B) {
	for i := 0; i < b.N; i++ {
		nistIndex(b)
	}
}
