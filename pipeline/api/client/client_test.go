package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
	"github.com/nexus-compliance/nexus/pipeline/api/auth"
)

// These tests use httptest servers only to inject failures; the behaviour
// against the real `nexus serve` is tested elsewhere.

func fast(o Options) Options {
	o.Backoff, o.MaxBackoff = time.Millisecond, 5*time.Millisecond
	return o
}

func newClient(t *testing.T, h http.HandlerFunc, o Options) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, fast(o))
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func TestFailureInjection429StormWithRetryAfterThenSuccess(t *testing.T) {
	var calls atomic.Int32
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n <= 3 {
			ra := "0"
			if n == 1 {
				ra = "1" // honoured: the retry waits a second
			}
			w.Header().Set("Retry-After", ra)
			writeJSON(w, http.StatusTooManyRequests, api.ErrorBody{Error: "Too Many Requests"})
			return
		}
		writeJSON(w, http.StatusAccepted, api.Accepted{MappingID: "job-1", Status: "ACCEPTED"})
	}, Options{MaxAttempts: 5})
	start := time.Now()
	// POST /mappings may be retried on 429 + Retry-After: the gateway
	// refused it before the handler ran.
	acc, err := c.SubmitMapping(context.Background(), api.MappingRequest{ControlKey: "A#1#X", TargetFrameworkKey: "N#5"})
	if err != nil || acc.MappingID != "job-1" || acc.Status != "ACCEPTED" {
		t.Fatalf("got %+v, %v", acc, err)
	}
	if calls.Load() != 4 {
		t.Fatalf("%d calls, want 4", calls.Load())
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("took %s: Retry-After: 1 was not honoured", d)
	}
}

func TestFailureInjection500ExhaustsRetries(t *testing.T) {
	var calls atomic.Int32
	var debug bytes.Buffer
	var retries atomic.Int32
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("x-amzn-RequestId", "req-500")
		writeJSON(w, http.StatusInternalServerError, api.ErrorBody{Error: "DynamoDB is unavailable"})
	}, Options{MaxAttempts: 3, Debug: &debug, OnRetry: func(int, time.Duration, error) { retries.Add(1) }})
	_, err := c.JobStatus(context.Background(), "job-1")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err %T %v, want *Error", err, err)
	}
	if calls.Load() != 3 || retries.Load() != 2 || e.StatusCode != 500 || e.RequestID != "req-500" || e.Attempts != 3 || e.Body.Error != "DynamoDB is unavailable" {
		t.Fatalf("calls %d retries %d, err %+v", calls.Load(), retries.Load(), e)
	}
	want := "GET /api/v1/mappings/job-1: 500 Internal Server Error: DynamoDB is unavailable (request id req-500, after 3 attempts)"
	if err.Error() != want {
		t.Fatalf("err %q\nwant %q", err, want)
	}
	if got := strings.Count(debug.String(), "request-id=req-500"); got != 3 {
		t.Fatalf("debug log has %d attempt lines:\n%s", got, debug.String())
	}
}

