package printer

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/commands/iostreams"
)

var update = flag.Bool("update", false, "rewrite golden files")

type row struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Items  int    `json:"items"`
}

var rows = []row{{"MappingJobs", "ACTIVE", 120}, {"ControlMappings", "ACTIVE", 3}}

func view() Table {
	t := Table{Headers: []string{"NAME", "STATUS", "ITEMS"}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []string{r.Name, r.Status, itoa(r.Items)})
	}
	return t
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func golden(t *testing.T, got string) {
	t.Helper()
	path := filepath.Join("testdata", strings.ReplaceAll(t.Name(), "/", "_")+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestPrintFormats(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		tty    bool
	}{
		{"table_tty", FormatTable, true},
		{"table_plain", FormatTable, false},
		{"json", FormatJSON, false},
		{"jsonl", FormatJSONL, false},
		{"yaml", FormatYAML, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			ios.SetStdoutTTY(tt.tty)
			if err := New(ios, tt.format).Print(rows, view); err != nil {
				t.Fatal(err)
			}
			golden(t, out.String())
		})
	}
}

func TestStreamMatchesPrint(t *testing.T) {
	for _, f := range []Format{FormatJSON, FormatJSONL, FormatYAML, FormatTable} {
		for _, tty := range []bool{false, true} {
			ios, _, printed, _ := iostreams.Test()
			ios.SetStdoutTTY(tty)
			if err := New(ios, f).Print(rows, view); err != nil {
				t.Fatal(err)
			}
			ios2, _, streamed, _ := iostreams.Test()
			ios2.SetStdoutTTY(tty)
			s := New(ios2, f).Stream(view().Headers)
			for i, r := range rows {
				if err := s.Write(r, view().Rows[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if printed.String() != streamed.String() {
				t.Errorf("%s tty=%v: stream differs from print:\n%s\nvs\n%s", f, tty, streamed, printed)
			}
		}
	}
}

func TestEmptyStreamIsValidJSON(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	s := New(ios, FormatJSON).Stream(nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var v []any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || len(v) != 0 {
		t.Fatalf("empty stream: %q, %v", out, err)
	}
}

func TestCellsStayOnOneLine(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	err := New(ios, FormatTable).Print(nil, func() Table {
		return Table{Rows: [][]string{{"a\tb", "line1\nline2"}}}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "a b\tline1 line2\n" {
		t.Fatalf("got %q", got)
	}
}

func TestDetail(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	err := New(ios, FormatTable).Print(nil, func() Table {
		return Table{Detail: true, Rows: [][]string{{"status", "ACTIVE"}, {"billing_mode", "PAY_PER_REQUEST"}}}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "status:        ACTIVE\nbilling_mode:  PAY_PER_REQUEST\n"
	if out.String() != want {
		t.Fatalf("got %q want %q", out.String(), want)
	}
}

func TestColorOnlyOnTTYWithColor(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetColorEnabled(true)
	if err := New(ios, FormatTable).Print(rows, view); err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(out.String(), "\n", 2)[0]
	if !strings.Contains(first, "NAME") || !strings.Contains(first, "\x1b[1m") {
		t.Fatalf("header not bold: %q", first)
	}
	ios.SetColorEnabled(false)
	out.Reset()
	if err := New(ios, FormatTable).Print(rows, view); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Fatalf("colour with --no-color: %q", out.String())
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": FormatTable, "JSON": FormatJSON, "yaml": FormatYAML, "jsonl": FormatJSONL, " table ": FormatTable} {
		got, err := ParseFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "table, json, yaml, jsonl") {
		t.Errorf("xml: %v", err)
	}
}
