package mapcmd

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/gpu/gputest"
	"github.com/nexus-compliance/nexus/pipeline/onnx"
	"github.com/nexus-compliance/nexus/pipeline/onnx/onnxtest"
	"github.com/nexus-compliance/nexus/pipeline/onnx/tinymodel"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

// runDefault runs `nexus map` with the hooks a real process gets.
func runDefault(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	f, s := cmdtest.Factory(t, vars)
	f.Flags.Output = "json"
	cmd := NewCmdMap(f, nil)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	return result{cmdutil.ExitCode(err), s.Out.String(), s.ErrOut.String(), err}
}

// TestMapWithONNXModels maps on the demo catalog with the tiny generated
// bi-encoder joining the fusion and the tiny cross-encoder reranking, on the
// real ONNX Runtime: the plumbing, not the quality, is under test.
func TestMapWithONNXModels(t *testing.T) {
	gputest.ORT(t)
	tok := onnxtest.MiniLMTokenizer(t)
	bi := onnxtest.ModelDir(t, tinymodel.Embedder, tok)
	ce := onnxtest.ModelDir(t, tinymodel.CrossEncoder, tok)
	vars := map[string]string{local.EnvPath: filepath.Join(t.TempDir(), "nexus.db"), "NEXUS_ENV": ""}
	r := runDefault(t, vars, apiCache, "--framework", nist, "--model-dir", bi, "--reranker-dir", ce, "--device", "cpu", "--top-k", "5")
	if r.code != 0 {
		t.Fatalf("exit %d: %v\n%s", r.code, r.err, r.errOut)
	}
	var resp struct {
		Status string
		Result struct {
			Mappings []struct {
				TargetControlID string
				RerankScore     float64
			}
		}
	}
	if err := json.Unmarshal([]byte(r.out), &resp); err != nil {
		t.Fatal(err, r.out)
	}
	if resp.Status != "COMPLETED" || len(resp.Result.Mappings) == 0 || len(resp.Result.Mappings) > 5 {
		t.Fatalf("%+v", resp)
	}
	for i, m := range resp.Result.Mappings {
		if m.RerankScore <= 0 || m.RerankScore >= 1 || i > 0 && m.RerankScore > resp.Result.Mappings[i-1].RerankScore {
			t.Fatalf("cross-encoder scores not sigmoid-ordered: %+v", resp.Result.Mappings)
		}
	}

	// The seed's flow: cosine top-k over embeddings cached in the store.
	r = runDefault(t, vars, apiCache, "--framework", nist, "--model-dir", bi, "--retriever", "embedding", "--top-k", "5", "--threshold", "0.01")
	if r.code != 0 || !strings.Contains(r.out, `"status": "COMPLETED"`) {
		t.Fatalf("embedding retriever: exit %d %v\n%s", r.code, r.err, r.errOut)
	}
	st, err := local.Open(vars[local.EnvPath], local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctls, err := st.Controls(context.Background(), nist)
	if err != nil || len(ctls) == 0 {
		t.Fatal(err)
	}
	cached := 0
	for _, c := range ctls {
		if _, ok, _ := st.Embedding(context.Background(), c.Key, onnxVersion(t, bi)); ok {
			cached++
		}
	}
	_ = st.Close()
	if cached == 0 {
		t.Fatal("the embedding retriever cached no target vector")
	}
	r = runDefault(t, vars, apiCache, "--framework", nist, "--retriever", "embedding")
	if r.code != cmdutil.ExitUsage {
		t.Fatalf("--retriever embedding without --model-dir: exit %d", r.code)
	}

	r = runDefault(t, vars, apiCache, "--framework", nist, "--model-dir", bi, "--device", "tpu")
	if r.code != cmdutil.ExitUsage {
		t.Fatalf("bad --device: exit %d %v", r.code, r.err)
	}
}

func onnxVersion(t *testing.T, dir string) string {
	v, err := onnx.ModelVersion(dir)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMapReasoningFakeStrandsServer sends each mapping's reasoning to a
// hand-written fake of /api/v1/reason (the Strands service cannot run here).
func TestMapReasoningFakeStrandsServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			SourceControlID string `json:"sourceControlId"`
			Mapping         struct {
				TargetControlID string `json:"targetControlId"`
			} `json:"mapping"`
		}
		if r.URL.Path != "/api/v1/reason" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"sourceControlId": req.SourceControlID, "targetControlId": req.Mapping.TargetControlID,
			"reasoning": "strands says " + req.Mapping.TargetControlID, "status": "success",
		})
	}))
	defer srv.Close()
	vars := map[string]string{local.EnvPath: filepath.Join(t.TempDir(), "nexus.db"), "NEXUS_ENV": "", "STRANDS_SERVICE_ENDPOINT": srv.URL}
	r := runDefault(t, vars, apiCache, "--framework", nist, "--reasoning", "strands")
	if r.code != 0 || !strings.Contains(r.out, `"reasoning": "strands says SC-28"`) {
		t.Fatalf("exit %d %v: %s", r.code, r.err, r.out)
	}
	delete(vars, "STRANDS_SERVICE_ENDPOINT")
	r = runDefault(t, vars, apiCache, "--framework", nist, "--reasoning", "strands")
	if r.code != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), "--strands-endpoint") {
		t.Fatalf("no endpoint: exit %d %v", r.code, r.err)
	}
	r = runDefault(t, vars, apiCache, "--framework", nist, "--reasoning", "bedrock")
	if r.code != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), "--bedrock-model") {
		t.Fatalf("bedrock without model: exit %d %v", r.code, r.err)
	}
}
