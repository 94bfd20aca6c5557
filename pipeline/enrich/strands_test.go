package enrich_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/enrich"
)

// The real server of /api/v1/enrich will be `nexus serve`; until it exists,
// fakeStrands is a hand-written stand-in implementing the seed's contract.
// It decodes requests into its own copy of the seed's shape, rejecting
// unknown fields, so a client that drifts from the contract fails here.
type fakeStrands struct {
	mu       sync.Mutex
	requests []fakeEnrichRequest
	// script answers the next calls instead of the contract, in order.
	script []func(http.ResponseWriter, *http.Request)
}

type fakeEnrichRequest struct {
	Metadata struct {
		FrameworkName    string `json:"frameworkName"`
		FrameworkVersion string `json:"frameworkVersion"`
	} `json:"metadata"`
	Control struct {
		ShortID     string `json:"shortId"`
		Title       string `json:"title"`
		Description string `json:"description"`
	} `json:"control"`
	FrameworkProfile map[string]any `json:"frameworkProfile,omitempty"`
}

func (f *fakeStrands) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	var step func(http.ResponseWriter, *http.Request)
	if len(f.script) > 0 {
		step, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	if step != nil {
		step(w, r)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/enrich" {
		http.NotFound(w, r)
		return
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req fakeEnrichRequest
	if err := dec.Decode(&req); err != nil || req.Control.ShortID == "" || req.Metadata.FrameworkName == "" {
		http.Error(w, `{"detail":"invalid enrichment request"}`, http.StatusUnprocessableEntity)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"controlId": req.Control.ShortID,
		"enrichedInterpretation": map[string]any{
			"enrichedText":           "  " + req.Control.Title + ": organisation-wide access policy enforced with IAM.  ",
			"securityObjective":      "Least privilege",
			"awsServices":            []string{"IAM", "AWS Organizations"},
			"validationRequirements": []string{"policy documented"},
		},
		"agentOutputs": map[string]any{"agent1": map[string]any{"classification": "Technical"}},
		"status":       "success",
	})
}

func newFakeStrands(t *testing.T) (*fakeStrands, *httptest.Server) {
	f := &fakeStrands{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

var ac1 = pipeline.Control{
	Key: "NIST-SP-800-53#R5#AC-1", FrameworkKey: "NIST-SP-800-53#R5", ID: "AC-1",
	Title: "Access Control Policy", Description: "The organization develops, documents and disseminates an access control policy.",
}

func TestEnrichFakeStrandsServer(t *testing.T) {
	t.Parallel()
	f, srv := newFakeStrands(t)
	s, err := enrich.NewStrands(srv.URL, nil, enrich.StrandsOptions{Backoff: time.Millisecond, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	s.Profiles = func(fw string) map[string]any { return map[string]any{"scope": "federal systems of " + fw} }

	e, err := s.Enrich(context.Background(), ac1)
	if err != nil {
		t.Fatal(err)
	}
	if e.ControlKey != ac1.Key || e.OriginalText != ac1.Description || e.Version != "v1" ||
		e.EnrichedText != "Access Control Policy: organisation-wide access policy enforced with IAM." {
		t.Fatalf("enrichment %+v", e)
	}
	if _, err := time.Parse(time.RFC3339, e.CreatedAt); err != nil {
		t.Fatalf("created_at %q: %v", e.CreatedAt, err)
	}
	interp, _ := e.Data["enrichedInterpretation"].(map[string]any)
	agents, _ := e.Data["agentOutputs"].(map[string]any)
	if interp["securityObjective"] != "Least privilege" || !reflect.DeepEqual(interp["awsServices"], []any{"IAM", "AWS Organizations"}) || agents["agent1"] == nil {
		t.Fatalf("data %+v", e.Data)
	}

	f.mu.Lock()
	req := f.requests[0]
	f.mu.Unlock()
	if req.Metadata.FrameworkName != "NIST-SP-800-53" || req.Metadata.FrameworkVersion != "R5" ||
		req.Control.ShortID != "AC-1" || req.Control.Title != ac1.Title || req.Control.Description != ac1.Description ||
		req.FrameworkProfile["scope"] != "federal systems of NIST-SP-800-53#R5" {
		t.Fatalf("request %+v", req)
	}
}

func TestEnrichFakeStrandsServerErrors(t *testing.T) {
	t.Parallel()
	f, srv := newFakeStrands(t)
	s, err := enrich.NewStrands(srv.URL, nil, enrich.StrandsOptions{Backoff: time.Millisecond, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.script = []func(http.ResponseWriter, *http.Request){
		// An answer without the enriched text.
		func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"controlId":"AC-1","enrichedInterpretation":{},"status":"success"}`))
		},
		// A service that stays unavailable.
		func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"message":"agents warming up"}`, http.StatusServiceUnavailable)
		},
		func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"message":"agents warming up"}`, http.StatusServiceUnavailable)
		},
	}
	f.mu.Unlock()
	if _, err := s.Enrich(context.Background(), ac1); err == nil || err.Error() != "enriching NIST-SP-800-53#R5#AC-1: strands POST /api/v1/enrich answered without enrichedInterpretation.enrichedText" {
		t.Fatalf("no text: %v", err)
	}
	_, err = s.Enrich(context.Background(), ac1)
	if want := "enriching NIST-SP-800-53#R5#AC-1: strands POST /api/v1/enrich: 503 Service Unavailable: agents warming up (after 2 attempts)"; err == nil || err.Error() != want {
		t.Fatalf("unavailable: %v", err)
	}
	var se *enrich.ServiceError
	if !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("not a ServiceError: %#v", err)
	}
}
