package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mapshared "github.com/nexus-compliance/nexus/commands/map/shared"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
	"github.com/nexus-compliance/nexus/pipeline/demo"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
	"github.com/nexus-compliance/nexus/pipeline/server"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

const (
	srcKey = demo.SourceFramework + "#API_GW_CACHE_ENABLED"
	fwKey  = demo.TargetFramework
)

func demoStore(t testing.TB) *local.Store {
	t.Helper()
	s, err := local.Open(filepath.Join(t.TempDir(), "nexus.db"), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := demo.Load(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// realMapper builds a framework's mapper as `nexus map` does.
func realMapper(store pipeline.Store) server.MapperFunc {
	return func(ctx context.Context, fw string) (*mapper.Mapper, error) {
		fl := mapshared.Flags{Framework: fw, TopK: mapper.DefaultTopK, Reasoning: "template", Retriever: "fusion"}
		return mapshared.NewMapper(ctx, mapshared.DefaultHooks(), store, &fl, fw, func(string) {}, nil)
	}
}

type env struct {
	t   testing.TB
	srv *server.Server
	ts  *httptest.Server
	tok string
}

func start(t testing.TB, cfg server.Config) *env {
	t.Helper()
	if cfg.NewMapper == nil {
		cfg.NewMapper = realMapper(cfg.Store)
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	s := server.New(cfg)
	ts := httptest.NewServer(s.Handler())
	e := &env{t: t, srv: s, ts: ts, tok: cfg.Token}
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	if cfg.Load == nil {
		if err := s.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) do(method, path string, body any, out any) (int, http.Header) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, _ := http.NewRequest(method, e.ts.URL+path, rd)
	if e.tok != "" {
		req.Header.Set("Authorization", "Bearer "+e.tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 204 && ct != "application/json" {
		e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		e.t.Errorf("%s %s: no CORS header", method, path)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode, resp.Header
}

func (e *env) submit(ctl string) api.Accepted {
	e.t.Helper()
	var acc api.Accepted
	if code, _ := e.do("POST", api.PathMappings, api.MappingRequest{ControlKey: ctl, TargetFrameworkKey: fwKey}, &acc); code != 202 {
		e.t.Fatalf("submit %s: %d", ctl, code)
	}
	return acc
}

func (e *env) wait(id string, want string) api.JobStatus {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var st api.JobStatus
		e.do("GET", "/api/v1/mappings/"+id, nil, &st)
		if st.Status == want {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("job %s: %s, want %s", id, st.Status, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSubmitPollCompleted(t *testing.T) {
	store := demoStore(t)
	e := start(t, server.Config{Store: store})
	acc := e.submit(srcKey)
	if acc.Status != "ACCEPTED" || acc.StatusURL != "/api/v1/mappings/"+acc.MappingID || acc.ControlKey != srcKey || acc.TargetFrameworkKey != fwKey {
		t.Fatalf("accepted: %+v", acc)
	}
	j, err := store.Job(context.Background(), acc.MappingID)
	if err != nil || j.TTL-time.Now().Unix() < int64(mapper.JobTTL/time.Second)-60 {
		t.Fatalf("job record: %+v %v", j, err)
	}
	st := e.wait(acc.MappingID, "COMPLETED")

	m, err := realMapper(store)(context.Background(), fwKey)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := m.Run(context.Background(), mapper.Request{ControlKey: srcKey, FrameworkKey: fwKey, Options: mapper.Options{TopK: mapper.DefaultTopK}})
	if err != nil {
		t.Fatal(err)
	}
	want := server.JobStatusOf(direct).Result.Mappings
	if len(want) == 0 || !slices.Equal(st.Result.Mappings, want) {
		t.Fatalf("served mappings differ from mapper.Run:\n%+v\n%+v", st.Result.Mappings, want)
	}
	// The wire form is the seed's camelCase.
	resp, _ := http.Get(e.ts.URL + "/api/v1/mappings/" + acc.MappingID)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, k := range []string{`"targetControlId"`, `"similarityScore"`, `"rerankScore"`, `"result":{"mappings"`} {
		if !bytes.Contains(raw, []byte(k)) {
			t.Errorf("COMPLETED body lacks %s: %s", k, raw)
		}
	}
	if bytes.Contains(raw, []byte("createdAt")) {
		t.Errorf("COMPLETED body carries timestamps: %s", raw)
	}
}

func TestValidationErrors(t *testing.T) {
	e := start(t, server.Config{Store: demoStore(t)})
	for _, tc := range []struct {
		name  string
		body  any
		code  int
		field string
	}{
		{"bad json", []byte(`{"control_key":`), 400, "body"},
		{"missing control", api.MappingRequest{TargetFrameworkKey: fwKey}, 400, "control_key"},
		{"bad control", api.MappingRequest{ControlKey: "nohash", TargetFrameworkKey: fwKey}, 400, "control_key"},
		{"bad framework", api.MappingRequest{ControlKey: srcKey, TargetFrameworkKey: "NIST"}, 400, "target_framework_key"},
		{"bad targets", api.MappingRequest{ControlKey: srcKey, TargetFrameworkKey: fwKey, TargetControlIDs: []string{"ZZ-99"}}, 400, "target_control_ids"},
	} {
		var eb api.ErrorBody
		if code, _ := e.do("POST", api.PathMappings, tc.body, &eb); code != tc.code || eb.Field != tc.field || eb.Error == "" {
			t.Errorf("%s: %d %+v", tc.name, code, eb)
		}
	}
	var eb api.ErrorBody
	code, _ := e.do("POST", api.PathMappings, api.MappingRequest{ControlKey: srcKey[:len(srcKey)-1], TargetFrameworkKey: fwKey}, &eb)
	if code != 404 || eb.Resource != "control" || !slices.Contains(eb.Suggestions, srcKey) {
		t.Errorf("unknown control: %d %+v", code, eb)
	}
	eb = api.ErrorBody{}
	code, _ = e.do("POST", api.PathMappings, api.MappingRequest{ControlKey: srcKey, TargetFrameworkKey: "NIST-SP-800-53#R4"}, &eb)
	if code != 404 || eb.Resource != "framework" || !slices.Contains(eb.Suggestions, fwKey) {
		t.Errorf("unknown framework: %d %+v", code, eb)
	}
	eb = api.ErrorBody{}
	if code, _ := e.do("GET", "/api/v1/mappings/nope", nil, &eb); code != 404 || eb.Resource != "mapping" {
		t.Errorf("unknown id: %d %+v", code, eb)
	}
}

// BlockingRetriever is a test double: Retrieve waits for Release (or the
// context), then finds nothing.
type BlockingRetriever struct {
	Entered chan struct{}
	Release chan struct{}
}

func (b *BlockingRetriever) Retrieve(ctx context.Context, _ pipeline.Source, _ []pipeline.Control, _ int) ([]pipeline.Candidate, error) {
	b.Entered <- struct{}{}
	select {
	case <-b.Release:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// FailingRetriever is a test double whose Retrieve always fails.
type FailingRetriever struct{ Calls atomic.Int64 }

func (f *FailingRetriever) Retrieve(context.Context, pipeline.Source, []pipeline.Control, int) ([]pipeline.Candidate, error) {
	f.Calls.Add(1)
	return nil, errors.New("scorer exploded")
}

func withRetriever(store pipeline.Store, r pipeline.Retriever) server.MapperFunc {
	return func(ctx context.Context, fw string) (*mapper.Mapper, error) {
		return &mapper.Mapper{Store: store, Retriever: r}, nil
	}
}

func TestQueueFull(t *testing.T) {
	store := demoStore(t)
	br := &BlockingRetriever{Entered: make(chan struct{}, 10), Release: make(chan struct{})}
	e := start(t, server.Config{Store: store, Workers: 1, QueueSize: 1, NewMapper: withRetriever(store, br)})
	defer close(br.Release)
	e.submit(srcKey)
	<-br.Entered // the worker holds the first job
	e.submit(srcKey)
	var eb api.ErrorBody
	code, h := e.do("POST", api.PathMappings, api.MappingRequest{ControlKey: srcKey, TargetFrameworkKey: fwKey}, &eb)
	if code != 503 || h.Get("Retry-After") == "" || eb.ErrorCode != server.CodeQueueFull {
		t.Fatalf("full queue: %d %v %+v", code, h, eb)
	}
}

func TestFailuresParkedAfterThreeAttempts(t *testing.T) {
	store := demoStore(t)
	fr := &FailingRetriever{}
	e := start(t, server.Config{Store: store, NewMapper: withRetriever(store, fr)})
	acc := e.submit(srcKey)
	st := e.wait(acc.MappingID, "FAILED")
	if !strings.Contains(st.Error, "scorer exploded") || st.Result != nil || st.ControlKey != "" {
		t.Errorf("failed status: %+v", st)
	}
	if n := fr.Calls.Load(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	var dlq server.DLQ
	e.do("GET", server.PathDLQ, nil, &dlq)
	if dlq.MessageCount != 1 || dlq.Messages[0].JobID != acc.MappingID || dlq.Messages[0].Attempts != 3 {
		t.Errorf("dlq: %+v", dlq)
	}
}

func TestMappingCRUD(t *testing.T) {
	store := demoStore(t)
	e := start(t, server.Config{Store: store})
	ctx := context.Background()
	srcs, _ := store.Controls(ctx, demo.SourceFramework)
	tgts, _ := store.Controls(ctx, demo.TargetFramework)
	var items []api.MappingCreateItem
	for i := 0; len(items) < 150; i++ {
		items = append(items, api.MappingCreateItem{SourceControlKey: srcs[i/15].Key, TargetControlKey: tgts[i%15].Key, Reasoning: "test"})
	}
	var eb api.ErrorBody
	if code, _ := e.do("POST", api.PathBatchMappings, api.BatchMappingsRequest{Mappings: items}, &eb); code != 400 || eb.Field != "mappings" {
		t.Fatalf("batch of 150: %d %+v", code, eb)
	}
	var br api.BatchMappingsResponse
	if code, _ := e.do("POST", api.PathBatchMappings, api.BatchMappingsRequest{Mappings: items[:100]}, &br); code != 201 || br.Created != 100 || br.Failed != 0 {
		t.Fatalf("batch of 100: %d %+v", code, br.Failed)
	}
	key := br.Results[0].MappingKey
	if key != pipeline.MappingKey(items[0].SourceControlKey, items[0].TargetControlKey) {
		t.Fatalf("mapping key %q", key)
	}
	var m pipeline.Mapping
	if code, _ := e.do("GET", "/api/v1/mappings/"+url.PathEscape(key), nil, &m); code != 200 || m.Status != pipeline.MappingPendingReview || m.ARN != pipeline.MappingARN(key) {
		t.Fatalf("get: %d %+v", code, m)
	}
	score := 0.9
	if code, _ := e.do("PUT", "/api/v1/mappings/"+url.PathEscape(key), api.MappingUpdate{Status: "approved", RerankScore: &score}, &m); code != 200 || m.Status != pipeline.MappingApproved || *m.RerankScore != 0.9 {
		t.Fatalf("update: %d %+v", code, m)
	}
	if code, _ := e.do("PUT", "/api/v1/mappings/"+url.PathEscape(key)+"/archive", nil, &m); code != 200 || m.Status != pipeline.MappingArchived {
		t.Fatalf("archive: %d %+v", code, m)
	}
	var page api.MappingPage
	e.do("GET", "/api/v1/mappings?status=ARCHIVED", nil, &page)
	if len(page.Mappings) != 1 || page.Mappings[0].MappingKey != key {
		t.Fatalf("archived list: %+v", page)
	}
	// Paging over the source's mappings (15 made here plus the demo's).
	all, _ := store.MappingsForControl(ctx, items[0].SourceControlKey)
	var got []string
	tok := ""
	for range 100 {
		page = api.MappingPage{}
		if code, _ := e.do("GET", "/api/v1/mappings?limit=4&controlKey="+url.QueryEscape(items[0].SourceControlKey)+"&nextToken="+tok, nil, &page); code != 200 {
			t.Fatalf("list: %d", code)
		}
		for _, m := range page.Mappings {
			got = append(got, m.MappingKey)
		}
		if tok = page.NextToken; tok == "" {
			break
		}
	}
	if len(got) != len(all) || !sort.StringsAreSorted(got) {
		t.Fatalf("paged %d of %d: %v", len(got), len(all), got)
	}
	if code, _ := e.do("GET", "/api/v1/mappings?nextToken=!!", nil, &eb); code != 400 || eb.Field != "nextToken" {
		t.Errorf("bad token: %d %+v", code, eb)
	}
	page = api.MappingPage{}
	if code, _ := e.do("GET", "/api/v1/controls/"+url.PathEscape(items[0].SourceControlKey)+"/mappings", nil, &page); code != 200 || len(page.Mappings) != len(all) {
		t.Fatalf("control mappings: %d %d", code, len(page.Mappings))
	}
}

func TestReady(t *testing.T) {
	release := make(chan struct{})
	e := start(t, server.Config{Store: demoStore(t), Load: func(ctx context.Context) error { <-release; return nil }})
	if code, _ := e.do("GET", api.PathHealth, nil, nil); code != 200 {
		t.Fatalf("health: %d", code)
	}
	var h api.Health
	if code, _ := e.do("GET", api.PathReady, nil, &h); code != 503 || h.Status != "loading" {
		t.Fatalf("ready before load: %d %+v", code, h)
	}
	done := make(chan error)
	go func() { done <- e.srv.Load(context.Background()) }()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code, _ := e.do("GET", api.PathReady, nil, &h); code != 200 || h.Status != "ready" {
		t.Fatalf("ready after load: %d %+v", code, h)
	}
}

func TestTokenAndAddress(t *testing.T) {
	e := start(t, server.Config{Store: demoStore(t), Token: "s3cret"})
	for _, tc := range []struct {
		path, auth string
		code       int
	}{
		{api.PathHealth, "", 200}, {api.PathReady, "", 200},
		{api.PathMappings, "", 401}, {api.PathMappings, "Bearer wrong", 401}, {api.PathMappings, "s3cret", 401},
		{api.PathMappings, "Bearer s3cret", 200},
	} {
		req, _ := http.NewRequest("GET", e.ts.URL+tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		req.Header.Set("X-Request-Id", "req-42")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code || resp.Header.Get("X-Request-Id") != "req-42" {
			t.Errorf("%s %q: %d %q", tc.path, tc.auth, resp.StatusCode, resp.Header.Get("X-Request-Id"))
		}
	}
	req, _ := http.NewRequest("OPTIONS", e.ts.URL+api.PathMappings, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Headers") == "" {
		t.Errorf("preflight: %v %v", resp, err)
	}
	for addr, ok := range map[string]bool{"127.0.0.1:0": true, "[::1]:8080": true, "localhost:80": true, "0.0.0.0:8080": false, ":8080": false, "10.0.0.1:80": false} {
		if err := server.CheckAddr(addr, ""); (err == nil) != ok {
			t.Errorf("CheckAddr(%s): %v", addr, err)
		}
		if err := server.CheckAddr(addr, "t"); err != nil {
			t.Errorf("CheckAddr(%s, token): %v", addr, err)
		}
	}
	if err := server.New(server.Config{Addr: "0.0.0.0:0", Store: demoStore(t)}).Start(context.Background()); err == nil {
		t.Error("Start bound a non-loopback address without a token")
	}
}

func TestAccessLogHasNoToken(t *testing.T) {
	var buf syncBuffer
	e := start(t, server.Config{Store: demoStore(t), Token: "s3cret", Log: &buf})
	e.do("GET", api.PathMappings+"?limit=1", nil, nil)
	line := buf.String()
	if !strings.Contains(line, "GET /api/v1/mappings 200") || !strings.Contains(line, "request_id=") || strings.Contains(line, "s3cret") {
		t.Errorf("access log: %q", line)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestShutdownRequeues(t *testing.T) {
	store := demoStore(t)
	br := &BlockingRetriever{Entered: make(chan struct{}, 10), Release: make(chan struct{})}
	e := start(t, server.Config{Store: store, Workers: 1, QueueSize: 5, NewMapper: withRetriever(store, br)})
	first := e.submit(srcKey)
	<-br.Entered
	queued := []string{e.submit(srcKey).MappingID, e.submit(srcKey).MappingID}
	done := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond)
	close(br.Release) // the running job finishes within the grace period
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if j, _ := store.Job(ctx, first.MappingID); j.Status != pipeline.JobCompleted {
		t.Errorf("running job: %s", j.Status)
	}
	for _, id := range queued {
		if j, _ := store.Job(ctx, id); j.Status != pipeline.JobPending {
			t.Errorf("queued job %s: %s", id, j.Status)
		}
	}
	// A restart requeues them.
	e2 := start(t, server.Config{Store: store})
	for _, id := range queued {
		e2.wait(id, "COMPLETED")
	}
}

func TestShutdownGraceCutsRunningJobBackToPending(t *testing.T) {
	store := demoStore(t)
	br := &BlockingRetriever{Entered: make(chan struct{}, 10), Release: make(chan struct{})}
	e := start(t, server.Config{Store: store, Workers: 1, NewMapper: withRetriever(store, br)})
	acc := e.submit(srcKey)
	<-br.Entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
	if j, _ := store.Job(context.Background(), acc.MappingID); j.Status != pipeline.JobPending {
		t.Errorf("interrupted job: %s", j.Status)
	}
}

func randVecs(r *rand.Rand, n, dim int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, dim)
		var s float64
		for j := range v {
			v[j] = float32(r.NormFloat64())
			s += float64(v[j]) * float64(v[j])
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(s))
		}
		out[i] = v
	}
	return out
}

func TestRetrieveBruteForce(t *testing.T) {
	e := start(t, server.Config{Store: demoStore(t)})
	r := rand.New(rand.NewPCG(1, 2))
	targets := randVecs(r, 1000, 64)
	src := randVecs(r, 1, 64)[0]
	var resp api.RetrieveResponse
	if code, _ := e.do("POST", api.PathRetrieve, api.RetrieveRequest{SourceEmbedding: src, TargetEmbeddings: targets, TopK: 10}, &resp); code != 200 {
		t.Fatalf("retrieve: %d", code)
	}
	type hit struct {
		i int
		s float64
	}
	var all []hit
	for i, v := range targets {
		var d float64
		for j := range v {
			d += float64(v[j]) * float64(src[j])
		}
		all = append(all, hit{i, d})
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].s > all[b].s })
	if len(resp.Candidates) != 10 {
		t.Fatalf("%d candidates", len(resp.Candidates))
	}
	for i, c := range resp.Candidates {
		if c.ControlID != strconv.Itoa(all[i].i) || math.Abs(c.Similarity-all[i].s) > 1e-4 {
			t.Errorf("hit %d: %+v, want %d %.5f", i, c, all[i].i, all[i].s)
		}
	}
	// A ragged row is a 400 naming the field.
	targets[7] = targets[7][:63]
	var eb api.ErrorBody
	if code, _ := e.do("POST", api.PathRetrieve, api.RetrieveRequest{SourceEmbedding: src, TargetEmbeddings: targets, TopK: 10}, &eb); code != 400 || eb.Field != "target_embeddings" || !strings.Contains(eb.Error, "[7]") {
		t.Errorf("ragged: %d %+v", code, eb)
	}
	if code, _ := e.do("POST", api.PathRetrieve, api.RetrieveRequest{SourceEmbedding: src[:32], TargetEmbeddings: targets[:5], TopK: 1}, &eb); code != 400 || eb.Field != "target_embeddings" {
		t.Errorf("dim mismatch: %d %+v", code, eb)
	}
	// The slow path (other spacing, extra keys) agrees with the fast one.
	body := fmt.Sprintf(`{"top_k": 2, "source_embedding": [1, 0], "target_embeddings": [[0, 1], [1e0, 0], [0.6, 0.8]], "x": null}`)
	resp = api.RetrieveResponse{}
	if code, _ := e.do("POST", api.PathRetrieve, []byte(body), &resp); code != 200 || len(resp.Candidates) != 2 || resp.Candidates[0].ControlID != "1" || resp.Candidates[1].ControlID != "2" {
		t.Errorf("slow path: %d %+v", code, resp)
	}
}

func TestScienceWithoutModels(t *testing.T) {
	e := start(t, server.Config{Store: demoStore(t)})
	var eb api.ErrorBody
	if code, _ := e.do("POST", api.PathEmbed, api.EmbedRequest{Text: "x"}, &eb); code != 503 || !strings.Contains(eb.Error, "--model-dir") {
		t.Errorf("embed: %d %+v", code, eb)
	}
	var rr api.RerankResponse
	code, h := e.do("POST", api.PathRerank, api.RerankRequest{SourceText: "encrypt data at rest", Candidates: []api.RerankCandidate{
		{ControlID: "a", Text: "account management"}, {ControlID: "b", Text: "protection of information at rest with encryption"}}}, &rr)
	if code != 200 || h.Get(server.HeaderReranker) != "lexical" || rr.Rankings[0].ControlID != "b" || rr.Rankings[0].Score != 1 {
		t.Errorf("rerank: %d %v %+v", code, h, rr)
	}
}
