package shared_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	mapcmd "github.com/nexus-compliance/nexus/commands/map"
	"github.com/nexus-compliance/nexus/pipeline/server"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

type vecEmbedder struct{}

func (vecEmbedder) ModelVersion() string { return "len-v1" }

func (vecEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, 8)
		for j, r := range strings.ToLower(t) {
			v[(int(r)+j)%8]++
		}
		out[i] = v
	}
	return out, nil
}

type nop struct{}

func (nop) Write(b []byte) (int, error) { return len(b), nil }

// TestMapWithScienceEndpoint maps locally with retrieval and reranking on
// a `nexus serve` science service (deterministic bi-encoder).
func TestMapWithScienceEndpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "server.db")
	st, err := catshared.OpenLocal(ctx, func(k string) string {
		if k == local.EnvPath {
			return path
		}
		return ""
	}, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := server.New(server.Config{Addr: "127.0.0.1:0", Store: st.Store, Embedder: vecEmbedder{}, Log: nop{}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	if err := srv.Serve(sctx, ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = srv.Shutdown(context.Background()) })
	for i := 0; !srv.Ready(); i++ {
		if i > 500 {
			t.Fatal("server not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f, s := cmdtest.Factory(t, map[string]string{local.EnvPath: filepath.Join(t.TempDir(), "l.db"), apiclient.EnvAPIURL: "", "NEXUS_API_AUTH": "none"})
	f.Flags.Output = "json"
	cmd := mapcmd.NewCmdMap(f, nil)
	cmd.SetArgs([]string{"AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED", "-F", "NIST-SP-800-53#R5", "--mode", "local",
		"--science-endpoint", "http://" + ln.Addr().String(), "--top-k", "3"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err != nil {
		t.Fatalf("exit %d: %v\n%s", cmdutil.ExitCode(err), err, s.ErrOut.String())
	}
	if !strings.Contains(s.Out.String(), "COMPLETED") || !strings.Contains(s.Out.String(), "NIST-SP-800-53#R5#") {
		t.Fatalf("%s", s.Out.String())
	}
	// --retriever science without an endpoint is a usage error.
	f2, _ := cmdtest.Factory(t, map[string]string{local.EnvPath: filepath.Join(t.TempDir(), "l.db"), apiclient.EnvAPIURL: "", "SCIENCE_API_ENDPOINT": ""})
	cmd = mapcmd.NewCmdMap(f2, nil)
	cmd.SetArgs([]string{"AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED", "-F", "NIST-SP-800-53#R5", "--mode", "local", "--retriever", "science"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("want exit 2, got %v", err)
	}
}
