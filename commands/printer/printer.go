// Package printer is the one output layer of nexus: every command hands it a
// value and a table view of that value, and the -o flag decides which is
// written. Tables are styled on a terminal and plain tab-separated text off
// one, so that scripts can cut and awk them.
package printer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"sigs.k8s.io/yaml"

	"github.com/nexus-compliance/nexus/commands/iostreams"
)

// Format is an output format chosen with -o.
type Format string

// The formats every command supports.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
	FormatJSONL Format = "jsonl"
)

// Formats lists the accepted values of -o, for help text and completion.
var Formats = []string{string(FormatTable), string(FormatJSON), string(FormatYAML), string(FormatJSONL)}

// ParseFormat validates the value of -o.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatTable, FormatJSON, FormatYAML, FormatJSONL:
		return f, nil
	case "":
		return FormatTable, nil
	}
	return "", fmt.Errorf("unknown output format %q: use one of %s", s, strings.Join(Formats, ", "))
}

// Table is how a value looks in table format. With Detail set, Rows are
// label/value pairs printed one per line (the shape of a "describe" view).
type Table struct {
	Headers []string
	Rows    [][]string
	Detail  bool
}

// Printer writes results to the command's stdout.
type Printer struct {
	io     *iostreams.IOStreams
	format Format
}

// New returns a printer for the given streams and format.
func New(ios *iostreams.IOStreams, format Format) *Printer {
	return &Printer{io: ios, format: format}
}

// Format is the format this printer writes.
func (p *Printer) Format() Format { return p.format }

// IsStructured reports whether the output is for machines (json, yaml, jsonl).
func (p *Printer) IsStructured() bool { return p.format != FormatTable }

// Print writes v. The table view is built only when the format is table, so
// commands may compute it lazily.
func (p *Printer) Print(v any, table func() Table) error {
	switch p.format {
	case FormatJSON:
		return writeJSON(p.io.Out, v, true)
	case FormatJSONL:
		items, ok := asSlice(v)
		if !ok {
			return writeJSON(p.io.Out, v, false)
		}
		for _, it := range items {
			if err := writeJSON(p.io.Out, it, false); err != nil {
				return err
			}
		}
		return nil
	case FormatYAML:
		return writeYAML(p.io.Out, v)
	}
	return p.renderTable(table())
}

func (p *Printer) renderTable(t Table) error {
	if t.Detail {
		return p.renderDetail(t)
	}
	if !p.io.IsStdoutTTY() {
		var b strings.Builder
		for _, r := range t.Rows {
			b.WriteString(strings.Join(sanitizeRow(r), "\t"))
			b.WriteByte('\n')
		}
		_, err := io.WriteString(p.io.Out, b.String())
		return err
	}
	if len(t.Rows) == 0 {
		return nil
	}
	var buf bytes.Buffer
	tbl := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenRows: tw.Off, BetweenColumns: tw.Off, ShowHeader: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "   ", Overwrite: true}),
		tablewriter.WithTrimSpace(tw.Off),
	)
	tbl.Header(anySlice(t.Headers)...)
	for _, r := range t.Rows {
		if err := tbl.Append(anySlice(sanitizeRow(r))...); err != nil {
			return err
		}
	}
	if err := tbl.Render(); err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	header := p.style().Bold(true)
	var b strings.Builder
	for i, l := range lines {
		l = strings.TrimRight(l, " ")
		if i == 0 && p.io.ColorEnabled() {
			l = header.Render(l)
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(p.io.Out, b.String())
	return err
}

func (p *Printer) renderDetail(t Table) error {
	width := 0
	for _, r := range t.Rows {
		if len(r) > 0 && len(r[0]) > width {
			width = len(r[0])
		}
	}
	label := p.style().Bold(true)
	var b strings.Builder
	for _, r := range t.Rows {
		if len(r) < 2 {
			continue
		}
		if !p.io.IsStdoutTTY() {
			fmt.Fprintf(&b, "%s\t%s\n", r[0], r[1])
			continue
		}
		name := fmt.Sprintf("%-*s", width+1, r[0]+":")
		if p.io.ColorEnabled() {
			name = label.Render(name)
		}
		fmt.Fprintf(&b, "%s  %s\n", name, r[1])
	}
	_, err := io.WriteString(p.io.Out, b.String())
	return err
}

// style returns a lipgloss style bound to stdout. The colour decision is
// ours (TTY, NO_COLOR, --no-color), not lipgloss's own detection, so the
// profile is forced once colour is allowed.
func (p *Printer) style() lipgloss.Style {
	r := lipgloss.NewRenderer(p.io.Out)
	if p.io.ColorEnabled() {
		r.SetColorProfile(termenv.ANSI)
	}
	return r.NewStyle()
}

// sanitizeRow keeps one row on one line: tabs and newlines inside a cell would
// break both the terminal table and the tab-separated form.
func sanitizeRow(r []string) []string {
	out := make([]string, len(r))
	for i, c := range r {
		out[i] = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ").Replace(c)
	}
	return out
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func writeJSON(w io.Writer, v any, indent bool) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

func writeYAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func marshalIndent(v any, prefix string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
