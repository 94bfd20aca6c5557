// Package show is `nexus catalog show`.
package show

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/catalog/controls"
	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	dbshared "github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
)

// Options are the inputs of `nexus catalog show`.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() (*printer.Printer, error)
	Open    catshared.Opener
	Context context.Context

	Key   string
	Store string
}

// NewCmd builds `nexus catalog show`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer}
	opts.Open = catshared.NewOpener(f, &opts.Store)
	cmd := &cobra.Command{
		Use:   "show KEY",
		Short: "Show a control with its approved mappings, or a framework",
		Long: `Show one control of the catalog: its framework, id, title, family, parent, status,
statement and guidance, its enhancements, and the APPROVED mappings from it (when it is a
source control) and to it (when it is a target). KEY is {framework}#{version}#{controlId};
a framework key ({name}#{version}) shows the framework instead.

An unknown control exits 5 and suggests close keys.`,
		Example: `  nexus catalog show AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED
  nexus catalog show 'NIST-SP-800-53#R5#SC-28' -o json | jq '.mappingsTo[].controlKey'
  nexus catalog show NIST-SP-800-53#R5`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.FlagErrorf("expected one KEY, e.g. nexus catalog show %s", pipeline.ExampleControlKey)
			}
			return nil
		},
		ValidArgsFunction: catshared.CompleteControls(opts.Open),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Key = strings.TrimSpace(args[0])
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	catshared.AddStoreFlag(cmd, &opts.Store)
	return cmd
}

// Mapping is an approved mapping from or to the control, with the other
// control's title.
type Mapping struct {
	pipeline.Mapping
	OtherTitle string `json:"otherTitle,omitempty"`
}

// ControlView is `show` of a control.
type ControlView struct {
	pipeline.Control
	Enhancements []string  `json:"enhancements,omitempty"`
	MappingsFrom []Mapping `json:"mappingsFrom"`
	MappingsTo   []Mapping `json:"mappingsTo"`
}

// FrameworkView is `show` of a framework.
type FrameworkView struct {
	pipeline.Framework
	Controls  int            `json:"controls"`
	Withdrawn int            `json:"withdrawn"`
	Families  map[string]int `json:"families,omitempty"`
}

