package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
)

const nist = "NIST-SP-800-53#R5"

var ctx = context.Background()

func open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "nexus.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ctl(fw, id string) pipeline.Control {
	return pipeline.Control{Key: pipeline.ControlKey(fw, id), FrameworkKey: fw, ID: id, Title: "Title of " + id, Description: "Statement of " + id}
}

func TestDefaultPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"NEXUS_STORE_PATH": "/x/y.db", "XDG_DATA_HOME": "/d", "HOME": "/h"}, "/x/y.db"},
		{map[string]string{"XDG_DATA_HOME": "/d", "HOME": "/h"}, "/d/nexus/nexus.db"},
		{map[string]string{"HOME": "/h"}, "/h/.local/share/nexus/nexus.db"},
	} {
		if got, err := DefaultPath(env(c.vars)); err != nil || got != c.want {
			t.Errorf("%v: %s %v", c.vars, got, err)
		}
	}
}

func TestCatalog(t *testing.T) {
	s := open(t)
	if empty, err := s.Empty(ctx); err != nil || !empty {
		t.Fatalf("fresh store: empty=%v %v", empty, err)
	}
	if err := s.PutFramework(ctx, pipeline.Framework{Key: nist, Name: "NIST-SP-800-53", Version: "R5"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFramework(ctx, pipeline.Framework{Key: "bad"}); err == nil {
		t.Fatal("malformed framework key accepted")
	}
	ids := []string{"AC-10", "AC-2(10)", "AC-2", "SC-7", "AC-2(1)", "AC-3", "AU-2", "AC-1"}
	var cs []pipeline.Control
	for _, id := range ids {
		cs = append(cs, ctl(nist, id))
	}
	cs[3].Withdrawn = true
	// A framework whose key extends this one's must not leak into it.
	other := ctl("NIST-SP-800-53#R50", "AC-1")
	if err := s.PutControls(ctx, append(cs, other)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Controls(ctx, nist)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range got {
		order = append(order, c.ID)
	}
	want := []string{"AC-1", "AC-2", "AC-2(1)", "AC-2(10)", "AC-3", "AC-10", "AU-2", "SC-7"}
	if !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if !got[7].Withdrawn || got[0].Description != "Statement of AC-1" || got[0].FrameworkKey != nist {
		t.Fatalf("fields lost: %+v %+v", got[0], got[7])
	}
	// The caller owns the slice.
	got[0].Title = "changed"
	again, _ := s.Controls(ctx, nist)
	if again[0].Title != "Title of AC-1" {
		t.Fatal("cache shared with caller")
	}
	// A write invalidates the cache and the snapshot.
	upd := ctl(nist, "AC-1")
	upd.Title = "Policy and Procedures"
	if err := s.PutControls(ctx, []pipeline.Control{upd, ctl(nist, "AC-4")}); err != nil {
		t.Fatal(err)
	}
	again, _ = s.Controls(ctx, nist)
	if len(again) != 9 || again[0].Title != "Policy and Procedures" || again[5].ID != "AC-4" {
		t.Fatalf("after write: %d %+v", len(again), again[0])
	}
	if c, err := s.Control(ctx, nist+"#AC-2(1)"); err != nil || c.ID != "AC-2(1)" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := s.Control(ctx, nist+"#ZZ-1"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("missing control: %v", err)
	}
	if _, err := s.Framework(ctx, "NOPE#1"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("missing framework: %v", err)
	}
	if fws, err := s.Frameworks(ctx); err != nil || len(fws) != 1 || fws[0].Version != "R5" {
		t.Fatalf("%+v %v", fws, err)
	}
	if err := s.PutControls(ctx, []pipeline.Control{{Key: nist + "#AC-1", FrameworkKey: "X#1", ID: "AC-1"}}); err == nil {
		t.Fatal("inconsistent control accepted")
	}
	if cs, err := s.Controls(ctx, "NONE#1"); err != nil || len(cs) != 0 {
		t.Fatalf("unknown framework: %v %v", cs, err)
	}
}

func TestSnapshotSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nexus.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := ctl(nist, "AC-2")
	c.Guidance, c.Family, c.Parent = "Guidance é ✓", "AC", ""
	if err := s.PutControls(ctx, []pipeline.Control{c, ctl(nist, "AC-2(1)")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Controls(ctx, nist); err != nil { // builds the snapshot
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	got, err := ro.Controls(ctx, nist)
	if err != nil || len(got) != 2 || got[0] != c {
		t.Fatalf("%+v %v", got, err)
	}
	if err := ro.PutJob(ctx, pipeline.Job{JobID: "x"}); err == nil {
		t.Fatal("read-only store wrote")
	}
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nexus.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(path, Options{Timeout: 50 * time.Millisecond})
	var le *LockedError
	if !errors.As(err, &le) || le.Path != path {
		t.Fatalf("second open: %v", err)
	}
}

func TestSnapshotCodec(t *testing.T) {
	cs := []pipeline.Control{ctl(nist, "AC-1"), {Key: "A#1#x", FrameworkKey: "A#1", ID: "x", Withdrawn: true}}
	b := encodeSnapshot(cs)
	got, err := decodeSnapshot(b)
	if err != nil || !slices.Equal(got, cs) {
		t.Fatalf("%+v %v", got, err)
	}
	for i := range b {
		if _, err := decodeSnapshot(b[:i]); err == nil {
			t.Fatalf("truncated at %d accepted", i)
		}
	}
}

func TestMappingSnapshotCodec(t *testing.T) {
	sim, rr := 0.5, 0.25
	by := map[string]any{"name": "nexus catalog import", "source": "x.jsonl"}
	ms := []pipeline.Mapping{
		{ControlKey: "A#1#x", MappedControlKey: "B#1#y", MappingKey: "k", ARN: "arn", Status: pipeline.MappingApproved,
			SimilarityScore: &sim, RerankScore: &rr, Reasoning: "why", CreatedBy: by, Timestamp: "2024-01-15T10:00:00Z"},
		{ControlKey: "A#1#z", MappedControlKey: "B#1#y", Status: pipeline.MappingApproved, CreatedBy: by},
		{ControlKey: "A#1#w", MappedControlKey: "B#1#v", Status: pipeline.MappingApproved},
	}
	b, err := encodeMappings(ms)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeMappings(b)
	if err != nil || len(got) != 3 || *got[0].SimilarityScore != 0.5 || *got[0].RerankScore != 0.25 || got[1].SimilarityScore != nil ||
		got[0].CreatedBy["source"] != "x.jsonl" || got[2].CreatedBy != nil || got[0].Timestamp != ms[0].Timestamp || got[0].Reasoning != "why" {
		t.Fatalf("%+v %v", got, err)
	}
	for i := range b {
		if _, err := decodeMappings(b[:i]); err == nil {
			t.Fatalf("truncated at %d accepted", i)
		}
	}
}

func TestNaturalLess(t *testing.T) {
	ids := []string{"SI-4(24)", "AC-2(1)", "AC-10", "AC-2", "SI-4(4)", "AC-02", "AC-1", "API_GW_CACHE_ENABLED", "AC-2(1)(a)"}
	sort.Slice(ids, func(i, j int) bool { return NaturalLess(ids[i], ids[j]) })
	want := []string{"AC-1", "AC-02", "AC-2", "AC-2(1)", "AC-2(1)(a)", "AC-10", "API_GW_CACHE_ENABLED", "SI-4(4)", "SI-4(24)"}
	if !slices.Equal(ids, want) {
		t.Fatalf("%v", ids)
	}
}

func TestRecords(t *testing.T) {
	s := open(t)
	src := "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED"
	if _, err := s.Enrichment(ctx, src); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatal(err)
	}
	e := pipeline.Enrichment{ControlKey: src, OriginalText: "o", EnrichedText: "enriched", Version: "v1", Data: map[string]any{"agents": 6.0}}
	if err := s.PutEnrichment(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Enrichment(ctx, src); err != nil || got.EnrichedText != "enriched" || got.Data["agents"] != 6.0 {
		t.Fatalf("%+v %v", got, err)
	}

	if _, ok, err := s.Embedding(ctx, src, "v1"); ok || err != nil {
		t.Fatal("hit on empty cache")
	}
	vec := []float32{0.25, -1, 3.5e-8}
	if err := s.PutEmbedding(ctx, src, "v1", vec); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.Embedding(ctx, src, "v1"); !ok || err != nil || !slices.Equal(got, vec) {
		t.Fatalf("%v %v %v", got, ok, err)
	}
	if _, ok, _ := s.Embedding(ctx, src, "v2"); ok {
		t.Fatal("model version ignored")
	}

	m := func(from, to string, st pipeline.MappingStatus) pipeline.Mapping {
		return pipeline.Mapping{ControlKey: from, MappedControlKey: to, Status: st}
	}
	if err := s.PutMappings(ctx, []pipeline.Mapping{
		m(src, nist+"#SC-28", pipeline.MappingApproved),
		m(src, nist+"#SC-5", pipeline.MappingPendingReview),
		m("AWS.ControlCatalog#1.0#CLOUDTRAIL_ENABLED", nist+"#AU-2", pipeline.MappingApproved),
	}); err != nil {
		t.Fatal(err)
	}
	approved, err := s.MappingsByStatus(ctx, pipeline.MappingApproved)
	if err != nil || len(approved) != 2 || approved[0].MappingKey != pipeline.MappingKey(src, nist+"#SC-28") ||
		approved[0].ARN != pipeline.MappingARN(approved[0].MappingKey) {
		t.Fatalf("approved: %+v %v", approved, err)
	}
	// Changing a status moves it between the status lists.
	if err := s.PutMappings(ctx, []pipeline.Mapping{m(src, nist+"#SC-5", pipeline.MappingApproved)}); err != nil {
		t.Fatal(err)
	}
	approved, _ = s.MappingsByStatus(ctx, pipeline.MappingApproved)
	pending, _ := s.MappingsByStatus(ctx, pipeline.MappingPendingReview)
	if len(approved) != 3 || len(pending) != 0 {
		t.Fatalf("after status change: %d approved, %d pending", len(approved), len(pending))
	}
	if got, err := s.MappingsForControl(ctx, src); err != nil || len(got) != 2 || got[0].MappedControlKey != nist+"#SC-28" {
		t.Fatalf("for control: %+v %v", got, err)
	}
	if err := s.PutMappings(ctx, []pipeline.Mapping{m(src, nist+"#SC-5", "MAYBE")}); err == nil {
		t.Fatal("bad status accepted")
	}
	// The snapshot survives a reopen, read-only too.
	path := s.Path()
	s.Close()
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got, err := ro.MappingsByStatus(ctx, pipeline.MappingApproved); err != nil || len(got) != 3 || got[0].ARN == "" {
		t.Fatalf("reopened: %+v %v", got, err)
	}
}

func TestJobsAndTTL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nexus.db")
	now := time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)
	s, err := Open(path, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i, ttl := range []time.Duration{time.Hour, -time.Hour, 2 * time.Hour} {
		j := pipeline.Job{JobID: fmt.Sprintf("job-%d", i), Status: pipeline.JobPending, CreatedAt: now.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
			TTL: now.Add(ttl).Unix()}
		if err := s.PutJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	// Rewriting a job with a new TTL moves its index entry.
	j, _ := s.Job(ctx, "job-0")
	j.Status, j.TTL = pipeline.JobCompleted, now.Add(-2*time.Hour).Unix()
	if err := s.PutJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.Jobs(ctx)
	if err != nil || len(jobs) != 3 || jobs[0].JobID != "job-2" || jobs[2].Status != pipeline.JobCompleted {
		t.Fatalf("%+v %v", jobs, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	jobs, _ = s.Jobs(ctx)
	if len(jobs) != 1 || jobs[0].JobID != "job-2" {
		t.Fatalf("after prune: %+v", jobs)
	}
	if _, err := s.Job(ctx, "job-1"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatal(err)
	}
}

func TestConcurrent(t *testing.T) {
	s := open(t)
	var base []pipeline.Control
	for i := range 200 {
		base = append(base, ctl(nist, fmt.Sprintf("AC-%d", i)))
	}
	if err := s.PutControls(ctx, base); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if w%2 == 0 {
					if err := s.PutControls(ctx, []pipeline.Control{ctl(nist, fmt.Sprintf("SC-%d-%d", w, i))}); err != nil {
						t.Error(err)
					}
					_ = s.PutJob(ctx, pipeline.Job{JobID: fmt.Sprintf("%d-%d", w, i)})
				} else if cs, err := s.Controls(ctx, nist); err != nil || len(cs) < 200 {
					t.Error(len(cs), err)
				}
			}
		}()
	}
	wg.Wait()
	cs, _ := s.Controls(ctx, nist)
	if len(cs) != 280 {
		t.Fatalf("%d controls after concurrent writes", len(cs))
	}
}

// BenchmarkControlsCold reads a 1,189-control framework from the file with
// no in-memory copy, as a fresh nexus process does.
func BenchmarkControlsCold(b *testing.B) {
	path := filepath.Join(b.TempDir(), "nexus.db")
	s, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var cs []pipeline.Control
	for i := range 1189 {
		c := ctl(nist, fmt.Sprintf("XX-%d", i))
		c.Description = fmt.Sprintf("%0600d", i)
		c.Guidance = fmt.Sprintf("%01200d", i)
		cs = append(cs, c)
	}
	if err := s.PutControls(ctx, cs); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Controls(ctx, nist); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		s.bumpFrameworks(map[string]bool{nist: true})
		if got, err := s.Controls(ctx, nist); err != nil || len(got) != 1189 {
			b.Fatal(err)
		}
	}
}

// BenchmarkControlsWarm is every later read in the same process.
func BenchmarkControlsWarm(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "nexus.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var cs []pipeline.Control
	for i := range 1189 {
		cs = append(cs, ctl(nist, fmt.Sprintf("XX-%d", i)))
	}
	_ = s.PutControls(ctx, cs)
	_, _ = s.Controls(ctx, nist)
	b.ResetTimer()
	for b.Loop() {
		if got, _ := s.Controls(ctx, nist); len(got) != 1189 {
			b.Fatal(len(got))
		}
	}
}
