package importcmd_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/commands/mapping/get"
	"github.com/nexus-compliance/nexus/commands/mapping/importcmd"
	"github.com/nexus-compliance/nexus/commands/mapping/list"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/server"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

const src = "AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED"

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
	srv := server.New(server.Config{Addr: "127.0.0.1:0", Store: st.Store, Log: nopWriter{}})
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

type nopWriter struct{}

func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }

type result struct {
	code        int
	out, errOut string
	err         error
}

func run(t *testing.T, newCmd func(*cmdutil.Factory) *cobra.Command, args ...string) result {
	t.Helper()
	f, s := cmdtest.Factory(t, map[string]string{local.EnvPath: filepath.Join(t.TempDir(), "x.db"), apiclient.EnvAPIURL: "", "NEXUS_API_AUTH": "none"})
	cmd := newCmd(f)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return result{cmdutil.ExitCode(err), s.Out.String(), s.ErrOut.String(), err}
}

func importCmd(f *cmdutil.Factory) *cobra.Command { return importcmd.NewCmd(f, nil) }
func listCmd(f *cmdutil.Factory) *cobra.Command   { return list.NewCmd(f, nil) }
func getCmd(f *cmdutil.Factory) *cobra.Command    { return get.NewCmd(f, nil) }

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func targets(t *testing.T, st pipeline.Store) []string {
	t.Helper()
	cs, err := st.Controls(context.Background(), "NIST-SP-800-53#R5")
	if err != nil || len(cs) < 4 {
		t.Fatalf("%d controls: %v", len(cs), err)
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Key
	}
	return out
}

// count is the imported mappings of src: PENDING_REVIEW (the demo catalog
// seeds APPROVED ones).
func count(t *testing.T, st pipeline.Store) int {
	t.Helper()
	ms, err := st.MappingsForControl(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		if m.Status == pipeline.MappingPendingReview {
			n++
		}
	}
	return n
}

func TestImportCSVThenGetAndList(t *testing.T) {
	url, st := startServer(t)
	tg := targets(t, st)
	csv := "source_control_key,target_control_key,similarity_score,rerank_score,reasoning\n" +
		src + "," + tg[0] + ",0.9,0.8,encrypted at rest\n" +
		src + "," + tg[1] + ",,0.5,\n" +
		src + "," + tg[2] + ",0.1,,\"weak, but related\"\n"
	r := run(t, importCmd, write(t, "m.csv", csv), "--api-url", url)
	if r.code != 0 || strings.Count(r.out, "CREATED") != 3 || !strings.Contains(r.errOut, "Created 3 of 3") {
		t.Fatalf("import: %d %v\n%s\n%s", r.code, r.err, r.out, r.errOut)
	}
	g := run(t, getCmd, src, tg[0], "--api-url", url)
	if g.code != 0 || !strings.Contains(g.out, "encrypted at rest") {
		t.Fatalf("get: %v %s", g.err, g.out)
	}
	l := run(t, listCmd, "--control", src, "--api-url", url, "--limit", "2", "--page-size", "1")
	if l.code != 0 || strings.Count(l.out, "NIST-SP-800-53#R5#") != 2 || !strings.Contains(l.errOut, "Showing the first 2") {
		t.Fatalf("list: %v\n%s\n%s", l.err, l.out, l.errOut)
	}
	l = run(t, listCmd, "--control", src, "--api-url", url, "--limit", "0", "--page-size", "1")
	if l.code != 0 || strings.Count(l.out, "PENDING_REVIEW") != 3 {
		t.Fatalf("list all: %v\n%s", l.err, l.out)
	}
	// Importing the same rows again: the server's per-item outcome decides,
	// and any failure exits 3.
	again := run(t, importCmd, write(t, "m.csv", csv), "--api-url", url)
	if again.code != 0 && again.code != cmdutil.ExitProblems {
		t.Fatalf("re-import: %d %v", again.code, again.err)
	}
}

func TestImportBadRowsSendsNothing(t *testing.T) {
	url, st := startServer(t)
	tg := targets(t, st)
	csv := "source_control_key,target_control_key,similarity_score,rerank_score,reasoning\n" +
		src + "," + tg[0] + ",0.9,0.8,ok\n" +
		"not a key," + tg[1] + ",0.5,0.5,\n" +
		src + "," + tg[2] + ",0.5,1.5,\n" +
		src + "," + tg[3] + ",x,,\n"
	r := run(t, importCmd, write(t, "bad.csv", csv), "--api-url", url)
	msg := cmdutil.Describe(r.err)
	if r.code != cmdutil.ExitUsage || !strings.Contains(msg, "line 3:") || !strings.Contains(msg, "line 4:") || !strings.Contains(msg, "line 5:") || strings.Contains(msg, "line 2:") {
		t.Fatalf("exit %d: %s", r.code, msg)
	}
	if n := count(t, st); n != 0 {
		t.Fatalf("%d mappings created", n)
	}
}

func TestImportJSONAndDryRun(t *testing.T) {
	url, st := startServer(t)
	tg := targets(t, st)
	body := "{\"mappings\": [\n  {\"source_control_key\": \"" + src + "\", \"target_control_key\": \"" + tg[0] + "\", \"similarity_score\": 0.7},\n" +
		"  {\"source_control_key\": \"" + src + "\", \"target_control_key\": \"" + tg[1] + "\", \"rerank_score\": null, \"reasoning\": \"r\"}\n]}\n"
	p := write(t, "m.data", body) // sniffed as JSON
	dry := run(t, importCmd, p, "--api-url", url, "--dry-run")
	if dry.code != 0 || !strings.Contains(dry.out, tg[1]) || !strings.Contains(dry.errOut, "nothing was sent") || count(t, st) != 0 {
		t.Fatalf("dry run: %v %s %s", dry.err, dry.out, dry.errOut)
	}
	r := run(t, importCmd, p, "--api-url", url)
	if r.code != 0 || count(t, st) != 2 || strings.Count(r.out, "CREATED") != 2 {
		t.Fatalf("json import: %d %v %s %s", r.code, r.err, r.out, r.errOut)
	}
	bad := write(t, "bad.json", "[\n{\"source_control_key\": \""+src+"\"},\n{\"source_control_key\": \""+src+"\", \"target_control_key\": \""+tg[2]+"\", \"extra\": 1}\n]")
	b := run(t, importCmd, bad, "--api-url", url)
	if msg := cmdutil.Describe(b.err); b.code != cmdutil.ExitUsage || !strings.Contains(msg, "line 2:") || !strings.Contains(msg, "line 3:") {
		t.Fatalf("bad json: %d %s", b.code, msg)
	}
}

func TestNoAPIURLIsUsage(t *testing.T) {
	p := write(t, "m.csv", "source_control_key,target_control_key\n"+src+",NIST-SP-800-53#R5#SC-28\n")
	if r := run(t, importCmd, p); r.code != cmdutil.ExitUsage {
		t.Fatalf("exit %d %v", r.code, r.err)
	}
}
