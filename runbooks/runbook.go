// Package runbooks turns the support guide's runbooks into data that nexus
// runs: each runbook is a YAML file (the built-in ones are embedded from
// builtin/, teams add their own with --dir) holding typed parameters and an
// ordered list of steps.
//
// Why YAML rather than Go: a step is data — a probe name, its arguments, a
// condition, an action — so a typed YAML schema (unknown keys are errors,
// every probe, action and step reference is checked at load time) says
// everything a Go function would, while staying reviewable by the on-call
// engineers who own the procedures, who are not all Go engineers, and
// allowing comments next to each step explaining why it is there. The
// behaviour itself (how a probe reads SQS, how an action changes state)
// stays in Go, tested, behind a small vocabulary of named probes and acts.
//
// Step kinds:
//
//   - check: runs a built-in probe and records its findings under the step id.
//   - decide: evaluates a structured condition ({step, op, value} over an
//     earlier finding's count); with stop: true a false condition ends the run.
//   - act: runs a built-in remediation. It asks on a terminal, needs --yes
//     elsewhere, and under --dry-run makes no mutating call, printing what it
//     would do instead.
//   - note: guidance text.
//
// Any step may carry when (a condition that must hold for it to run) and
// unless (one that must not).
package runbooks

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Step kinds.
const (
	KindCheck  = "check"
	KindDecide = "decide"
	KindAct    = "act"
	KindNote   = "note"
)

// Parameter types.
const (
	TypeInt      = "int"
	TypeDuration = "duration"
	TypeString   = "string"
	TypeBool     = "bool"
)

// Runbook is one parsed runbook file.
type Runbook struct {
	Name        string  `json:"name"`
	Title       string  `json:"title"`
	Description string  `json:"description"`
	Parameters  []Param `json:"parameters,omitempty"`
	Steps       []Step  `json:"steps"`
	// Source is "builtin" or the file it was read from.
	Source string `json:"source"`
}

