package catalog_test

import (
	"os"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/catalog"
	"github.com/nexus-compliance/nexus/pipeline/catalog/catalogtest"
)

func TestParseMappingJSONLRealFile(t *testing.T) {
	f, err := os.Open(catalogtest.Path(t, catalogtest.MappingFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	srcs, maps, err := catalog.ParseMappingJSONL(f, "AWS.Config#1.0", "NIST-SP-800-53#R5")
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 122 || len(maps) != 1814 {
		t.Fatalf("%d sources, %d mappings; want 122 and 1814", len(srcs), len(maps))
	}
	empty := 0
	for _, s := range srcs {
		if s.Description == "" {
			empty++
		}
	}
	if empty != 37 {
		t.Errorf("%d sources without description, want 37", empty)
	}
	first := srcs[0]
	if first.Key != "AWS.Config#1.0#vpc-default-security-group-closed" || first.ID != "vpc-default-security-group-closed" ||
		first.Title != "The VPC's default security group allows inbound or outbound traffic." || !strings.HasPrefix(first.Description, "Amazon Elastic Compute Cloud") {
		t.Fatalf("first source: %+v", first)
	}
	m := maps[0]
	wantKey := pipeline.MappingKey(first.Key, "NIST-SP-800-53#R5#AC-4(21)")
	if m.ControlKey != first.Key || m.MappedControlKey != "NIST-SP-800-53#R5#AC-4(21)" || m.MappingKey != wantKey ||
		m.ARN != pipeline.MappingARN(wantKey) || m.Status != pipeline.MappingApproved {
		t.Fatalf("first mapping: %+v", m)
	}
}

func TestParseMappingJSONL(t *testing.T) {
	in := `{"source_id": "r1", "title": "Rule one", "description": "", "targets": ["AC-2", "AC-2(1)"], "extra": 1}

{"source_id": "r2", "title": "Rule two", "targets": []}
{"source_id": "r1", "title": "", "description": "Later description.", "targets": ["AC-2", "SC-7"]}`
	srcs, maps, err := catalog.ParseMappingJSONL(strings.NewReader(in), "SRC#1", "TGT#2")
	if err != nil {
		t.Fatal(err)
	}
	// r1's two lines are one control with the union of targets.
	if len(srcs) != 2 || srcs[0].Title != "Rule one" || srcs[0].Description != "Later description." || srcs[1].Key != "SRC#1#r2" {
		t.Fatalf("sources: %+v", srcs)
	}
	var got []string
	for _, m := range maps {
		got = append(got, m.ControlKey+">"+m.MappedControlKey)
	}
	if strings.Join(got, " ") != "SRC#1#r1>TGT#2#AC-2 SRC#1#r1>TGT#2#AC-2(1) SRC#1#r1>TGT#2#SC-7" {
		t.Fatalf("mappings: %v", got)
	}
}

func TestParseMappingJSONLErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, src, want string }{
		{"not json", "{\"source_id\": \"a\", \"targets\": []}\n\nnot json\n", "S#1", "line 3: not a JSON object"},
		{"no source id", `{"title": "x"}`, "S#1", `line 1: no "source_id"`},
		{"empty target", `{"source_id": "a", "targets": ["AC-1", " "]}`, "S#1", `line 1: source "a": target 2 is empty`},
		{"targets not a list", `{"source_id": "a", "targets": "AC-1"}`, "S#1", `line 1: field "targets" is a JSON string, want []string`},
		{"bad framework", `{"source_id": "a"}`, "S", "invalid framework key"},
	} {
		_, _, err := catalog.ParseMappingJSONL(strings.NewReader(tc.in), tc.src, "T#1")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
