package reason_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/reason"
)

// The real server of these endpoints will be `nexus serve`; until it
// exists, fakeStrands is a hand-written stand-in that implements the seed's
// contract for /api/v1/reason and /api/v1/reason/batch. It decodes requests
// into its own copies of the seed's shapes, rejecting unknown fields, so a
// client that drifts from the contract fails here.
type fakeStrands struct {
	token      string // the bearer token every request must carry
	failTarget string // a target control id the batch endpoint fails

	mu         sync.Mutex
	calls      int
	batchSizes []int
	requests   []fakeReasonRequest
	// script answers the next calls instead of the contract, in order; a
	// nil step answers by the contract.
	script []func(w http.ResponseWriter, r *http.Request)
}

type fakeMapping struct {
	TargetControlID string  `json:"targetControlId"`
	TargetFramework string  `json:"targetFramework"`
	Text            string  `json:"text"`
	SimilarityScore float64 `json:"similarityScore"`
	RerankScore     float64 `json:"rerankScore"`
}

type fakeReasonRequest struct {
	SourceControlID string        `json:"sourceControlId"`
	SourceText      string        `json:"sourceText"`
	Mapping         *fakeMapping  `json:"mapping,omitempty"`
	Mappings        []fakeMapping `json:"mappings,omitempty"`
}

func newFakeStrands(t *testing.T, failTarget string) (*fakeStrands, *httptest.Server) {
	f := &fakeStrands{token: "s3cret-token", failTarget: failTarget}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// then scripts the next calls.
func (f *fakeStrands) then(steps ...func(http.ResponseWriter, *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = append(f.script, steps...)
}

func (f *fakeStrands) count() int { n, _, _ := f.seen(); return n }

// seen reports the calls made and the requests that reached the contract.
func (f *fakeStrands) seen() (calls int, reqs []fakeReasonRequest, batchSizes []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]fakeReasonRequest{}, f.requests...), append([]int{}, f.batchSizes...)
}

