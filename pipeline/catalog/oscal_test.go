package catalog_test

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/catalog"
	"github.com/nexus-compliance/nexus/pipeline/catalog/catalogtest"
)

func TestParseOSCALRealCatalog(t *testing.T) {
	path := catalogtest.Path(t, catalogtest.CatalogFile)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	fw, cs, err := catalog.ParseOSCAL(f, "") // the key comes from the metadata
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("parsed %d controls in %v", len(cs), took)
	if !raceEnabled && took > time.Second {
		t.Errorf("parsing took %v, want well under a second", took)
	}
	if fw.Key != "NIST-SP-800-53#R5" || fw.Name != "NIST-SP-800-53" || fw.Version != "R5" || !strings.Contains(fw.Title, "800-53") {
		t.Fatalf("framework: %+v", fw)
	}
	live := 0
	byID := map[string]pipeline.Control{}
	insert := regexp.MustCompile(`\{\{|\}\}`)
	for _, c := range cs {
		byID[c.ID] = c
		if !c.Withdrawn {
			live++
			if c.Description == "" || c.Family == "" {
				t.Errorf("%s: empty statement or family", c.ID)
			}
		}
		if c.Key != "NIST-SP-800-53#R5#"+c.ID || c.FrameworkKey != fw.Key {
			t.Errorf("key %s for %s", c.Key, c.ID)
		}
		if insert.MatchString(c.Description + c.Guidance) {
			t.Errorf("%s: raw parameter insertion left: %s", c.ID, c.Description)
		}
	}
	if len(cs) != 1189 || live != 1007 {
		t.Fatalf("%d controls, %d live; want 1189 and 1007", len(cs), live)
	}

	// Cross-check every entry against the derived index.
	cf, err := os.Open(catalogtest.Path(t, catalogtest.ControlsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	sc := bufio.NewScanner(cf)
	n := 0
	parentLabel := map[string]string{}
	type row struct {
		ID, Label, Title, FamilyTitle string
		Parent                        *string
		Withdrawn                     bool
	}
	var rows []row
	for sc.Scan() {
		var r struct {
			ID          string  `json:"id"`
			Label       string  `json:"label"`
			Title       string  `json:"title"`
			FamilyTitle string  `json:"family_title"`
			Parent      *string `json:"parent"`
			Withdrawn   bool    `json:"withdrawn"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		parentLabel[r.ID] = r.Label
		rows = append(rows, row{r.ID, r.Label, r.Title, r.FamilyTitle, r.Parent, r.Withdrawn})
	}
	for _, r := range rows {
		n++
		c, ok := byID[r.Label]
		if !ok {
			t.Errorf("label %s missing", r.Label)
			continue
		}
		wantParent := ""
		if r.Parent != nil {
			wantParent = parentLabel[*r.Parent]
		}
		if c.Title != r.Title || c.Withdrawn != r.Withdrawn || c.Parent != wantParent || c.Family != r.FamilyTitle {
			t.Errorf("%s: got %q withdrawn=%v parent=%q family=%q; want %q %v %q %q", r.Label, c.Title, c.Withdrawn, c.Parent, c.Family, r.Title, r.Withdrawn, wantParent, r.FamilyTitle)
		}
	}
	if n != len(cs) {
		t.Fatalf("index has %d rows, parsed %d", n, len(cs))
	}

	for _, tc := range []struct{ id, field, contains string }{
		{"AC-1", "statement", "a. Develop, document, and disseminate to [Assignment: organization-defined personnel or roles]: 1. [Selection (one or more): Organization-level; Mission/business process-level; System-level] access control policy that: (a) Addresses purpose"},
		{"AC-2", "statement", "b. Assign account managers; c. Require"},
		{"AC-2(1)", "statement", "Support the management of system accounts using [Assignment: organization-defined automated mechanisms]."},
		{"SC-7(5)", "statement", "[Selection (one or more): at managed interfaces; for [Assignment: organization-defined systems]]"},
		{"AC-2(1)", "guidance", "Automated system account management includes"},
		{"AC-2(10)", "statement", "Withdrawn: incorporated into AC-2."},
	} {
		c := byID[tc.id]
		text := c.Description
		if tc.field == "guidance" {
			text = c.Guidance
		}
		if !strings.Contains(text, tc.contains) {
			t.Errorf("%s %s: %q does not contain %q", tc.id, tc.field, text, tc.contains)
		}
	}
}

const miniCatalog = `{"catalog": {"uuid": "x", "metadata": {"title": "Example Controls: a test", "version": "2.1", "oscal-version": "1.0.0"},
 "groups": [{"id": "ex", "title": "Examples", "groups": [{"id": "sub", "title": "Nested Family",
   "controls": [{"id": "ex-9", "title": "Nested"}]}],
  "controls": [
   {"id": "ex-1", "title": "First", "params": [{"id": "ex-1_prm_1", "label": "organization-defined frequency"},
      {"id": "ex-1_prm_2", "select": {"choice": ["yearly", "{{ insert: param, ex-1_prm_1 }}"]}}, {"id": "ex-1_prm_3", "values": ["30 days"]}],
    "props": [{"name": "label", "value": "EX-1"}],
    "parts": [{"id": "ex-1_smt", "name": "statement", "parts": [
       {"id": "ex-1_smt.a", "name": "item", "props": [{"name": "label", "value": "a."}], "prose": "Review {{ insert: param, ex-1_prm_1 }}; and"},
       {"id": "ex-1_smt.b", "name": "item", "props": [{"name": "label", "value": "b."}], "prose": "Report {{ insert: param, ex-1_prm_2 }} within {{ insert: param, ex-1_prm_3 }}"},
       {"id": "ex-1_smt.c", "name": "item", "props": [{"name": "label", "value": "c."}], "prose": "Keep {{ insert: param, nope }}"}]},
     {"id": "ex-1_gdn", "name": "guidance", "prose": "Why it  matters."}],
    "controls": [{"id": "ex-1.1", "title": "Enhancement", "parts": [{"name": "statement", "prose": "Do more."}]},
                 {"id": "ex-1.2", "title": "Old", "props": [{"name": "label", "value": "EX-1(2)"}, {"name": "status", "value": "withdrawn"}],
                  "links": [{"href": "#ex-1", "rel": "moved-to"}]}]}]}]}}`

func TestParseOSCALStructure(t *testing.T) {
	fw, cs, err := catalog.ParseOSCAL(strings.NewReader(miniCatalog), "")
	if err != nil {
		t.Fatal(err)
	}
	if fw.Key != "Example-Controls#2.1" {
		t.Fatalf("derived key %q", fw.Key)
	}
	want := []pipeline.Control{
		{Key: "Example-Controls#2.1#EX-1", ID: "EX-1", Title: "First", Family: "Examples",
			Description: "a. Review [Assignment: organization-defined frequency]; and b. Report [Selection: yearly; [Assignment: organization-defined frequency]] within 30 days; c. Keep [Assignment: organization-defined value]",
			Guidance:    "Why it matters."},
		// No label prop: the id in print form.
		{Key: "Example-Controls#2.1#EX-1(1)", ID: "EX-1(1)", Title: "Enhancement", Family: "Examples", Parent: "EX-1", Description: "Do more."},
		{Key: "Example-Controls#2.1#EX-1(2)", ID: "EX-1(2)", Title: "Old", Family: "Examples", Parent: "EX-1", Withdrawn: true, Description: "Withdrawn: moved to EX-1."},
		{Key: "Example-Controls#2.1#EX-9", ID: "EX-9", Title: "Nested", Family: "Nested Family"},
	}
	if len(cs) != len(want) {
		t.Fatalf("got %d controls: %+v", len(cs), cs)
	}
	for i := range want {
		want[i].FrameworkKey = fw.Key
		if cs[i] != want[i] {
			t.Errorf("control %d:\n got %+v\nwant %+v", i, cs[i], want[i])
		}
	}

	_, cs, err = catalog.ParseOSCAL(strings.NewReader(miniCatalog), "EXAMPLE#V2")
	if err != nil || cs[0].Key != "EXAMPLE#V2#EX-1" {
		t.Fatalf("explicit key: %v %+v", err, cs[0])
	}
}

func TestParseOSCALErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, key, want string }{
		{"not json", "{", "", "read OSCAL catalog"},
		{"a profile", `{"profile": {}}`, "", "no top-level \"catalog\""},
		{"empty", `{"catalog": {"metadata": {"title": "T", "version": "1"}}}`, "", "holds no controls"},
		{"bad key", miniCatalog, "no-version", "invalid framework key"},
		{"duplicate", `{"catalog": {"metadata": {"title": "T", "version": "1"}, "controls": [{"id": "a-1"}, {"id": "a-1"}]}}`, "", "share the label"},
	} {
		_, _, err := catalog.ParseOSCAL(strings.NewReader(tc.in), tc.key)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestDefaultFrameworkKey(t *testing.T) {
	for _, tc := range []struct{ title, version, want string }{
		{"NIST Special Publication 800-53 Revision 5: Security and Privacy Controls", "5.0.1", "NIST-SP-800-53#R5"},
		{"NIST SP 800-171 Rev. 2", "2.0", "NIST-SP-800-171#R2"},
		{"NIST Special Publication 800-53B", "1.0", "NIST-SP-800-53B#1.0"},
		{"ISO/IEC 27001:2022 Annex A", "2022", "ISO-IEC-27001#2022"},
		{"", "", "OSCAL-CATALOG#1"},
	} {
		if got := catalog.DefaultFrameworkKey(tc.title, tc.version); got != tc.want {
			t.Errorf("%q %q: %q, want %q", tc.title, tc.version, got, tc.want)
		}
		if err := pipeline.ValidateFrameworkKey(catalog.DefaultFrameworkKey(tc.title, tc.version)); err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkParseOSCAL(b *testing.B) {
	data, err := os.ReadFile(catalogtest.Path(b, catalogtest.CatalogFile))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, _, err := catalog.ParseOSCAL(strings.NewReader(string(data)), ""); err != nil {
			b.Fatal(err)
		}
	}
}
