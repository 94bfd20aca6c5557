// Package catalog parses the documents nexus imports into its catalog: OSCAL
// 1.0 catalogs (NIST SP 800-53 and anything else published that way) and
// JSONL files of published mappings. The parsers are pure functions from a
// reader to pipeline values; storing them is the caller's business.
package catalog

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/nexus-compliance/nexus/pipeline"
)

// The OSCAL 1.0 catalog model, only as much of it as nexus reads.
type (
	oscalFile struct {
		Catalog *oscalCatalog `json:"catalog"`
	}
	oscalCatalog struct {
		UUID     string `json:"uuid"`
		Metadata struct {
			Title        string `json:"title"`
			Version      string `json:"version"`
			OSCALVersion string `json:"oscal-version"`
		} `json:"metadata"`
		Groups   []oscalGroup   `json:"groups"`
		Controls []oscalControl `json:"controls"`
	}
	oscalGroup struct {
		ID       string         `json:"id"`
		Title    string         `json:"title"`
		Groups   []oscalGroup   `json:"groups"`
		Controls []oscalControl `json:"controls"`
	}
	oscalControl struct {
		ID       string         `json:"id"`
		Title    string         `json:"title"`
		Params   []oscalParam   `json:"params"`
		Props    []oscalProp    `json:"props"`
		Links    []oscalLink    `json:"links"`
		Parts    []oscalPart    `json:"parts"`
		Controls []oscalControl `json:"controls"`
	}
	oscalParam struct {
		ID     string `json:"id"`
		Label  string `json:"label"`
		Select *struct {
			HowMany string   `json:"how-many"`
			Choice  []string `json:"choice"`
		} `json:"select"`
		Values []string `json:"values"`
	}
	oscalProp struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	oscalLink struct {
		Href string `json:"href"`
		Rel  string `json:"rel"`
	}
	oscalPart struct {
		ID    string      `json:"id"`
		Name  string      `json:"name"`
		Title string      `json:"title"`
		Props []oscalProp `json:"props"`
		Prose string      `json:"prose"`
		Parts []oscalPart `json:"parts"`
	}
)

