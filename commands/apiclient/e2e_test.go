package apiclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/commands/job/wait"
	mapcmd "github.com/nexus-compliance/nexus/commands/map"
	"github.com/nexus-compliance/nexus/commands/map/batch"
	mapshared "github.com/nexus-compliance/nexus/commands/map/shared"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
	"github.com/nexus-compliance/nexus/pipeline/server"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

const (
	awsFW = "AWS.ControlCatalog#1.0"
	nist  = "NIST-SP-800-53#R5"
	key   = "AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED"
)

// startServer runs the real `nexus serve` server on a loopback port over a
// temporary local store holding the demo catalog.
func startServer(t *testing.T) (string, pipeline.Store) {
	t.Helper()
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
	fl := mapshared.Flags{TopK: mapper.DefaultTopK, Reasoning: "template", Retriever: "fusion"}
	srv := server.New(server.Config{Addr: "127.0.0.1:0", Store: st.Store, NewMapper: func(ctx context.Context, fw string) (*mapper.Mapper, error) {
		f := fl
		f.Framework = fw
		return mapshared.NewMapper(ctx, mapshared.DefaultHooks(), st.Store, &f, fw, func(string) {}, nil)
	}})
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
	return "http://" + ln.Addr().String(), st.Store
}

type result struct {
	code        int
	out, errOut string
	err         error
}

func factory(t *testing.T, storePath string) (*cmdutil.Factory, *cmdtest.Streams) {
	return cmdtest.Factory(t, map[string]string{local.EnvPath: storePath, apiclient.EnvAPIURL: "", "NEXUS_API_AUTH": "none"})
}

func runMap(t *testing.T, storePath string, args ...string) result {
	t.Helper()
	f, s := factory(t, storePath)
	f.Flags.Output = "json"
	cmd := mapcmd.NewCmdMap(f, nil)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return result{cmdutil.ExitCode(err), s.Out.String(), s.ErrOut.String(), err}
}

func mappings(t *testing.T, out string) []mapshared.ResponseMapping {
	t.Helper()
	var c mapshared.Completed
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.Status != "COMPLETED" {
		t.Fatalf("not a COMPLETED response: %v\n%s", err, out)
	}
	return c.Result.Mappings
}

func TestRemoteEqualsLocalAndJobWait(t *testing.T) {
	url, _ := startServer(t)
	dir := t.TempDir()
	loc := runMap(t, filepath.Join(dir, "local.db"), key, "-F", nist, "--mode", "local")
	if loc.code != 0 {
		t.Fatalf("local: %v %s", loc.err, loc.errOut)
	}
	rem := runMap(t, filepath.Join(dir, "x.db"), key, "-F", nist, "--mode", "remote", "--api-url", url, "--poll-interval", "20ms")
	if rem.code != 0 {
		t.Fatalf("remote: %v %s", rem.err, rem.errOut)
	}
	lm, rm := mappings(t, loc.out), mappings(t, rem.out)
	same := len(lm) > 0 && len(lm) == len(rm)
	for i := 0; same && i < len(lm); i++ {
		a, b := lm[i], rm[i]
		// Scores agree to float rounding (the ranker sums in map order).
		same = a.TargetControlKey == b.TargetControlKey && a.TargetControlID == b.TargetControlID && a.Reasoning == b.Reasoning &&
			math.Abs(a.SimilarityScore-b.SimilarityScore) < 1e-9 && math.Abs(a.RerankScore-b.RerankScore) < 1e-9
	}
	if !same {
		t.Fatalf("remote mappings differ from local:\nlocal  %v\nremote %v", lm, rm)
	}

	// --no-wait, then job wait.
	nw := runMap(t, filepath.Join(dir, "x.db"), key, "-F", nist, "--mode", "auto", "--api-url", url, "--no-wait")
	var acc struct{ MappingID, Status string }
	if nw.code != 0 || json.Unmarshal([]byte(nw.out), &acc) != nil || acc.MappingID == "" {
		t.Fatalf("no-wait: %v %q", nw.err, nw.out)
	}
	f, s := factory(t, filepath.Join(dir, "x.db"))
	cmd := wait.NewCmd(f, nil)
	cmd.SetArgs([]string{acc.MappingID, "--api-url", url, "--poll-interval", "20ms"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err != nil || !strings.Contains(s.Out.String(), "COMPLETED") {
		t.Fatalf("job wait: %v %s", err, s.Out.String())
	}

	// Unknown control: 404 with suggestions → exit 5.
	nf := runMap(t, filepath.Join(dir, "x.db"), key+"X", "-F", nist, "--mode", "remote", "--api-url", url)
	if nf.code != 5 {
		t.Fatalf("unknown control: exit %d %v", nf.code, nf.err)
	}
}

func TestRemoteBatchResume(t *testing.T) {
	url, st := startServer(t)
	ctx := context.Background()
	// The demo catalog has 81 controls; a few more source controls make the
	// batch the 100 jobs the contract asks for.
	srcs, err := st.Controls(ctx, awsFW)
	if err != nil {
		t.Fatal(err)
	}
	var regional []pipeline.Control
	for _, c := range srcs[:19] {
		c.ID += "_REGIONAL"
		c.Key = pipeline.ControlKey(awsFW, c.ID)
		c.Title += " (every region)"
		regional = append(regional, c)
	}
	if err := st.PutControls(ctx, regional); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, pair := range [][2]string{{awsFW, nist}, {nist, awsFW}} {
		cs, err := st.Controls(ctx, pair[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			lines = append(lines, fmt.Sprintf(`{"control_key":%q,"target_framework_key":%q}`, c.Key, pair[1]))
		}
	}
	dir := t.TempDir()
	if len(lines) != 100 {
		t.Fatalf("%d batch lines, want 100", len(lines))
	}
	in, out := filepath.Join(dir, "in.jsonl"), filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runBatch := func(cancelAfter int, extra ...string) error {
		f, _ := factory(t, filepath.Join(dir, "x.db"))
		cmd := batch.NewCmd(f, func(o *batch.Options) error {
			if cancelAfter > 0 {
				ctx, cancel := context.WithCancel(o.Context)
				defer cancel()
				o.Context = ctx
				go func() {
					for ctx.Err() == nil {
						if b, _ := os.ReadFile(out); bytes.Count(b, []byte("\n")) >= cancelAfter {
							cancel()
							return
						}
						time.Sleep(5 * time.Millisecond)
					}
				}()
			}
			return batch.Run(o)
		})
		cmd.SetArgs(append([]string{in, "-F", nist, "--mode", "remote", "--api-url", url, "--concurrency", "8", "--poll-interval", "10ms", "--out", out}, extra...))
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		return cmd.Execute()
	}
	err = runBatch(len(lines) / 3)
	if cmdutil.ExitCode(err) != cmdutil.ExitInterrupted {
		t.Fatalf("first run: %v", err)
	}
	b, _ := os.ReadFile(out)
	first := bytes.Count(b, []byte("\n"))
	if first == 0 || first >= len(lines) {
		t.Fatalf("cancelled run wrote %d of %d lines", first, len(lines))
	}
	if err := runBatch(0, "--resume"); err != nil {
		t.Fatalf("resume: %v", err)
	}
	b, _ = os.ReadFile(out)
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct{ Status, ControlKey, TargetFrameworkKey string }
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Status != "COMPLETED" {
			t.Fatalf("line %q", l)
		}
		id := r.ControlKey + " " + r.TargetFrameworkKey
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
	if len(seen) != len(lines) {
		t.Fatalf("%d results for %d lines", len(seen), len(lines))
	}
}
