package audit

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestAppendIsOneLinePerRecordEvenConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "nexus", "audit.jsonl")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			r := Record{Time: time.Unix(int64(i), 0), User: "alice", Environment: "prod", Action: "dlq.redrive", Result: "ok", Details: map[string]any{"moved": i}}
			if err := Append(path, r); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	n := 0
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d is not a record: %v", n, err)
		}
		n++
	}
	if n != 50 {
		t.Fatalf("%d records, want 50", n)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Fatalf("audit log mode %v", info.Mode())
	}
}

func TestLine(t *testing.T) {
	r := Record{Time: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), User: "alice", Environment: "prod", Action: "dlq.redrive", DryRun: true, Result: "ok", Details: map[string]any{"would_move": 3, "left": 0}}
	want := "audit: 2026-01-02T15:04:05Z alice env=prod dlq.redrive dry-run result=ok left=0 would_move=3"
	if got := r.Line(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestDefaultPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if got := DefaultPath(env(map[string]string{"NEXUS_AUDIT_LOG": "/a.jsonl"})); got != "/a.jsonl" {
		t.Fatal(got)
	}
	if got := DefaultPath(env(map[string]string{"XDG_STATE_HOME": "/s"})); got != "/s/nexus/audit.jsonl" {
		t.Fatal(got)
	}
}