func prop(props []oscalProp, name string) string {
	for _, p := range props {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// ParseOSCAL reads an OSCAL 1.0 JSON catalog: every control and enhancement
// becomes a pipeline.Control keyed frameworkKey#LABEL, withdrawn ones
// included and marked. An empty frameworkKey is derived from the catalog's
// metadata (NIST-SP-800-53#R5 for SP 800-53 Rev 5). Controls come in
// document order, each base control before its enhancements.
func ParseOSCAL(r io.Reader, frameworkKey string) (pipeline.Framework, []pipeline.Control, error) {
	var f oscalFile
	dec := json.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		return pipeline.Framework{}, nil, fmt.Errorf("read OSCAL catalog: %w", err)
	}
	if f.Catalog == nil {
		return pipeline.Framework{}, nil, fmt.Errorf("read OSCAL catalog: no top-level \"catalog\" object (is this a profile or another OSCAL model?)")
	}
	md := f.Catalog.Metadata
	if frameworkKey == "" {
		frameworkKey = DefaultFrameworkKey(md.Title, md.Version)
	}
	if err := pipeline.ValidateFrameworkKey(frameworkKey); err != nil {
		return pipeline.Framework{}, nil, err
	}
	name, version, _ := strings.Cut(frameworkKey, "#")
	fw := pipeline.Framework{
		Key:     frameworkKey,
		Name:    name,
		Version: version,
		Title:   md.Title,
		Source:  strings.TrimSpace(fmt.Sprintf("OSCAL %s catalog, version %s", md.OSCALVersion, md.Version)),
	}

	p := &oscalParser{fw: frameworkKey, labels: map[string]string{}}
	// Labels first: withdrawn controls point at others by OSCAL id, and a
	// description that names the label users know is worth a second walk.
	p.collectLabels(f.Catalog.Groups, f.Catalog.Controls)
	p.walkControls(f.Catalog.Controls, "", "")
	p.walkGroups(f.Catalog.Groups)
	if len(p.out) == 0 {
		return fw, nil, fmt.Errorf("read OSCAL catalog %q: it holds no controls", md.Title)
	}
	seen := make(map[string]bool, len(p.out))
	for _, c := range p.out {
		if seen[c.Key] {
			return fw, nil, fmt.Errorf("read OSCAL catalog %q: two controls share the label %q", md.Title, c.ID)
		}
		seen[c.Key] = true
		if err := pipeline.ValidateControlKey(c.Key); err != nil {
			return fw, nil, fmt.Errorf("read OSCAL catalog %q: %w", md.Title, err)
		}
	}
	return fw, p.out, nil
}

var (
	spNumber   = regexp.MustCompile(`(?i)\b(?:Special Publication|SP)\s+(\d+-\d+[A-Za-z]?)`)
	revision   = regexp.MustCompile(`(?i)\b(?:Revision|Rev\.?)\s*(\d+)`)
	nonKeyRune = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// DefaultFrameworkKey derives a framework key from an OSCAL catalog's title
// and version: NIST-SP-<number>#R<revision> for NIST Special Publications
// (the key Nexus already uses for 800-53), otherwise the title before any
// colon, as a slug, and the document version.
func DefaultFrameworkKey(title, version string) string {
	up := strings.ToUpper(title)
	if m := spNumber.FindStringSubmatch(title); m != nil && (strings.Contains(up, "NIST") || strings.Contains(up, "SPECIAL PUBLICATION")) {
		key := "NIST-SP-" + strings.ToUpper(m[1])
		if r := revision.FindStringSubmatch(title); r != nil {
			return key + "#R" + r[1]
		}
		return key + "#" + slug(version, "1")
	}
	head, _, _ := strings.Cut(title, ":")
	return slug(head, "OSCAL-CATALOG") + "#" + slug(version, "1")
}

func slug(s, fallback string) string {
	s = strings.Trim(nonKeyRune.ReplaceAllString(strings.TrimSpace(s), "-"), "-")
	if len(s) > 64 {
		s = strings.TrimRight(s[:64], "-")
	}
	if s == "" {
		return fallback
	}
	return s
}

type oscalParser struct {
	fw     string
	labels map[string]string // OSCAL id → label
	out    []pipeline.Control
}

func (p *oscalParser) collectLabels(groups []oscalGroup, controls []oscalControl) {
	for _, g := range groups {
		p.collectLabels(g.Groups, g.Controls)
	}
	for _, c := range controls {
		p.labels[c.ID] = label(c)
		p.collectLabels(nil, c.Controls)
	}
}

// label is the id users see: the label prop, else the OSCAL id in the
// catalog's usual print form (ac-2.1 → AC-2(1)).
func label(c oscalControl) string {
	if l := strings.TrimSpace(prop(c.Props, "label")); l != "" {
		return l
	}
	base, enh, ok := strings.Cut(c.ID, ".")
	if ok {
		return strings.ToUpper(base) + "(" + enh + ")"
	}
	return strings.ToUpper(c.ID)
}

func (p *oscalParser) walkGroups(groups []oscalGroup) {
	for _, g := range groups {
		p.walkControls(g.Controls, strings.TrimSpace(g.Title), "")
		p.walkGroups(g.Groups)
	}
}

func (p *oscalParser) walkControls(controls []oscalControl, family, parent string) {
	for _, c := range controls {
		id := p.labels[c.ID]
		params := make(map[string]oscalParam, len(c.Params))
		for _, pr := range c.Params {
			params[pr.ID] = pr
		}
		ctl := pipeline.Control{
			Key:          pipeline.ControlKey(p.fw, id),
			FrameworkKey: p.fw,
			ID:           id,
			Title:        clean(c.Title),
			Family:       family,
			Parent:       parent,
			Withdrawn:    strings.EqualFold(prop(c.Props, "status"), "withdrawn"),
		}
		r := renderer{params: params}
		for _, part := range c.Parts {
			switch part.Name {
			case "statement":
				ctl.Description = r.items(part)
			case "guidance":
				ctl.Guidance = r.items(part)
			}
		}
		if ctl.Withdrawn && ctl.Description == "" {
			ctl.Description = p.withdrawnNote(c.Links)
		}
		p.out = append(p.out, ctl)
		p.walkControls(c.Controls, family, id)
	}
}

// withdrawnNote says where a withdrawn control went, so that a user who
// looks it up learns what replaced it.
func (p *oscalParser) withdrawnNote(links []oscalLink) string {
	var moved, incorporated []string
	for _, l := range links {
		// A link may point into a statement (#ac-2_smt.k); name its control.
		ref, _, _ := strings.Cut(strings.TrimPrefix(l.Href, "#"), "_")
		target := p.labels[ref]
		if target == "" {
			continue
		}
		switch l.Rel {
		case "moved-to":
			moved = append(moved, target)
		case "incorporated-into":
			incorporated = append(incorporated, target)
		}
	}
	switch {
	case len(moved) > 0:
		return "Withdrawn: moved to " + strings.Join(moved, ", ") + "."
	case len(incorporated) > 0:
		return "Withdrawn: incorporated into " + strings.Join(incorporated, ", ") + "."
	}
	return "Withdrawn."
}

var (
	insertParam = regexp.MustCompile(`\{\{\s*insert:\s*param,\s*([^\s}]+)\s*\}\}`)
	spaces      = regexp.MustCompile(`\s+`)
)

func clean(s string) string { return strings.TrimSpace(spaces.ReplaceAllString(s, " ")) }

// renderer turns a part tree into one line of readable text, parameters
// written as NIST prints them ("[Assignment: organization-defined
// frequency]"), since that is what a reviewer reads in the publication.
type renderer struct {
	params map[string]oscalParam
}

// items renders a part and its items depth first: "a. prose 1. prose …".
func (r renderer) items(part oscalPart) string {
	var b strings.Builder
	r.write(&b, part)
	return clean(b.String())
}

func (r renderer) write(b *strings.Builder, part oscalPart) {
	text := clean(r.prose(part.Prose, 0))
	if l := prop(part.Props, "label"); l != "" && part.Name == "item" {
		text = strings.TrimSpace(l + " " + text)
	}
	if text != "" {
		sep(b)
		b.WriteString(text)
	}
	for _, sub := range part.Parts {
		r.write(b, sub)
	}
}

// sep separates two items: a space where the previous one already ends in
// punctuation or a conjunction ("…that:", "…; and"), else "; ".
func sep(b *strings.Builder) {
	s := b.String()
	if s == "" {
		return
	}
	if strings.HasSuffix(s, " and") || strings.HasSuffix(s, " or") {
		b.WriteByte(' ')
		return
	}
	switch s[len(s)-1] {
	case ':', ';', '.', ',', '?', '!':
		b.WriteByte(' ')
	default:
		b.WriteString("; ")
	}
}

// prose replaces parameter insertions; depth guards against parameters
// whose choices insert each other.
func (r renderer) prose(s string, depth int) string {
	return insertParam.ReplaceAllStringFunc(s, func(m string) string {
		id := insertParam.FindStringSubmatch(m)[1]
		return r.param(id, depth)
	})
}

func (r renderer) param(id string, depth int) string {
	p, ok := r.params[id]
	if !ok || depth > 4 {
		return "[Assignment: organization-defined value]"
	}
	switch {
	case len(p.Values) > 0:
		return strings.Join(p.Values, ", ")
	case p.Select != nil:
		choices := make([]string, 0, len(p.Select.Choice))
		for _, c := range p.Select.Choice {
			choices = append(choices, clean(r.prose(c, depth+1)))
		}
		head := "Selection"
		if p.Select.HowMany != "" {
			head += " (" + strings.ReplaceAll(p.Select.HowMany, "-", " ") + ")"
		}
		return "[" + head + ": " + strings.Join(choices, "; ") + "]"
	case p.Label != "":
		return "[Assignment: " + clean(p.Label) + "]"
	}
	return "[Assignment: organization-defined value]"
}