// Run shows the key.
func Run(opts *Options) error {
	isFramework := pipeline.ValidateFrameworkKey(opts.Key) == nil
	if !isFramework {
		if err := pipeline.ValidateControlKey(opts.Key); err != nil {
			return cmdutil.FlagErrorf("%v (or a framework key such as %s)", err, pipeline.ExampleFrameworkKey)
		}
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	ctx := opts.Context
	store, err := opts.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	catshared.NoteSeeded(opts.IO, store)
	if isFramework {
		return showFramework(ctx, opts, p, store)
	}
	return showControl(ctx, opts, p, store)
}

func showFramework(ctx context.Context, opts *Options, p *printer.Printer, store pipeline.Store) error {
	fw, err := store.Framework(ctx, opts.Key)
	if errors.Is(err, pipeline.ErrNotFound) {
		return controls.FrameworkNotFound(ctx, store, opts.Key)
	}
	if err != nil {
		return err
	}
	cs, err := store.Controls(ctx, fw.Key)
	if err != nil {
		return err
	}
	v := FrameworkView{Framework: fw, Controls: len(cs), Families: map[string]int{}}
	for _, c := range cs {
		if c.Withdrawn {
			v.Withdrawn++
		}
		if c.Family != "" {
			v.Families[c.Family]++
		}
	}
	return p.Print(v, func() printer.Table {
		rows := [][]string{{"Framework", fw.Key}, {"Name", fw.Name}, {"Version", fw.Version}}
		for _, r := range [][2]string{{"Title", fw.Title}, {"Description", fw.Description}, {"Source", fw.Source}} {
			if r[1] != "" {
				rows = append(rows, []string{r[0], r[1]})
			}
		}
		rows = append(rows, []string{"Controls", fmt.Sprintf("%d (%d withdrawn)", v.Controls, v.Withdrawn)})
		if len(v.Families) > 0 {
			var fams []string
			for f, n := range v.Families {
				fams = append(fams, fmt.Sprintf("%s %d", f, n))
			}
			sort.Strings(fams)
			rows = append(rows, []string{"Families", strings.Join(fams, ", ")})
		}
		return printer.Table{Detail: true, Rows: rows}
	})
}

func showControl(ctx context.Context, opts *Options, p *printer.Printer, store pipeline.Store) error {
	c, err := store.Control(ctx, opts.Key)
	if errors.Is(err, pipeline.ErrNotFound) {
		fw, _, _ := pipeline.SplitControlKey(opts.Key)
		_, _, verr := mapper.ValidateControl(ctx, store, opts.Key, fw)
		if verr == nil {
			verr = &mapper.ControlNotFoundError{Key: opts.Key}
		}
		return catshared.Err(verr)
	}
	if err != nil {
		return err
	}
	v := ControlView{Control: c, MappingsFrom: []Mapping{}, MappingsTo: []Mapping{}}
	siblings, err := store.Controls(ctx, c.FrameworkKey)
	if err != nil {
		return err
	}
	for _, s := range siblings {
		if s.Parent != "" && strings.EqualFold(s.Parent, c.ID) {
			v.Enhancements = append(v.Enhancements, s.ID)
		}
	}
	from, err := store.MappingsForControl(ctx, c.Key)
	if err != nil {
		return err
	}
	approved, err := store.MappingsByStatus(ctx, pipeline.MappingApproved)
	if err != nil {
		return err
	}
	titles := map[string]string{}
	title := func(key string) string {
		if t, ok := titles[key]; ok {
			return t
		}
		o, err := store.Control(ctx, key)
		titles[key] = o.Title
		if err != nil {
			titles[key] = ""
		}
		return titles[key]
	}
	for _, m := range from {
		if m.Status == pipeline.MappingApproved {
			v.MappingsFrom = append(v.MappingsFrom, Mapping{Mapping: m, OtherTitle: title(m.MappedControlKey)})
		}
	}
	for _, m := range approved {
		if m.MappedControlKey == c.Key {
			v.MappingsTo = append(v.MappingsTo, Mapping{Mapping: m, OtherTitle: title(m.ControlKey)})
		}
	}
	if err := p.Print(v, func() printer.Table { return detail(v, opts.IO.IsStdoutTTY()) }); err != nil {
		return err
	}
	if p.IsStructured() || len(v.MappingsFrom)+len(v.MappingsTo) == 0 {
		return nil
	}
	tty := opts.IO.IsStdoutTTY()
	if tty {
		fmt.Fprintln(opts.IO.Out)
	}
	return p.Print(nil, func() printer.Table { return mappingsTable(v, tty) })
}

func detail(v ControlView, tty bool) printer.Table {
	status := "live"
	if v.Withdrawn {
		status = "withdrawn"
	}
	rows := [][]string{{"Control", v.Key}, {"Framework", v.FrameworkKey}, {"ID", v.ID}, {"Title", v.Title}}
	for _, r := range [][2]string{{"Family", v.Family}, {"Parent", v.Parent}} {
		if r[1] != "" {
			rows = append(rows, []string{r[0], r[1]})
		}
	}
	rows = append(rows, []string{"Status", status})
	if v.Description != "" {
		rows = append(rows, []string{"Statement", v.Description})
	}
	if v.Guidance != "" {
		g := v.Guidance
		if tty {
			g = dbshared.Truncate(g, 300)
		}
		rows = append(rows, []string{"Guidance", g})
	}
	if len(v.Enhancements) > 0 {
		rows = append(rows, []string{"Enhancements", strings.Join(v.Enhancements, ", ")})
	}
	rows = append(rows, []string{"Approved mappings", fmt.Sprintf("%d from, %d to", len(v.MappingsFrom), len(v.MappingsTo))})
	return printer.Table{Detail: true, Rows: rows}
}

func mappingsTable(v ControlView, tty bool) printer.Table {
	t := printer.Table{Headers: []string{"DIRECTION", "CONTROL", "TITLE", "SCORE"}}
	add := func(dir, key, title string, score *float64) {
		if tty {
			title = dbshared.Truncate(title, 50)
		}
		s := "-"
		if score != nil {
			s = strconv.FormatFloat(*score, 'f', 3, 64)
		}
		t.Rows = append(t.Rows, []string{dir, key, title, s})
	}
	for _, m := range v.MappingsFrom {
		add("to", m.MappedControlKey, m.OtherTitle, m.RerankScore)
	}
	for _, m := range v.MappingsTo {
		add("from", m.ControlKey, m.OtherTitle, m.RerankScore)
	}
	return t
}
