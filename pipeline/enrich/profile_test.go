package enrich

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nexus-compliance/nexus/pipeline"
)

// TestGenerateProfileFakeStrandsServer checks the request and response of
// /api/v1/profile/generate against a hand-written fake of the service (it
// cannot run here).
func TestGenerateProfileFakeStrandsServer(t *testing.T) {
	var got profileRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/profile/generate" || json.NewDecoder(r.Body).Decode(&got) != nil {
			http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"frameworkName": got.FrameworkName, "status": "success",
			"profile": map[string]any{"scope": "trust services", "objectives": []string{"security"}},
		})
	}))
	defer srv.Close()
	s, err := NewStrands(srv.URL, nil, StrandsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	controls := []pipeline.Control{
		{ID: "CC1.1", Title: "Control Environment", Description: "Integrity and ethical values"},
		{ID: "CC0.9", Title: "Old", Withdrawn: true},
	}
	for i := 0; i < 40; i++ {
		controls = append(controls, pipeline.Control{ID: "CC9.9", Title: "Filler"})
	}
	p, err := s.GenerateProfile(context.Background(), "SOC-2", controls)
	if err != nil {
		t.Fatal(err)
	}
	if p["scope"] != "trust services" || got.FrameworkName != "SOC-2" || len(got.SampleControls) != MaxProfileSamples || got.SampleControls[0].ShortID != "CC1.1" {
		t.Fatalf("profile %v, request %+v", p, got)
	}
	if _, err := s.GenerateProfile(context.Background(), "SOC-2", controls[1:2]); err == nil {
		t.Fatal("only withdrawn controls accepted")
	}
}
