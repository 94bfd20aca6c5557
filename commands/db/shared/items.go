package shared

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
)

// MaxOtherColumns is how many non-key attributes the default table view
// shows.
const MaxOtherColumns = 4

// CellWidth truncates cells on a terminal; off a terminal cells are whole.
const CellWidth = 50

// ItemValue is an item as -o json|yaml|jsonl print it: plain JSON (numbers
// exact) or, with raw, DynamoDB JSON.
func ItemValue(it dynamo.Item, raw bool) any {
	if raw {
		return dynamo.ItemTyped(it)
	}
	return dynamo.ItemJSON(it)
}

// ItemWriter streams items to a printer as they arrive. The table columns
// are fixed by --columns or --projection, or chosen from the first item:
// the key attributes, then up to MaxOtherColumns others (scalars first).
type ItemWriter struct {
	io      *iostreams.IOStreams
	p       *printer.Printer
	raw     bool
	keys    []string
	columns []string
	stream  *printer.Stream
}

// NewItemWriter starts an item stream. keys are the key attributes of what
// is read (index keys first); columns may be nil.
func NewItemWriter(io *iostreams.IOStreams, p *printer.Printer, raw bool, keys, columns []string) *ItemWriter {
	return &ItemWriter{io: io, p: p, raw: raw, keys: keys, columns: columns}
}

// Write prints one item.
func (w *ItemWriter) Write(it dynamo.Item) error {
	if w.stream == nil {
		if w.columns == nil {
			w.columns = DefaultColumns(w.keys, it)
		}
		w.stream = w.p.Stream(w.columns)
	}
	var row []string
	if !w.p.IsStructured() {
		row = Row(it, w.columns, w.io.IsStdoutTTY())
	}
	return w.stream.Write(ItemValue(it, w.raw), row)
}

// Count is the number of items written.
func (w *ItemWriter) Count() int {
	if w.stream == nil {
		return 0
	}
	return w.stream.Count()
}

// Close finishes the output; with no items it prints an empty result ([]
// for json) and, on a terminal, says so on stderr.
func (w *ItemWriter) Close() error {
	if w.stream == nil {
		if w.columns == nil {
			w.columns = w.keys
		}
		w.stream = w.p.Stream(w.columns)
	}
	if w.stream.Count() == 0 && !w.p.IsStructured() && w.io.IsStdoutTTY() {
		fmt.Fprintln(w.io.ErrOut, "No items.")
	}
	return w.stream.Close()
}

// DefaultColumns are the keys, then the item's other attributes, scalars
// before collections, alphabetically, at most MaxOtherColumns of them.
func DefaultColumns(keys []string, first dynamo.Item) []string {
	cols := append([]string{}, keys...)
	isKey := map[string]bool{}
	for _, k := range keys {
		isKey[k] = true
	}
	var scalars, others []string
	for name, v := range first {
		if isKey[name] {
			continue
		}
		switch v.(type) {
		case *types.AttributeValueMemberS, *types.AttributeValueMemberN, *types.AttributeValueMemberBOOL:
			scalars = append(scalars, name)
		default:
			others = append(others, name)
		}
	}
	sort.Strings(scalars)
	sort.Strings(others)
	rest := append(scalars, others...)
	if len(rest) > MaxOtherColumns {
		rest = rest[:MaxOtherColumns]
	}
	return append(cols, rest...)
}

// Row renders an item's columns; on a terminal long cells are truncated.
func Row(it dynamo.Item, columns []string, tty bool) []string {
	row := make([]string, len(columns))
	for i, c := range columns {
		v, ok := it[c]
		if !ok {
			continue
		}
		row[i] = dynamo.Text(v)
		if tty {
			row[i] = Truncate(row[i], CellWidth)
		}
	}
	return row
}

// Truncate shortens s to width runes, ending in an ellipsis.
func Truncate(s string, width int) string {
	r := []rune(s)
	if len(r) <= width || width < 2 {
		return s
	}
	return string(r[:width-1]) + "…"
}

// DetailRows lists an item's attributes, keys first, for a describe view.
func DetailRows(it dynamo.Item, keys []string) [][]string {
	var rows [][]string
	seen := map[string]bool{}
	for _, k := range keys {
		if v, ok := it[k]; ok {
			rows = append(rows, []string{k, dynamo.Text(v)})
			seen[k] = true
		}
	}
	var rest []string
	for k := range it {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		rows = append(rows, []string{k, dynamo.Text(it[k])})
	}
	return rows
}

// ReportStop tells the user, on stderr, that a read stopped at --limit and
// how to go on.
func ReportStop(io *iostreams.IOStreams, res dynamo.Result, limit int) {
	if !res.Truncated {
		return
	}
	if res.Next == nil {
		fmt.Fprintf(io.ErrOut, "Stopped after %d items (--limit %d); more may match. Raise --limit (0 reads everything).\n", res.Items, limit)
		return
	}
	fmt.Fprintf(io.ErrOut, "Stopped after %d items (--limit %d); more may match. Resume with:\n  --starting-token %s\n", res.Items, limit, res.Next.Encode())
}

// ReadItems runs a read and streams its items to p, then reports on stderr
// whether it stopped early. A spinner counts scanned items on a terminal.
func ReadItems(ctx context.Context, io *iostreams.IOStreams, p *printer.Printer, api dynamo.PagerAPI, req dynamo.Request, page *PageFlags, label string) error {
	var columns []string
	switch {
	case len(page.Columns) > 0:
		columns = page.Columns
	case len(req.Projection) > 0:
		columns = req.Projection
	}
	w := NewItemWriter(io, p, page.Raw, req.KeyAttributes, columns)
	buffered := !p.IsStructured() || p.Format() == printer.FormatYAML
	spin := Spinner(io, buffered, label)
	req.OnPage = func(scanned, _ int) { spin.Add(scanned) }
	res, err := dynamo.Read(ctx, api, req, w.Write)
	spin.Stop()
	if err != nil {
		return Err(err, req.Table, "")
	}
	if err := w.Close(); err != nil {
		return err
	}
	ReportStop(io, res, req.Limit)
	return nil
}
