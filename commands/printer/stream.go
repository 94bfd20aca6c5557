package printer

import (
	"fmt"
	"io"
)

// Stream writes a result set item by item as pages arrive, so that scanning a
// large table never holds it in memory: json, jsonl and plain text are written
// at once; only the terminal table and yaml, which need every row to lay out,
// are buffered (and their size is bounded by the command's --limit).
type Stream struct {
	p       *Printer
	headers []string
	items   []any
	rows    [][]string
	n       int
}

// Stream starts a streamed result set with the given table headers.
func (p *Printer) Stream(headers []string) *Stream {
	return &Stream{p: p, headers: headers}
}

// Write adds one item; row is its table view.
func (s *Stream) Write(item any, row []string) error {
	defer func() { s.n++ }()
	switch s.p.format {
	case FormatJSONL:
		return writeJSON(s.p.io.Out, item, false)
	case FormatJSON:
		sep := ",\n"
		if s.n == 0 {
			sep = "[\n"
		}
		if _, err := io.WriteString(s.p.io.Out, sep); err != nil {
			return err
		}
		return writeIndentedJSON(s.p.io.Out, item)
	case FormatYAML:
		s.items = append(s.items, item)
		return nil
	}
	if !s.p.io.IsStdoutTTY() {
		return s.p.renderTable(Table{Rows: [][]string{row}})
	}
	s.rows = append(s.rows, row)
	return nil
}

// Count is the number of items written so far.
func (s *Stream) Count() int { return s.n }

// Close finishes the output (closing bracket, buffered table).
func (s *Stream) Close() error {
	switch s.p.format {
	case FormatJSON:
		if s.n == 0 {
			_, err := io.WriteString(s.p.io.Out, "[]\n")
			return err
		}
		_, err := io.WriteString(s.p.io.Out, "\n]\n")
		return err
	case FormatYAML:
		if s.items == nil {
			s.items = []any{}
		}
		return writeYAML(s.p.io.Out, s.items)
	case FormatJSONL:
		return nil
	}
	if s.p.io.IsStdoutTTY() {
		return s.p.renderTable(Table{Headers: s.headers, Rows: s.rows})
	}
	return nil
}

func writeIndentedJSON(w io.Writer, v any) error {
	b, err := marshalIndent(v, "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "  %s", b)
	return err
}
