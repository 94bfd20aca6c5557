// Package demo is the catalog nexus ships inside its binary, so that
// `nexus map` gives sensible results on a fresh machine with nothing
// imported: 41 AWS-style configuration checks (framework
// AWS.ControlCatalog#1.0), a 40-control subset of a NIST SP 800-53 rev. 5
// style framework (NIST-SP-800-53#R5, one of them withdrawn), and 69
// APPROVED mappings between them. Every title and statement was written for
// nexus; none is quoted from AWS or NIST, and importing the published OSCAL
// catalog replaces the framework's entries with the authoritative text.
package demo

import (
	"context"
	_ "embed"
	"fmt"
	"sort"
	"sync"

	"sigs.k8s.io/yaml"

	"github.com/nexus-compliance/nexus/pipeline"
)

// The framework keys of the demo catalog.
const (
	SourceFramework = "AWS.ControlCatalog#1.0"
	TargetFramework = "NIST-SP-800-53#R5"
)

// CreatedBy marks the demo's mappings in the created_by attribute, so they
// can be told apart from mappings reviewed by people.
var CreatedBy = map[string]any{"name": "nexus demo catalog", "type": "demo"}

//go:embed catalog.yaml
var catalogYAML []byte

// Catalog is the decoded demo catalog.
type Catalog struct {
	Frameworks []pipeline.Framework
	Controls   []pipeline.Control
	Mappings   []pipeline.Mapping
}

type file struct {
	Frameworks []struct {
		pipeline.Framework
		Controls []struct {
			ID          string `json:"id"`
			Title       string `json:"title"`
			Description string `json:"description"`
			Family      string `json:"family"`
			Parent      string `json:"parent"`
			Withdrawn   bool   `json:"withdrawn"`
		} `json:"controls"`
	} `json:"frameworks"`
	Statements map[string]string   `json:"statements"`
	Mappings   map[string][]string `json:"mappings"`
}

var (
	once    sync.Once
	decoded Catalog
	decErr  error
)

// Get returns the demo catalog, decoded once per process. The slices are
// the caller's own.
func Get() (Catalog, error) {
	once.Do(func() { decoded, decErr = decode(catalogYAML) })
	if decErr != nil {
		return Catalog{}, decErr
	}
	return Catalog{
		Frameworks: append([]pipeline.Framework(nil), decoded.Frameworks...),
		Controls:   append([]pipeline.Control(nil), decoded.Controls...),
		Mappings:   append([]pipeline.Mapping(nil), decoded.Mappings...),
	}, nil
}

func decode(b []byte) (Catalog, error) {
	var f file
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return Catalog{}, fmt.Errorf("demo catalog: %w", err)
	}
	var c Catalog
	for _, fw := range f.Frameworks {
		if err := pipeline.ValidateFrameworkKey(fw.Key); err != nil {
			return Catalog{}, fmt.Errorf("demo catalog: %w", err)
		}
		c.Frameworks = append(c.Frameworks, fw.Framework)
		for _, x := range fw.Controls {
			ctl := pipeline.Control{
				Key: pipeline.ControlKey(fw.Key, x.ID), FrameworkKey: fw.Key, ID: x.ID, Title: x.Title,
				Description: x.Description, Family: x.Family, Parent: x.Parent, Withdrawn: x.Withdrawn,
			}
			if ctl.Description == "" {
				ctl.Description = f.Statements[x.ID]
			}
			if ctl.Description == "" {
				return Catalog{}, fmt.Errorf("demo catalog: control %s has no statement", ctl.Key)
			}
			c.Controls = append(c.Controls, ctl)
		}
	}
	known := map[string]bool{}
	for _, ctl := range c.Controls {
		known[ctl.Key] = true
	}
	sources := make([]string, 0, len(f.Mappings))
	for s := range f.Mappings {
		sources = append(sources, s)
	}
	sort.Strings(sources)
	for _, s := range sources {
		from := pipeline.ControlKey(SourceFramework, s)
		for _, t := range f.Mappings[s] {
			to := pipeline.ControlKey(TargetFramework, t)
			if !known[from] || !known[to] {
				return Catalog{}, fmt.Errorf("demo catalog: mapping %s → %s names an unknown control", from, to)
			}
			mk := pipeline.MappingKey(from, to)
			c.Mappings = append(c.Mappings, pipeline.Mapping{
				ControlKey: from, MappedControlKey: to, MappingKey: mk, ARN: pipeline.MappingARN(mk),
				Status: pipeline.MappingApproved, CreatedBy: CreatedBy, Reasoning: "Reviewed mapping from the nexus demo catalog.",
			})
		}
	}
	return c, nil
}

// Summary counts what Load wrote.
type Summary struct {
	Frameworks int `json:"frameworks"`
	Controls   int `json:"controls"`
	Mappings   int `json:"mappings"`
}

// Load writes the demo catalog into a store. It is idempotent: loading twice
// leaves the same records. Mappings already present with another status
// (a reviewer rejected one) are left as they are.
func Load(ctx context.Context, store pipeline.Store) (Summary, error) {
	c, err := Get()
	if err != nil {
		return Summary{}, err
	}
	for _, fw := range c.Frameworks {
		if err := store.PutFramework(ctx, fw); err != nil {
			return Summary{}, fmt.Errorf("loading the demo catalog: %w", err)
		}
	}
	if err := store.PutControls(ctx, c.Controls); err != nil {
		return Summary{}, fmt.Errorf("loading the demo catalog: %w", err)
	}
	existing := map[string]bool{}
	for _, st := range pipeline.MappingStatuses {
		if st == pipeline.MappingApproved {
			continue
		}
		ms, err := store.MappingsByStatus(ctx, st)
		if err != nil {
			return Summary{}, fmt.Errorf("loading the demo catalog: %w", err)
		}
		for _, m := range ms {
			existing[m.ControlKey+"|"+m.MappedControlKey] = true
		}
	}
	var put []pipeline.Mapping
	for _, m := range c.Mappings {
		if !existing[m.ControlKey+"|"+m.MappedControlKey] {
			put = append(put, m)
		}
	}
	if err := store.PutMappings(ctx, put); err != nil {
		return Summary{}, fmt.Errorf("loading the demo catalog: %w", err)
	}
	return Summary{Frameworks: len(c.Frameworks), Controls: len(c.Controls), Mappings: len(put)}, nil
}

// Seeder is a store that can say whether it is empty (the local store).
type Seeder interface {
	pipeline.Store
	Empty(ctx context.Context) (bool, error)
}

// LoadIfEmpty loads the demo catalog into a store that holds no framework
// yet, and reports whether it did.
func LoadIfEmpty(ctx context.Context, store Seeder) (bool, error) {
	empty, err := store.Empty(ctx)
	if err != nil || !empty {
		return false, err
	}
	_, err = Load(ctx, store)
	return err == nil, err
}
