package demo

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

func TestCatalogShape(t *testing.T) {
	c, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	perFW := map[string]int{}
	withdrawn := 0
	for _, ctl := range c.Controls {
		perFW[ctl.FrameworkKey]++
		if ctl.Withdrawn {
			withdrawn++
		}
		if err := pipeline.ValidateControlKey(ctl.Key); err != nil || ctl.Title == "" || len(strings.Fields(ctl.Description)) < 5 {
			t.Errorf("%s: %v %q", ctl.Key, err, ctl.Description)
		}
	}
	if perFW[SourceFramework] < 36 || perFW[TargetFramework] != 40 || withdrawn != 1 || len(c.Mappings) < 60 {
		t.Fatalf("shape: %v, %d withdrawn, %d mappings", perFW, withdrawn, len(c.Mappings))
	}
	if _, err := decode([]byte("frameworks: [{frameworkKey: 'bad'}]")); err == nil {
		t.Fatal("bad framework key accepted")
	}
}

func TestLoadIdempotent(t *testing.T) {
	ctx := context.Background()
	s, err := local.Open(filepath.Join(t.TempDir(), "nexus.db"), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if loaded, err := LoadIfEmpty(ctx, s); err != nil || !loaded {
		t.Fatalf("first load: %v %v", loaded, err)
	}
	// A reviewer rejects one demo mapping; loading again keeps the decision.
	rej := pipeline.Mapping{ControlKey: SourceFramework + "#API_GW_CACHE_ENABLED", MappedControlKey: TargetFramework + "#SC-5", Status: pipeline.MappingRejected}
	if err := s.PutMappings(ctx, []pipeline.Mapping{rej}); err != nil {
		t.Fatal(err)
	}
	if loaded, err := LoadIfEmpty(ctx, s); err != nil || loaded {
		t.Fatalf("second LoadIfEmpty: %v %v", loaded, err)
	}
	sum, err := Load(ctx, s)
	if err != nil || sum.Mappings != 68 {
		t.Fatalf("reload: %+v %v", sum, err)
	}
	fws, _ := s.Frameworks(ctx)
	target, _ := s.Controls(ctx, TargetFramework)
	approved, _ := s.MappingsByStatus(ctx, pipeline.MappingApproved)
	if len(fws) != 2 || len(target) != 40 || len(approved) != 68 || target[0].ID != "AC-2" {
		t.Fatalf("%d frameworks, %d targets, %d approved", len(fws), len(target), len(approved))
	}
}