func (f *fakeStrands) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	var step func(http.ResponseWriter, *http.Request)
	if len(f.script) > 0 {
		step, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	if step != nil {
		step(w, r)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, `{"detail":"POST application/json only"}`, http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, `{"detail":"missing or wrong bearer token"}`, http.StatusUnauthorized)
		return
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req fakeReasonRequest
	if err := dec.Decode(&req); err != nil || req.SourceControlID == "" || req.SourceText == "" {
		http.Error(w, fmt.Sprintf(`{"detail":"bad request: %v"}`, err), http.StatusUnprocessableEntity)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	reasoning := func(m fakeMapping) string {
		return fmt.Sprintf("%s aligns with %s of %s: %s.", req.SourceControlID, m.TargetControlID, m.TargetFramework, m.Text)
	}
	switch r.URL.Path {
	case "/api/v1/reason":
		if req.Mapping == nil {
			http.Error(w, `{"detail":"mapping is required"}`, http.StatusUnprocessableEntity)
			return
		}
		writeJSON(w, map[string]any{
			"sourceControlId": req.SourceControlID, "targetControlId": req.Mapping.TargetControlID,
			"reasoning": reasoning(*req.Mapping), "status": "success",
		})
	case "/api/v1/reason/batch":
		if len(req.Mappings) == 0 || len(req.Mappings) > 20 {
			http.Error(w, `{"detail":"mappings: between 1 and 20 items"}`, http.StatusUnprocessableEntity)
			return
		}
		f.mu.Lock()
		f.batchSizes = append(f.batchSizes, len(req.Mappings))
		f.mu.Unlock()
		var results []map[string]any
		failed := 0
		for _, m := range req.Mappings {
			if m.TargetControlID == f.failTarget {
				failed++
				results = append(results, map[string]any{"sourceControlId": req.SourceControlID, "targetControlId": m.TargetControlID, "status": "error", "error": "agent timed out"})
				continue
			}
			results = append(results, map[string]any{"sourceControlId": req.SourceControlID, "targetControlId": m.TargetControlID, "reasoning": reasoning(m)})
		}
		// Answer out of order: the client must match by id, not position.
		results[0], results[len(results)-1] = results[len(results)-1], results[0]
		writeJSON(w, map[string]any{"results": results, "total": len(results), "successful": len(results) - failed, "failed": failed})
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// fastOpts keep backoff waits to milliseconds, so only a Retry-After the
// server sends makes a test wait.
func fastOpts(token string) reason.StrandsOptions {
	return reason.StrandsOptions{Token: token, Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, MaxAttempts: 3, Timeout: 5 * time.Second}
}

func newClient(t *testing.T, url string, opts reason.StrandsOptions) *reason.Strands {
	t.Helper()
	s, err := reason.NewStrands(url, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var src = pipeline.Source{
	Control: pipeline.Control{Key: "AWS.IAM#1.0#AWS-IAM-001", FrameworkKey: "AWS.IAM#1.0", ID: "AWS-IAM-001", Title: "IAM policies on groups"},
	Text:    "Ensure IAM policies are attached only to groups or roles",
}

func candidate(id string) pipeline.Candidate {
	return pipeline.Candidate{
		Target:     pipeline.Control{Key: "NIST-SP-800-53#R5#" + id, FrameworkKey: "NIST-SP-800-53#R5", ID: id, Title: "Access control policy", Description: "Develop and document an access control policy."},
		Similarity: 0.85, Rerank: 0.92,
	}
}

func TestReasonFakeStrandsServer(t *testing.T) {
	t.Parallel()
	f, srv := newFakeStrands(t, "")
	s := newClient(t, srv.URL+"/", fastOpts(f.token))

	got, err := s.Reason(context.Background(), src, candidate("AC-1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "AWS-IAM-001 aligns with AC-1 of NIST-SP-800-53: Access control policy. Develop and document an access control policy.."; got != want {
		t.Fatalf("reasoning %q, want %q", got, want)
	}
	want := fakeReasonRequest{SourceControlID: "AWS-IAM-001", SourceText: src.Text, Mapping: &fakeMapping{
		TargetControlID: "AC-1", TargetFramework: "NIST-SP-800-53", Text: "Access control policy. Develop and document an access control policy.",
		SimilarityScore: 0.85, RerankScore: 0.92,
	}}
	_, reqs, _ := f.seen()
	if r := reqs[0]; r.SourceControlID != want.SourceControlID || r.SourceText != want.SourceText || *r.Mapping != *want.Mapping {
		t.Fatalf("request %+v %+v, want %+v %+v", r, r.Mapping, want, want.Mapping)
	}

	// Without enriched text the source's title and statement are sent.
	bare := src
	bare.Text = ""
	_, err = s.Reason(context.Background(), bare, candidate("AC-1"))
	if _, reqs, _ = f.seen(); err != nil || reqs[1].SourceText != "IAM policies on groups." {
		t.Fatalf("bare source: %v, sent %q", err, reqs[1].SourceText)
	}
}

func TestReasonFakeStrandsServerRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("429 with Retry-After, then success", func(t *testing.T) {
		t.Parallel()
		f, srv := newFakeStrands(t, "")
		f.then(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"detail":"slow down"}`, http.StatusTooManyRequests)
		})
		var waits []time.Duration
		opts := fastOpts(f.token)
		opts.OnRetry = func(_ int, wait time.Duration, err error) { waits = append(waits, wait) }
		start := time.Now()
		got, err := newClient(t, srv.URL, opts).Reason(ctx, src, candidate("AC-2"))
		if err != nil || !strings.Contains(got, "AC-2") {
			t.Fatalf("Reason = %q, %v", got, err)
		}
		if el, calls := time.Since(start), f.count(); el < time.Second || len(waits) != 1 || waits[0] != time.Second || calls != 2 {
			t.Fatalf("waited %s (%v) over %d calls; want the server's 1 s", el, waits, calls)
		}
	})

	t.Run("500 until attempts run out", func(t *testing.T) {
		t.Parallel()
		f, srv := newFakeStrands(t, "")
		for range 3 {
			f.then(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, `{"detail":"reasoning agent crashed"}`, http.StatusInternalServerError)
			})
		}
		_, err := newClient(t, srv.URL, fastOpts(f.token)).Reason(ctx, src, candidate("AC-2"))
		var se *reason.ServiceError
		if !errors.As(err, &se) || se.StatusCode != 500 || se.Attempts != 3 || f.count() != 3 {
			t.Fatalf("err %v (%+v) after %d calls", err, se, f.count())
		}
		if want := "strands POST /api/v1/reason: 500 Internal Server Error: reasoning agent crashed (after 3 attempts)"; err.Error() != want {
			t.Fatalf("error %q, want %q", err, want)
		}
	})

	t.Run("dropped connection and stalled attempt are retried", func(t *testing.T) {
		t.Parallel()
		f, srv := newFakeStrands(t, "")
		f.then(
			func(w http.ResponseWriter, _ *http.Request) {
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
			},
			func(_ http.ResponseWriter, r *http.Request) {
				// The server notices the client hanging up only once the
				// body is read; the timer bounds the stall regardless.
				io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			},
		)
		opts := fastOpts(f.token)
		opts.Timeout = 200 * time.Millisecond
		var errs []string
		opts.OnRetry = func(_ int, _ time.Duration, err error) { errs = append(errs, err.Error()) }
		if _, err := newClient(t, srv.URL, opts).Reason(ctx, src, candidate("AC-2")); err != nil || f.count() != 3 {
			t.Fatalf("err %v after %d calls", err, f.count())
		}
		if len(errs) != 2 || !strings.Contains(errs[1], "no response within 200ms") {
			t.Fatalf("retry reports %q", errs)
		}
	})
}

func TestReasonFakeStrandsServerErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		step func(http.ResponseWriter, *http.Request)
		want string
	}{
		{"malformed JSON body", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"reasoning": "cut off`))
		}, `strands POST /api/v1/reason: the 200 OK response is not the JSON nexus expects (unexpected end of JSON input); it starts "{\"reasoning\": \"cut off"`},
		{"wrong JSON shape", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"reasoning": ["a", "b"]}`))
		}, "json: cannot unmarshal array"},
		{"status error in a 200", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"status": "error", "error": "model refused"}`))
		}, "strands POST /api/v1/reason: 200 OK: model refused"},
		{"validation error is not retried", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"detail":[{"loc":["body","mapping","text"],"msg":"field required"}]}`, http.StatusUnprocessableEntity)
		}, "strands POST /api/v1/reason: 422 Unprocessable Entity: text: field required"},
		{"empty reasoning", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"reasoning": "  ", "status": "success"}`))
		}, "no reasoning for AWS-IAM-001 → NIST-SP-800-53#R5#AC-3"},
		{"wrong token", nil, "401 Unauthorized: missing or wrong bearer token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, srv := newFakeStrands(t, "")
			opts := fastOpts(f.token)
			if tc.step != nil {
				f.then(tc.step)
			} else {
				opts.Token = "wrong-token"
			}
			_, err := newClient(t, srv.URL, opts).Reason(context.Background(), src, candidate("AC-3"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if n := f.count(); n != 1 {
				t.Fatalf("%d calls, want 1 (no retry)", n)
			}
			if strings.Contains(err.Error(), "token") && strings.Contains(err.Error(), opts.Token) {
				t.Fatalf("error leaks the token: %v", err)
			}
		})
	}
	if _, err := reason.NewStrands("strands.internal:8080", nil, reason.StrandsOptions{}); err == nil || !strings.Contains(err.Error(), "not an http(s) URL") {
		t.Fatalf("bad URL: %v", err)
	}
}

