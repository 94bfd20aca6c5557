package list

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

func TestListLocal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nexus.db")
	s, err := local.Open(path, local.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	statuses := []pipeline.JobStatus{pipeline.JobPending, "IN_PROGRESS", pipeline.JobCompleted, pipeline.JobFailed}
	for i := range 12 {
		control := controlA
		if i%2 == 1 {
			control = controlB
		}
		err := s.PutJob(context.Background(), pipeline.Job{
			JobID: fmt.Sprintf("job-%02d", i), Status: statuses[i%4], ControlKey: control, TargetFrameworkKey: "NIST-SP-800-53#R5",
			CreatedAt: now.Add(-time.Duration(i) * 10 * time.Minute).Format("2006-01-02T15:04:05.000Z"), TTL: now.Add(time.Hour).Unix(),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	run := func(output string, args ...string) (string, string) {
		t.Helper()
		f, st := cmdtest.Factory(t, map[string]string{local.EnvPath: path})
		f.Now = func() time.Time { return now }
		if output != "" {
			f.Flags.Output = output
		}
		cmd := NewCmd(f, nil)
		cmd.SetArgs(append(args, "--store", "local"))
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return st.Out.String(), st.ErrOut.String()
	}
	ids := func(out string) string {
		var s []string
		for _, j := range jobs(t, out) {
			s = append(s, strings.TrimPrefix(j.JobID, "job-"))
		}
		return strings.Join(s, ",")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "00,01,02,03,04,05,06,07,08,09,10,11"},
		{[]string{"--status", "running"}, "01,05,09"},
		{[]string{"--older-than", "75m"}, "08,09,10,11"},
		{[]string{"--control", controlB, "--status", "FAILED"}, "03,07,11"},
		{[]string{"--framework", "SOC2#2017"}, ""},
	} {
		out, _ := run("jsonl", c.args...)
		if got := ids(out); got != c.want {
			t.Errorf("%v: %s, want %s", c.args, got, c.want)
		}
	}
	out, errOut := run("", "-n", "2")
	if !strings.HasPrefix(out, "job-00\tPENDING\t"+controlA+"\tNIST-SP-800-53#R5\t0s\t") || strings.Count(out, "\n") != 2 ||
		!strings.Contains(errOut, "Showing the newest 2 jobs") {
		t.Fatalf("%q %q", out, errOut)
	}
}