func TestFailureInjectionSlowBodyTimeout(t *testing.T) {
	var calls atomic.Int32
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"status":`))
		w.(http.Flusher).Flush()
		select { // stall mid-body
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}, Options{Timeout: 100 * time.Millisecond, MaxAttempts: 2})
	start := time.Now()
	_, err := c.Health(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no response within 100ms") || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("err %v", err)
	}
	if calls.Load() != 2 || time.Since(start) > 3*time.Second {
		t.Fatalf("%d calls in %s", calls.Load(), time.Since(start))
	}
}

func TestFailureInjectionMalformedJSON(t *testing.T) {
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == api.PathHealth {
			w.Header().Set("X-Request-Id", "rid-7")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"status": "ok", `))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("<html><body>\n<h1>403 Forbidden</h1></body></html>"))
	}, Options{})
	_, err := c.Health(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not the JSON nexus expects") || !strings.Contains(err.Error(), `it starts "{\"status\": \"ok\","`) || !strings.Contains(err.Error(), "rid-7") {
		t.Fatalf("err %v", err)
	}
	_, err = c.GetMapping(context.Background(), "a|b")
	if !IsAuth(err) || !strings.Contains(err.Error(), "<h1>403 Forbidden</h1>") {
		t.Fatalf("err %v", err)
	}
}

func TestFailureInjectionSubmitNotRetriedAfterServerSawIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"500", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 500, api.ErrorBody{Error: "internal"})
		}},
		{"502", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(502) }},
		{"503-without-Retry-After", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // so a client hang-up cancels r.Context()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				tc.h(w, r)
			}, Options{MaxAttempts: 4, Timeout: 200 * time.Millisecond})
			_, err := c.SubmitMapping(context.Background(), api.MappingRequest{ControlKey: "A#1#X", TargetFrameworkKey: "N#5"})
			if err == nil || calls.Load() != 1 {
				t.Fatalf("%d calls, err %v; want 1 call and an error", calls.Load(), err)
			}
		})
	}
	// The same failures are retried for an idempotent GET.
	var calls atomic.Int32
	c, _ := newClient(t, func(w http.ResponseWriter, _ *http.Request) { calls.Add(1); w.WriteHeader(502) }, Options{MaxAttempts: 3})
	if _, err := c.JobStatus(context.Background(), "j"); err == nil || calls.Load() != 3 {
		t.Fatalf("GET: %d calls, err %v", calls.Load(), err)
	}
}

func TestFailureInjectionSubmitRetriedWhenConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens: the request provably never arrives
	var retries atomic.Int32
	c, err := New(url, fast(Options{MaxAttempts: 3, OnRetry: func(int, time.Duration, error) { retries.Add(1) }}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SubmitMapping(context.Background(), api.MappingRequest{ControlKey: "A#1#X", TargetFrameworkKey: "N#5"})
	if err == nil || retries.Load() != 2 || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("%d retries, err %v", retries.Load(), err)
	}
}

func TestFailureInjectionBatchChunkingWithAFailingChunk(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		var req api.BatchMappingsRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.URL.Path != api.PathBatchMappings {
			t.Errorf("bad request %s: %v", r.URL.Path, err)
		}
		mu.Lock()
		sizes = append(sizes, len(req.Mappings))
		n := len(sizes)
		mu.Unlock()
		if n == 2 {
			w.Header().Set("x-amz-apigw-id", "gw-2")
			writeJSON(w, 500, api.ErrorBody{Error: "chunk exploded"})
			return
		}
		var resp api.BatchMappingsResponse
		for i, m := range req.Mappings {
			if m.SourceControlKey == "bad" {
				resp.Failed++
				resp.Results = append(resp.Results, api.BatchItemResult{Index: i, Status: "FAILED", Error: "invalid source"})
				continue
			}
			resp.Created++
			resp.Results = append(resp.Results, api.BatchItemResult{Index: i, Status: "CREATED", MappingKey: pipeline.MappingKey(m.SourceControlKey, m.TargetControlKey)})
		}
		writeJSON(w, 200, resp)
	}, Options{MaxAttempts: 3})
	items := make([]api.MappingCreateItem, 250)
	for i := range items {
		items[i] = api.MappingCreateItem{SourceControlKey: fmt.Sprintf("A#1#C%d", i), TargetControlKey: "N#5#AC-1"}
	}
	items[210].SourceControlKey = "bad"
	resp, err := c.BatchCreateMappings(context.Background(), items)
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Fatalf("chunks %v, want [100 100 50] (a failed chunk is not resent)", sizes)
	}
	if err == nil || !strings.Contains(err.Error(), "batch items 100-199") || !strings.Contains(err.Error(), "chunk exploded") || !strings.Contains(err.Error(), "gw-2") {
		t.Fatalf("err %v", err)
	}
	if resp.Created != 149 || resp.Failed != 101 || len(resp.Results) != 250 {
		t.Fatalf("created %d failed %d results %d", resp.Created, resp.Failed, len(resp.Results))
	}
	seen := map[int]api.BatchItemResult{}
	for _, r := range resp.Results {
		seen[r.Index] = r
	}
	for i := range items {
		r, ok := seen[i]
		wantFailed := (i >= 100 && i < 200) || i == 210
		switch {
		case !ok:
			t.Fatalf("item %d has no result", i)
		case wantFailed != (r.Status == "FAILED"):
			t.Fatalf("item %d: %+v", i, r)
		case r.Status == "CREATED" && r.MappingKey != pipeline.MappingKey(items[i].SourceControlKey, items[i].TargetControlKey):
			t.Fatalf("item %d: key %q", i, r.MappingKey)
		}
	}
}

func TestFailureInjectionKeyEscapingRoundTrip(t *testing.T) {
	key := pipeline.MappingKey("AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED", "NIST-SP-800-53#R5#AC-1")
	var paths []string
	var mu sync.Mutex
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if !strings.Contains(r.URL.EscapedPath(), "%23") || !strings.Contains(r.URL.EscapedPath(), "%7C") || r.URL.RawQuery != "" {
			t.Errorf("path not escaped: %s", r.RequestURI)
		}
		k := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, api.PathMappings+"/"), "/archive")
		writeJSON(w, 200, pipeline.Mapping{MappingKey: k})
	}, Options{})
	ctx := context.Background()
	m1, err1 := c.GetMapping(ctx, key)
	m2, err2 := c.UpdateMapping(ctx, key, api.MappingUpdate{Status: pipeline.MappingApproved})
	m3, err3 := c.ArchiveMapping(ctx, key)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	for _, m := range []pipeline.Mapping{m1, m2, m3} {
		if m.MappingKey != key {
			t.Fatalf("round trip gave %q, want %q", m.MappingKey, key)
		}
	}
	want := []string{"GET /api/v1/mappings/" + key, "PUT /api/v1/mappings/" + key, "PUT /api/v1/mappings/" + key + "/archive"}
	if fmt.Sprint(paths) != fmt.Sprint(want) {
		t.Fatalf("paths %q\nwant %q", paths, want)
	}
}

func TestFailureInjectionErrorMessages(t *testing.T) {
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			writeJSON(w, 400, api.ErrorBody{Error: "must match {framework}#{version}#{controlId}", Field: "control_key"})
		case strings.HasPrefix(r.URL.Path, "/api/v1/controls/"):
			writeJSON(w, 404, api.ErrorBody{Error: "Control not found", Resource: "Control", Identifier: "AWS#1#X", Suggestions: []string{"AWS#1#Y", "AWS#1#Z"}})
		case r.URL.Path == api.PathMappings:
			if r.URL.Query().Get("controlKey") != "A#1#X" || r.URL.Query().Get("limit") != "5" || r.URL.Query().Get("nextToken") != "tok" || r.URL.Query().Get("status") != "APPROVED" {
				t.Errorf("query %s", r.URL.RawQuery)
			}
			writeJSON(w, 200, api.MappingPage{Mappings: []pipeline.Mapping{{MappingKey: "k"}}, NextToken: "t2"})
		default:
			writeJSON(w, 404, map[string]string{"error": "nope"})
		}
	}, Options{})
	ctx := context.Background()
	_, err := c.SubmitMapping(ctx, api.MappingRequest{ControlKey: "bad"})
	if err == nil || err.Error() != "invalid control_key: must match {framework}#{version}#{controlId}" {
		t.Fatalf("400: %v", err)
	}
	_, err = c.ControlMappings(ctx, "AWS#1#X")
	if !IsNotFound(err) || err.Error() != "Control AWS#1#X not found; did you mean: AWS#1#Y, AWS#1#Z?" {
		t.Fatalf("404: %v", err)
	}
	_, err = c.JobStatus(ctx, "job-9")
	if !IsNotFound(err) || err.Error() != "mapping job job-9 not found" || IsAuth(err) {
		t.Fatalf("404 without resource: %v", err)
	}
	page, err := c.ListMappings(ctx, api.ListOptions{ControlKey: "A#1#X", Status: pipeline.MappingApproved, Limit: 5, NextToken: "tok"})
	if err != nil || len(page.Mappings) != 1 || page.NextToken != "t2" {
		t.Fatalf("list: %+v %v", page, err)
	}
}

func TestFailureInjectionReadyNotRetried(t *testing.T) {
	var calls atomic.Int32
	c, _ := newClient(t, func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		writeJSON(w, 503, api.Health{Status: "loading", Detail: "model loading"})
	}, Options{})
	h, err := c.Ready(context.Background())
	if err == nil || h.Status != "loading" || calls.Load() != 1 {
		t.Fatalf("%+v %v after %d calls", h, err, calls.Load())
	}
}

func TestFailureInjectionTokenRedaction(t *testing.T) {
	const secret = "s3cr3t-T0KEN-abcdef"
	var debug bytes.Buffer
	var sawAuth atomic.Bool
	a := auth.Bearer(secret)
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		sawAuth.Store(r.Header.Get("Authorization") == "Bearer "+secret)
		if r.Header.Get("User-Agent") != "nexus/1.2.3" {
			t.Errorf("user agent %q", r.Header.Get("User-Agent"))
		}
		writeJSON(w, 401, api.ErrorBody{Error: "Unauthorized"})
	}, Options{Authorizer: a, Debug: &debug, UserAgent: "nexus/1.2.3"})
	_, err := c.ListMappings(context.Background(), api.ListOptions{NextToken: "paging-token-xyz"})
	if !IsAuth(err) || !sawAuth.Load() {
		t.Fatalf("err %v, server saw the token: %v", err, sawAuth.Load())
	}
	all := err.Error() + debug.String() + fmt.Sprintf("%v %+v %#v %s", a, a, a, a) + fmt.Sprintf("%+v %#v", c, c)
	if strings.Contains(all, secret) || strings.Contains(debug.String(), "paging-token-xyz") {
		t.Fatalf("a secret leaked:\n%s", all)
	}
	if !strings.Contains(debug.String(), "GET /api/v1/mappings attempt=1") {
		t.Fatalf("debug log: %q", debug.String())
	}
}

func TestFailureInjectionTokenCommandRefreshAfter401(t *testing.T) {
	f := t.TempDir() + "/n"
	tc := auth.TokenCommand(fmt.Sprintf(`n=$(cat %[1]q 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]q; echo tok-$n`, f))
	var calls atomic.Int32
	var debug bytes.Buffer
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer tok-2" { // tok-1 has expired
			writeJSON(w, 401, api.ErrorBody{Error: "token expired"})
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		writeJSON(w, 202, api.Accepted{MappingID: "job-1", Status: "ACCEPTED"})
	}, Options{Authorizer: tc, MaxAttempts: 1, Debug: &debug})
	ctx := context.Background()
	// Even a one-attempt, non-idempotent submission is repeated once after
	// a 401: the server did not act on it.
	for range 2 {
		if acc, err := c.SubmitMapping(ctx, api.MappingRequest{ControlKey: "A#1#X", TargetFrameworkKey: "N#5"}); err != nil || acc.MappingID != "job-1" {
			t.Fatalf("%+v %v", acc, err)
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 401 + 2 successes", calls.Load())
	}
	if tok, _ := tc.Token(ctx); tok != "tok-2" || strings.Contains(debug.String(), "tok-") {
		t.Fatalf("token %q (the command ran more than twice?), debug %q", tok, debug.String())
	}
	// A second 401 after the refresh is the caller's auth failure.
	c2, _ := newClient(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 401, api.ErrorBody{Error: "no"}) }, Options{Authorizer: tc})
	if _, err := c2.Health(ctx); !IsAuth(err) || strings.Contains(err.Error(), "tok-") {
		t.Fatalf("err %v", err)
	}
}
