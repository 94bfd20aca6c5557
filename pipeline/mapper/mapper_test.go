package mapper

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/demo"
	"github.com/nexus-compliance/nexus/pipeline/mapper/mappertest"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

const (
	apiCache = demo.SourceFramework + "#API_GW_CACHE_ENABLED"
	nist     = demo.TargetFramework
)

var ctx = context.Background()

// demoStore is a local store in a temporary folder holding the demo catalog.
func demoStore(t testing.TB) *local.Store {
	t.Helper()
	s, err := local.Open(filepath.Join(t.TempDir(), "nexus.db"), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := demo.Load(ctx, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidateControl(t *testing.T) {
	s := demoStore(t)
	c, fw, err := ValidateControl(ctx, s, apiCache, nist)
	if err != nil || c.ID != "API_GW_CACHE_ENABLED" || fw.Key != nist {
		t.Fatalf("%+v %+v %v", c, fw, err)
	}
	var ke *pipeline.KeyError
	if _, _, err := ValidateControl(ctx, s, "API_GW_CACHE_ENABLED", nist); !errors.As(err, &ke) || ke.Kind != "control key" {
		t.Fatalf("malformed control key: %v", err)
	}
	if _, _, err := ValidateControl(ctx, s, apiCache, "NIST"); !errors.As(err, &ke) || ke.Kind != "framework key" {
		t.Fatalf("malformed framework key: %v", err)
	}
	var cnf *ControlNotFoundError
	_, _, err = ValidateControl(ctx, s, demo.SourceFramework+"#API_GW_CACHE_ENABLE", nist)
	if !errors.As(err, &cnf) || len(cnf.Suggestions) == 0 || cnf.Suggestions[0] != apiCache {
		t.Fatalf("typo: %v", err)
	}
	_, _, err = ValidateControl(ctx, s, demo.SourceFramework+"#s3_bucket_logging_enabled", nist)
	if !errors.As(err, &cnf) || cnf.Suggestions[0] != demo.SourceFramework+"#S3_BUCKET_LOGGING_ENABLED" {
		t.Fatalf("case: %v", err)
	}
	_, _, err = ValidateControl(ctx, s, "AWS.Other#1.0#X", nist)
	if !errors.As(err, &cnf) || !slices.Contains(cnf.Frameworks, nist) || !strings.Contains(err.Error(), "known: ") {
		t.Fatalf("unknown framework of control: %v", err)
	}
	var fnf *FrameworkNotFoundError
	_, _, err = ValidateControl(ctx, s, apiCache, "SOC2#2017")
	if !errors.As(err, &fnf) || !slices.Equal(fnf.Available, []string{demo.SourceFramework, nist}) {
		t.Fatalf("unknown framework: %v", err)
	}
}

func TestSuggest(t *testing.T) {
	ids := []string{"AC-2", "AC-2(1)", "AC-20", "SC-7", "CLOUDTRAIL_ENABLED", "MULTI_REGION_CLOUDTRAIL_ENABLED"}
	if got := Suggest("ac-2", ids, 3); got[0] != "AC-2" {
		t.Fatal(got)
	}
	if got := Suggest("CLOUDTRAIL", ids, 3); len(got) != 2 || got[0] != "CLOUDTRAIL_ENABLED" {
		t.Fatal(got)
	}
	if got := Suggest("ZZZZZZZZ", ids, 3); len(got) != 0 {
		t.Fatal(got)
	}
}

func TestCheckEnrichAndSourceText(t *testing.T) {
	s := demoStore(t)
	c, _ := s.Control(ctx, apiCache)
	if _, ok, err := CheckEnrichment(ctx, s, apiCache); ok || err != nil {
		t.Fatalf("fresh: %v %v", ok, err)
	}
	src := SourceText(c, nil)
	if src.Enriched || !strings.HasPrefix(src.Text, "API Gateway stage cache is enabled and encrypted. Checks") {
		t.Fatalf("%+v", src)
	}
	en := &mappertest.UpperEnricher{}
	e, err := Enrich(ctx, en, s, c)
	if err != nil || !strings.HasSuffix(e.EnrichedText, "audit logging evidence.") {
		t.Fatal(e, err)
	}
	got, ok, err := CheckEnrichment(ctx, s, apiCache)
	if !ok || err != nil || got.EnrichedText != e.EnrichedText {
		t.Fatalf("cached: %v %v", ok, err)
	}
	if src := SourceText(c, &got); !src.Enriched || src.Text != e.EnrichedText {
		t.Fatalf("%+v", src)
	}
	if src := SourceText(c, &pipeline.Enrichment{EnrichedText: "  "}); src.Enriched {
		t.Fatal("blank enrichment used")
	}
}

func TestFetchTargets(t *testing.T) {
	s := demoStore(t)
	all, err := FetchTargets(ctx, s, nist, nil)
	if err != nil || len(all) != 39 || all[0].ID != "AC-2" {
		t.Fatalf("%d %v", len(all), err)
	}
	for _, c := range all {
		if c.Withdrawn {
			t.Fatal("withdrawn target")
		}
	}
	some, err := FetchTargets(ctx, s, nist, []string{"sc-28", "AC-2", "SC-28"})
	if err != nil || len(some) != 2 || some[0].ID != "SC-28" {
		t.Fatalf("%+v %v", some, err)
	}
	var ute *UnknownTargetsError
	_, err = FetchTargets(ctx, s, nist, []string{"AC-2", "AC-99", "SC-9", "XX-1"})
	if !errors.As(err, &ute) || !slices.Equal(ute.Unknown, []string{"AC-99", "XX-1"}) || !slices.Equal(ute.Withdrawn, []string{"SC-9"}) {
		t.Fatalf("%v", err)
	}
	var nte *NoTargetsError
	if _, err := FetchTargets(ctx, s, "EMPTY#1", nil); !errors.As(err, &nte) {
		t.Fatal(err)
	}
}

func candidates(ids ...string) []pipeline.Candidate {
	var out []pipeline.Candidate
	for i, id := range ids {
		out = append(out, pipeline.Candidate{Target: pipeline.Control{Key: nist + "#" + id, ID: id}, Similarity: 1 - float64(i)/10})
	}
	return out
}

type fixedRetriever []pipeline.Candidate

func (f fixedRetriever) Retrieve(context.Context, pipeline.Source, []pipeline.Control, int) ([]pipeline.Candidate, error) {
	return f, nil
}

func TestRetrieveAndRerank(t *testing.T) {
	targets := []pipeline.Control{{ID: "A"}, {ID: "B"}, {ID: "C"}}
	got, err := Retrieve(ctx, fixedRetriever(candidates("A", "B", "C")), pipeline.Source{}, targets, 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("top-k not enforced: %d %v", len(got), err)
	}
	if got, _ := Retrieve(ctx, fixedRetriever(nil), pipeline.Source{}, nil, 5); got != nil {
		t.Fatal("no targets, candidates")
	}
	// Without a reranker the similarity stands in; the threshold filters.
	kept, err := Rerank(ctx, nil, pipeline.Source{}, candidates("A", "B", "C"), 0.85)
	if err != nil || len(kept) != 2 || kept[1].Rerank != 0.9 {
		t.Fatalf("%+v %v", kept, err)
	}
	// A reranker that reverses the order: the result is sorted by rerank.
	src := pipeline.Source{Text: "cache encrypted"}
	cs := candidates("A", "B")
	cs[1].Target.Title = "Cache encrypted"
	kept, _ = Rerank(ctx, mappertest.TitleReranker{}, src, cs, 0)
	if kept[0].Target.ID != "B" {
		t.Fatalf("%+v", kept)
	}
}

func TestReasonBoundedAndOrdered(t *testing.T) {
	r := &mappertest.SharedTermsReasoner{Hold: make(chan struct{})}
	ids := make([]string, 12)
	for i := range ids {
		ids[i] = fmt.Sprintf("AC-%d", i+1)
	}
	var (
		out []pipeline.Candidate
		err error
		wg  sync.WaitGroup
	)
	wg.Go(func() {
		out, err = Reason(ctx, r, pipeline.Source{Control: pipeline.Control{ID: "SRC"}}, candidates(ids...), 0)
	})
	deadline := time.Now().Add(2 * time.Second)
	for r.Active.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	if n := r.Active.Load(); n != 5 {
		t.Fatalf("%d reasoning at once, want 5", n)
	}
	close(r.Hold)
	wg.Wait()
	if err != nil || r.MaxActive.Load() != 5 {
		t.Fatalf("%v max %d", err, r.MaxActive.Load())
	}
	for i, c := range out {
		if c.Target.ID != ids[i] || !strings.HasPrefix(c.Reasoning, "SRC and "+ids[i]) {
			t.Fatalf("order lost at %d: %+v", i, c)
		}
	}
	_, err = Reason(ctx, &mappertest.SharedTermsReasoner{Fail: "AC-7"}, pipeline.Source{}, candidates(ids...), 2)
	if err == nil || !strings.Contains(err.Error(), "AC-7") {
		t.Fatal(err)
	}
	if got, _ := Reason(ctx, nil, pipeline.Source{}, candidates("A"), 5); got[0].Reasoning != "" {
		t.Fatal("nil reasoner reasoned")
	}
}

func TestMergeAndRecords(t *testing.T) {
	cs := candidates("AC-2")
	cs[0].Target.Title, cs[0].Target.Description, cs[0].Rerank, cs[0].Reasoning = "Account Management", "Manage accounts.", 0.5, "why"
	ms := Merge(nist, cs)
	want := pipeline.ResultMapping{TargetControlKey: nist + "#AC-2", TargetControlID: "AC-2", TargetFrameworkKey: nist,
		Title: "Account Management", Text: "Manage accounts.", SimilarityScore: 1, RerankScore: 0.5, Reasoning: "why"}
	if len(ms) != 1 || ms[0] != want {
		t.Fatalf("%+v", ms)
	}
	recs := MappingRecords(ms)
	if recs[0]["target_control_key"] != nist+"#AC-2" || recs[0]["rerank_score"] != 0.5 {
		t.Fatalf("%v", recs)
	}
	if back := ResultMappings(recs); back[0] != want {
		t.Fatalf("%+v", back)
	}
	camel := ResultMappings([]map[string]any{{"targetControlKey": "K", "similarityScore": 0.95}})
	if camel[0].TargetControlKey != "K" || camel[0].SimilarityScore != 0.95 {
		t.Fatalf("%+v", camel)
	}
}

// recordingStore records every job write.
type recordingStore struct {
	pipeline.Store
	mu   sync.Mutex
	jobs []pipeline.Job
}

func (r *recordingStore) PutJob(ctx context.Context, j pipeline.Job) error {
	r.mu.Lock()
	r.jobs = append(r.jobs, j)
	r.mu.Unlock()
	return r.Store.PutJob(ctx, j)
}

func newMapper(t testing.TB, store pipeline.Store) (*Mapper, *[]Event) {
	var events []Event
	clock := time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)
	return &Mapper{
		Store: store, Retriever: &mappertest.WordOverlapRetriever{}, Reranker: mappertest.TitleReranker{},
		Reasoner: &mappertest.SharedTermsReasoner{}, Observer: func(e Event) { events = append(events, e) },
		Now:   func() time.Time { clock = clock.Add(time.Second); return clock },
		NewID: func() string { return "job-1" },
	}, &events
}

func TestRunEndToEnd(t *testing.T) {
	rec := &recordingStore{Store: demoStore(t)}
	m, events := newMapper(t, rec)
	job, err := m.Run(ctx, Request{ControlKey: apiCache, FrameworkKey: nist, Options: Options{TopK: 5}})
	if err != nil {
		t.Fatal(err)
	}
	// PENDING → RUNNING → COMPLETED, as the service records them.
	var statuses []pipeline.JobStatus
	for _, j := range rec.jobs {
		statuses = append(statuses, j.Status)
	}
	if !slices.Equal(statuses, []pipeline.JobStatus{pipeline.JobPending, pipeline.JobRunning, pipeline.JobCompleted}) {
		t.Fatalf("transitions %v", statuses)
	}
	p := rec.jobs[0]
	if p.CreatedAt != "2024-01-15T10:00:01.000Z" || p.UpdatedAt != p.CreatedAt || p.TTL != time.Date(2024, 1, 22, 10, 0, 1, 0, time.UTC).Unix() ||
		p.ControlKey != apiCache || p.TargetFrameworkKey != nist || len(p.Mappings) != 0 {
		t.Fatalf("pending record %+v", p)
	}
	if rec.jobs[1].UpdatedAt != "2024-01-15T10:00:02.000Z" || rec.jobs[1].CreatedAt != p.CreatedAt {
		t.Fatalf("running record %+v", rec.jobs[1])
	}
	if job.Status != pipeline.JobCompleted || job.CompletedAt != "2024-01-15T10:00:03.000Z" || job.UpdatedAt != job.CompletedAt || job.FailedAt != "" {
		t.Fatalf("completed record %+v", job)
	}
	stored, err := rec.Job(ctx, "job-1")
	if err != nil || stored.Status != pipeline.JobCompleted || len(stored.Mappings) != len(job.Mappings) {
		t.Fatalf("stored %+v %v", stored, err)
	}
	ms := ResultMappings(stored.Mappings)
	if len(ms) == 0 || len(ms) > 5 {
		t.Fatalf("%d mappings", len(ms))
	}
	ids := map[string]bool{}
	for i, r := range ms {
		ids[r.TargetControlID] = true
		if r.Reasoning == "" || r.TargetFrameworkKey != nist || (i > 0 && r.RerankScore > ms[i-1].RerankScore) {
			t.Fatalf("mapping %d: %+v", i, r)
		}
	}
	if !ids["SC-28(1)"] || !ids["SC-5"] {
		t.Fatalf("SC-28(1) (encryption at rest) or SC-5 (denial of service) not among %v", ids)
	}
	// Every stage reported a start and an end, in order.
	var done []string
	for _, e := range *events {
		if e.Done {
			done = append(done, e.Stage)
			if e.Err != nil {
				t.Fatal(e.Err)
			}
		}
	}
	if !slices.Equal(done, Stages) {
		t.Fatalf("stages %v", done)
	}
}

func TestRunValidationRecordsNoJob(t *testing.T) {
	rec := &recordingStore{Store: demoStore(t)}
	m, _ := newMapper(t, rec)
	for _, req := range []Request{
		{ControlKey: "bad", FrameworkKey: nist},
		{ControlKey: demo.SourceFramework + "#NOPE", FrameworkKey: nist},
		{ControlKey: apiCache, FrameworkKey: "SOC2#2017"},
		{ControlKey: apiCache, FrameworkKey: nist, Options: Options{TargetControlIDs: []string{"AC-99"}}},
	} {
		job, err := m.Run(ctx, req)
		if err == nil || job.JobID != "" {
			t.Errorf("%+v: %+v %v", req, job, err)
		}
	}
	if len(rec.jobs) != 0 {
		t.Fatalf("jobs recorded: %+v", rec.jobs)
	}
}

type failingRetriever struct{}

func (failingRetriever) Retrieve(context.Context, pipeline.Source, []pipeline.Control, int) ([]pipeline.Candidate, error) {
	return nil, errors.New("science service unavailable")
}

func TestRunFailureAndCancel(t *testing.T) {
	rec := &recordingStore{Store: demoStore(t)}
	m, _ := newMapper(t, rec)
	m.Retriever = failingRetriever{}
	job, err := m.Run(ctx, Request{ControlKey: apiCache, FrameworkKey: nist})
	var se *StageError
	if !errors.As(err, &se) || se.Stage != StageRetrieve || job.Status != pipeline.JobFailed ||
		job.ErrorMessage != "retrieve: science service unavailable" || job.FailedAt == "" || job.CompletedAt != "" {
		t.Fatalf("%+v %v", job, err)
	}
	if stored, _ := rec.Job(ctx, job.JobID); stored.Status != pipeline.JobFailed {
		t.Fatalf("stored %+v", stored)
	}

	// Cancelled while reasoning: recorded FAILED, never left RUNNING.
	r := &mappertest.SharedTermsReasoner{Hold: make(chan struct{})}
	m, _ = newMapper(t, rec)
	m.Reasoner = r
	m.NewID = func() string { return "job-2" }
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		for r.Active.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	job, err = m.Run(cctx, Request{ControlKey: apiCache, FrameworkKey: nist})
	if !errors.Is(err, context.Canceled) || job.Status != pipeline.JobFailed || !strings.HasPrefix(job.ErrorMessage, "interrupted") {
		t.Fatalf("%+v %v", job, err)
	}
	if stored, _ := rec.Job(ctx, "job-2"); stored.Status != pipeline.JobFailed {
		t.Fatalf("stored %+v", stored)
	}
}

func TestRunUsesEnrichment(t *testing.T) {
	s := demoStore(t)
	m, events := newMapper(t, s)
	en := &mappertest.UpperEnricher{}
	m.Enricher = en
	for range 2 {
		if _, err := m.Run(ctx, Request{ControlKey: apiCache, FrameworkKey: nist}); err != nil {
			t.Fatal(err)
		}
	}
	if en.Calls.Load() != 1 {
		t.Fatalf("enricher called %d times; the second run should use the cache", en.Calls.Load())
	}
	var details []string
	for _, e := range *events {
		if e.Done && e.Stage == StageEnrich {
			details = append(details, e.Detail)
		}
	}
	if !slices.Equal(details, []string{"enriched", "using cached enrichment"}) {
		t.Fatal(details)
	}
}

func TestUUID(t *testing.T) {
	id := NewUUID()
	if len(id) != 36 || id[14] != '4' || !strings.ContainsAny(id[19:20], "89ab") || id == NewUUID() {
		t.Fatal(id)
	}
}

// BenchmarkRunDemo is one whole job on the demo catalog with the test
// doubles: the pipeline's own overhead (store reads, three job writes).
func BenchmarkRunDemo(b *testing.B) {
	s := demoStore(b)
	m := &Mapper{Store: s, Retriever: &mappertest.WordOverlapRetriever{}, Reranker: mappertest.TitleReranker{}, Reasoner: &mappertest.SharedTermsReasoner{}}
	for b.Loop() {
		if _, err := m.Run(ctx, Request{ControlKey: apiCache, FrameworkKey: nist}); err != nil {
			b.Fatal(err)
		}
	}
}