// Param is a typed runbook parameter.
type Param struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Description string   `json:"description,omitempty"`
	Default     any      `json:"default,omitempty"`
	Min         any      `json:"min,omitempty"` // int or duration
	Max         any      `json:"max,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
}

// Condition compares the count of an earlier step's findings with a value.
type Condition struct {
	Step  string `json:"step"`
	Op    string `json:"op"` // gt ge lt le eq ne
	Value int    `json:"value"`
}

// Step is one step of a runbook.
type Step struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Title string `json:"title"`
	// Probe is the check a check step runs; Action the remediation of an act step.
	Probe  string `json:"probe,omitempty"`
	Action string `json:"action,omitempty"`
	// With are the probe's or action's arguments; a string "${param}" is
	// replaced by the parameter's value.
	With map[string]any `json:"with,omitempty"`
	// When must hold for the step to run (any kind).
	When *Condition `json:"when,omitempty"`
	// Unless must not hold for the step to run: an act that would make
	// things worse while some other finding stands (retrying jobs while
	// Bedrock still throttles) names that finding here.
	Unless *Condition `json:"unless,omitempty"`
	// Advisory marks a check whose findings are worth showing (!) and
	// may drive notes and acts, but are not problems that fail the run:
	// throttles that happened in the window but have stopped.
	Advisory bool `json:"advisory,omitempty"`
	// Stop ends the run (healthy) when a decide step's When is false.
	Stop bool `json:"stop,omitempty"`
	// Message is the decide step's text, or the note's guidance.
	Message string `json:"message,omitempty"`
	// Resolves names the check steps whose problems this act fixes when it
	// succeeds completely.
	Resolves []string `json:"resolves,omitempty"`
}

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	idRE    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	paramRE = regexp.MustCompile(`\$\{([a-z][a-z0-9_]*)\}`)
	ops     = []string{"gt", "ge", "lt", "le", "eq", "ne"}
)

// Parse reads and validates one runbook file.
func Parse(data []byte, source string) (*Runbook, error) {
	var rb Runbook
	if err := yaml.UnmarshalStrict(data, &rb); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	rb.Source = source
	if err := rb.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return &rb, nil
}

// Validate checks a runbook's structure: names, parameter types and
// defaults, step kinds, probe and action names, and that every reference
// (when, jobs, except, from, resolves, ${param}) names something defined
// earlier.
func (rb *Runbook) Validate() error {
	if !nameRE.MatchString(rb.Name) {
		return fmt.Errorf("name %q must be lower-case letters, digits and dashes", rb.Name)
	}
	if strings.TrimSpace(rb.Title) == "" {
		return errors.New("title is required")
	}
	if len(rb.Steps) == 0 {
		return errors.New("a runbook needs at least one step")
	}
	params := map[string]Param{}
	for i, p := range rb.Parameters {
		if !idRE.MatchString(p.Name) {
			return fmt.Errorf("parameters[%d]: name %q must be lower-case letters, digits and _", i, p.Name)
		}
		if _, dup := params[p.Name]; dup {
			return fmt.Errorf("parameter %q is defined twice", p.Name)
		}
		switch p.Type {
		case TypeInt, TypeDuration, TypeString, TypeBool:
		default:
			return fmt.Errorf("parameter %q: type %q is not one of int, duration, string, bool", p.Name, p.Type)
		}
		if p.Pattern != "" {
			if _, err := regexp.Compile(p.Pattern); err != nil {
				return fmt.Errorf("parameter %q: pattern: %w", p.Name, err)
			}
		}
		for _, b := range []any{p.Min, p.Max} {
			if b == nil {
				continue
			}
			if p.Type != TypeInt && p.Type != TypeDuration {
				return fmt.Errorf("parameter %q: min/max apply to int and duration parameters only", p.Name)
			}
			if _, err := parseTyped(p.Type, scalar(b)); err != nil {
				return fmt.Errorf("parameter %q: min/max: %w", p.Name, err)
			}
		}
		if p.Default == nil {
			return fmt.Errorf("parameter %q needs a default", p.Name)
		}
		if _, err := p.Parse(scalar(p.Default)); err != nil {
			return fmt.Errorf("parameter %q: default: %w", p.Name, err)
		}
		params[p.Name] = p
	}
	seen := map[string]Step{}
	earlier := func(ref, what string, i int) error {
		if _, ok := seen[ref]; !ok {
			return fmt.Errorf("steps[%d] (%s): %s %q is not an earlier step", i, rb.Steps[i].ID, what, ref)
		}
		return nil
	}
	for i, s := range rb.Steps {
		if !idRE.MatchString(s.ID) {
			return fmt.Errorf("steps[%d]: id %q must be lower-case letters, digits and _", i, s.ID)
		}
		if _, dup := seen[s.ID]; dup {
			return fmt.Errorf("steps[%d]: id %q is used twice", i, s.ID)
		}
		if strings.TrimSpace(s.Title) == "" {
			return fmt.Errorf("steps[%d] (%s): title is required", i, s.ID)
		}
		switch s.Kind {
		case KindCheck:
			if _, ok := probes[s.Probe]; !ok {
				return fmt.Errorf("steps[%d] (%s): unknown probe %q (known: %s)", i, s.ID, s.Probe, strings.Join(ProbeNames(), ", "))
			}
		case KindAct:
			if _, ok := actions[s.Action]; !ok {
				return fmt.Errorf("steps[%d] (%s): unknown action %q (known: %s)", i, s.ID, s.Action, strings.Join(ActionNames(), ", "))
			}
			for _, r := range s.Resolves {
				if err := earlier(r, "resolves", i); err != nil {
					return err
				}
			}
		case KindDecide:
			if s.When == nil {
				return fmt.Errorf("steps[%d] (%s): a decide step needs when", i, s.ID)
			}
		case KindNote:
			if strings.TrimSpace(s.Message) == "" {
				return fmt.Errorf("steps[%d] (%s): a note needs message", i, s.ID)
			}
		default:
			return fmt.Errorf("steps[%d] (%s): kind %q is not one of check, decide, act, note", i, s.ID, s.Kind)
		}
		if s.Kind != KindCheck && s.Probe != "" || s.Kind != KindAct && s.Action != "" {
			return fmt.Errorf("steps[%d] (%s): probe belongs to check steps and action to act steps", i, s.ID)
		}
		for what, c := range map[string]*Condition{"when": s.When, "unless": s.Unless} {
			if c == nil {
				continue
			}
			if err := earlier(c.Step, what+".step", i); err != nil {
				return err
			}
			if !slices.Contains(ops, c.Op) {
				return fmt.Errorf("steps[%d] (%s): %s.op %q is not one of %s", i, s.ID, what, c.Op, strings.Join(ops, ", "))
			}
		}
		if s.Unless != nil && s.Kind == KindDecide {
			return fmt.Errorf("steps[%d] (%s): a decide step takes when, not unless", i, s.ID)
		}
		if s.Advisory && s.Kind != KindCheck {
			return fmt.Errorf("steps[%d] (%s): advisory applies to check steps only", i, s.ID)
		}
		for k, v := range s.With {
			switch k {
			case "jobs", "from":
				ref, _ := v.(string)
				if err := earlier(ref, "with."+k, i); err != nil {
					return err
				}
			case "except":
				refs, ok := v.([]any)
				if !ok {
					return fmt.Errorf("steps[%d] (%s): with.except must be a list of step ids", i, s.ID)
				}
				for _, r := range refs {
					ref, _ := r.(string)
					if err := earlier(ref, "with.except", i); err != nil {
						return err
					}
				}
			}
			if str, ok := v.(string); ok {
				for _, m := range paramRE.FindAllStringSubmatch(str, -1) {
					if _, ok := params[m[1]]; !ok {
						return fmt.Errorf("steps[%d] (%s): with.%s refers to undefined parameter %q", i, s.ID, k, m[1])
					}
				}
			}
		}
		for _, m := range paramRE.FindAllStringSubmatch(s.Message, -1) {
			if _, ok := params[m[1]]; !ok {
				return fmt.Errorf("steps[%d] (%s): message refers to undefined parameter %q", i, s.ID, m[1])
			}
		}
		seen[s.ID] = s
	}
	return nil
}

// scalar renders a YAML scalar (after its JSON round trip) as text.
func scalar(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func parseTyped(typ, s string) (any, error) {
	s = strings.TrimSpace(s)
	switch typ {
	case TypeInt:
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", s)
		}
		return n, nil
	case TypeDuration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration (like 30m or 2h)", s)
		}
		return d, nil
	case TypeBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", s)
		}
		return b, nil
	}
	return s, nil
}

// Parse reads a value of the parameter's type and checks min, max, enum and
// pattern.
func (p Param) Parse(s string) (any, error) {
	v, err := parseTyped(p.Type, s)
	if err != nil {
		return nil, err
	}
	less := func(a, b any) bool {
		switch x := a.(type) {
		case int:
			return x < b.(int)
		case time.Duration:
			return x < b.(time.Duration)
		}
		return false
	}
	if p.Min != nil {
		if m, err := parseTyped(p.Type, scalar(p.Min)); err == nil && less(v, m) {
			return nil, fmt.Errorf("%s is below the minimum %s", s, scalar(p.Min))
		}
	}
	if p.Max != nil {
		if m, err := parseTyped(p.Type, scalar(p.Max)); err == nil && less(m, v) {
			return nil, fmt.Errorf("%s is above the maximum %s", s, scalar(p.Max))
		}
	}
	if len(p.Enum) > 0 && !slices.Contains(p.Enum, s) {
		return nil, fmt.Errorf("%q is not one of %s", s, strings.Join(p.Enum, ", "))
	}
	if p.Pattern != "" && !regexp.MustCompile(p.Pattern).MatchString(s) {
		return nil, fmt.Errorf("%q does not match %s", s, p.Pattern)
	}
	return v, nil
}

// Values are a run's parameter values, typed.
type Values map[string]any

// Params resolves a run's parameters: the defaults overridden by set
// (name → text). An unknown name or an invalid value is an error naming it.
func (rb *Runbook) Params(set map[string]string) (Values, error) {
	vals := Values{}
	known := map[string]Param{}
	for _, p := range rb.Parameters {
		known[p.Name] = p
		v, err := p.Parse(scalar(p.Default))
		if err != nil {
			return nil, fmt.Errorf("parameter %s: default: %w", p.Name, err)
		}
		vals[p.Name] = v
	}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p, ok := known[k]
		if !ok {
			return nil, fmt.Errorf("runbook %s has no parameter %q (it has: %s)", rb.Name, k, strings.Join(rb.paramNames(), ", "))
		}
		v, err := p.Parse(set[k])
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", k, err)
		}
		vals[k] = v
	}
	return vals, nil
}

func (rb *Runbook) paramNames() []string {
	var n []string
	for _, p := range rb.Parameters {
		n = append(n, p.Name)
	}
	if len(n) == 0 {
		return []string{"none"}
	}
	return n
}

// Builtin returns the embedded runbooks, by name.
func Builtin() ([]*Runbook, error) {
	return loadFS(builtinFS, "builtin", func(p string) string { return "builtin" })
}

// LoadDir reads every *.yaml and *.yml file of dir. The first malformed
// file is an error naming it.
func LoadDir(dir string) ([]*Runbook, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("runbook folder: %w", err)
	}
	return loadFS(os.DirFS(dir), ".", func(p string) string { return filepath.Join(dir, p) })
}

func loadFS(fsys fs.FS, root string, source func(string) string) ([]*Runbook, error) {
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return nil, err
	}
	var out []*Runbook
	names := map[string]string{}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		p := e.Name()
		if root != "." {
			p = root + "/" + e.Name()
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		src := source(e.Name())
		if src == "builtin" {
			src = "builtin/" + e.Name()
		}
		rb, err := Parse(data, src)
		if err != nil {
			return nil, err
		}
		if other, dup := names[rb.Name]; dup {
			return nil, fmt.Errorf("%s: runbook %q is also defined in %s", src, rb.Name, other)
		}
		names[rb.Name] = src
		out = append(out, rb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Catalog is the built-in runbooks plus those of dir (which replace a
// built-in of the same name).
func Catalog(dir string) ([]*Runbook, error) {
	all, err := Builtin()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return all, nil
	}
	extra, err := LoadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, rb := range extra {
		all = slices.DeleteFunc(all, func(b *Runbook) bool { return b.Name == rb.Name })
		all = append(all, rb)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all, nil
}

// Find returns the runbook called name, or an error listing those there are.
func Find(all []*Runbook, name string) (*Runbook, error) {
	var names []string
	for _, rb := range all {
		if rb.Name == name {
			return rb, nil
		}
		names = append(names, rb.Name)
	}
	return nil, fmt.Errorf("unknown runbook %q; available: %s", name, strings.Join(names, ", "))
}
