// Package audit records every change nexus makes to a deployment: one JSON
// line per action (who, what, where, when, with which result) appended to a
// local log, so an on-call engineer can answer "what did we touch?" later.
package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Record is one audited action.
type Record struct {
	Time        time.Time      `json:"time"`
	User        string         `json:"user"`
	Identity    string         `json:"identity,omitempty"`
	Environment string         `json:"environment"`
	Action      string         `json:"action"`
	Params      map[string]any `json:"params,omitempty"`
	DryRun      bool           `json:"dry_run"`
	Result      string         `json:"result"`
	Details     map[string]any `json:"details,omitempty"`
}

// DefaultPath is $NEXUS_AUDIT_LOG, else $XDG_STATE_HOME/nexus/audit.jsonl,
// else ~/.local/state/nexus/audit.jsonl.
func DefaultPath(getenv func(string) string) string {
	if p := getenv("NEXUS_AUDIT_LOG"); p != "" {
		return p
	}
	dir := getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "nexus", "audit.jsonl")
}

// Append writes r as one JSON line. O_APPEND keeps concurrent writers from
// interleaving within a line.
func Append(path string, r Record) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if _, err := fh.Write(append(b, '\n')); err != nil {
		fh.Close()
		return fmt.Errorf("audit log: %w", err)
	}
	return fh.Close()
}

// Line is the one-line human form printed on stderr:
//
//	audit: 2026-01-02T15:04:05Z alice env=prod dlq.redrive result=ok moved=25 failed=0
func (r Record) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "audit: %s %s env=%s %s", r.Time.UTC().Format(time.RFC3339), r.User, r.Environment, r.Action)
	if r.DryRun {
		b.WriteString(" dry-run")
	}
	fmt.Fprintf(&b, " result=%s", r.Result)
	keys := make([]string, 0, len(r.Details))
	for k := range r.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, r.Details[k])
	}
	return b.String()
}