func TestReasonBatchFakeStrandsServer(t *testing.T) {
	t.Parallel()
	f, srv := newFakeStrands(t, "C-07")
	cands := make([]pipeline.Candidate, 45)
	for i := range cands {
		cands[i] = candidate(fmt.Sprintf("C-%02d", i))
	}
	res, err := newClient(t, srv.URL, fastOpts(f.token)).ReasonBatch(context.Background(), src, cands)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, sizes := f.seen(); fmt.Sprint(sizes) != "[20 20 5]" {
		t.Fatalf("batch sizes %v, want [20 20 5]", sizes)
	}
	if len(res) != 45 {
		t.Fatalf("%d results", len(res))
	}
	for i, r := range res {
		id := cands[i].Target.ID
		if r.TargetControlID != id {
			t.Fatalf("result %d is for %s, want %s", i, r.TargetControlID, id)
		}
		if id == "C-07" {
			if r.Err == nil || r.Err.Error() != "strands could not reason about C-07: agent timed out" || r.Reasoning != "" {
				t.Fatalf("failed item: %+v", r)
			}
			continue
		}
		if r.Err != nil || !strings.HasPrefix(r.Reasoning, "AWS-IAM-001 aligns with "+id+" ") {
			t.Fatalf("result %d: %+v", i, r)
		}
	}

	// A chunk that fails as a whole fails the batch, keeping what came
	// before it.
	f.then(nil, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"detail":"mappings: between 1 and 20 items"}`, http.StatusBadRequest)
	})
	res, err = newClient(t, srv.URL, fastOpts(f.token)).ReasonBatch(context.Background(), src, cands)
	if err == nil || !strings.Contains(err.Error(), "reasoning mappings 21–40 of 45: strands POST /api/v1/reason/batch: 400 Bad Request") || len(res) != 20 {
		t.Fatalf("failing chunk: %d results, %v", len(res), err)
	}
}
