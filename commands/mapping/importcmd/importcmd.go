// Package importcmd is `nexus mapping import`: create mappings in bulk
// through the Nexus API (POST /api/v1/batchMappings) from a JSON or CSV file.
package importcmd

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/mapping/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
	"github.com/nexus-compliance/nexus/pipeline/api/client"
)

// Columns are the CSV header's columns; the two control keys are required.
var Columns = []string{"source_control_key", "target_control_key", "similarity_score", "rerank_score", "reasoning"}

// ProgressMin is the number of rows from which a terminal shows progress.
const ProgressMin = 2 * api.MaxBatchMappings

// Options are the inputs of `nexus mapping import`.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() (*printer.Printer, error)
	API     *apiclient.Source
	Context context.Context

	File   string
	Format string
	DryRun bool
}

// NewCmd builds `nexus mapping import`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer, API: apiclient.NewSource(f)}
	cmd := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Create mappings in bulk through the Nexus API",
		Long: `Create mappings from a JSON or CSV file (- reads stdin) through the Nexus API
(POST /api/v1/batchMappings, 100 mappings per request).

JSON is an array of mappings or {"mappings": [...]}, each
  {"source_control_key": ..., "target_control_key": ..., "similarity_score": 0.8, "rerank_score": 0.9, "reasoning": ...}
CSV has the header
  source_control_key,target_control_key,similarity_score,rerank_score,reasoning
The format follows --format, else the file's extension, else its first character.

Every row is checked first (control keys, scores from 0 to 1 or empty); any bad row
is a usage error (exit 2) that names each bad line, and nothing is sent. Then each
mapping's outcome is shown; exit 3 when any failed. --dry-run checks and shows what
would be sent without sending it.`,
		Example: `  nexus mapping import mappings.csv
  nexus mapping import reviewed.json --dry-run
  cat mappings.csv | nexus mapping import - --format csv -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "", "input format: json or csv (default: by extension, else sniffed)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "check the rows and show what would be sent; send nothing")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json", "csv"}, cobra.ShellCompDirectiveNoFileComp))
	apiclient.AddFlag(cmd, opts.API)
	return cmd
}

// Row is one mapping of the input and the line it starts on.
type Row struct {
	Line int                   `json:"line"`
	Item api.MappingCreateItem `json:"mapping"`
}

// Result is the outcome of one row.
type Result struct {
	Line       int    `json:"line"`
	MappingKey string `json:"mappingKey"`
	Status     string `json:"status"`
	Error      string `json:"error,omitempty"`
}

// Summary is the structured output of an import.
type Summary struct {
	Created int      `json:"created"`
	Failed  int      `json:"failed"`
	Results []Result `json:"results"`
}

// Run imports the file.
func Run(opts *Options) error {
	format := strings.ToLower(strings.TrimSpace(opts.Format))
	if format != "" && format != "json" && format != "csv" {
		return cmdutil.FlagErrorf("invalid --format %q: use json or csv", opts.Format)
	}
	data, name, err := read(opts)
	if err != nil {
		return err
	}
	rows, err := Parse(data, name, format)
	if err != nil {
		return err
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	if opts.DryRun {
		return dryRun(opts, p, rows)
	}
	c, err := opts.API.Mapping(opts.Context)
	if err != nil {
		return err
	}
	sum, sendErr := Send(opts.Context, opts.IO, c, rows)
	if err := p.Print(sum, func() printer.Table { return table(sum) }); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Created %d of %d mappings; %d failed.\n", sum.Created, len(rows), sum.Failed)
	if err := opts.Context.Err(); err != nil {
		return err
	}
	if sendErr != nil && (client.IsAuth(sendErr) || sum.Created == 0) {
		return apiclient.Err(sendErr)
	}
	if sum.Failed > 0 {
		return &cmdutil.ProblemsError{Msg: fmt.Sprintf("%d of %d mappings failed", sum.Failed, len(rows))}
	}
	return nil
}

func read(opts *Options) ([]byte, string, error) {
	if opts.File == "-" {
		if opts.IO.In == nil {
			return nil, "", cmdutil.FlagErrorf("no standard input to read")
		}
		b, err := io.ReadAll(opts.IO.In)
		return b, "stdin", err
	}
	b, err := os.ReadFile(opts.File)
	if err != nil {
		return nil, "", &cmdutil.FlagError{Err: err}
	}
	return b, opts.File, nil
}

// Detect is the format of data named name: the extension, else the first
// character ([ or { is JSON, anything else CSV).
func Detect(data []byte, name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return "json"
	case ".csv":
		return "csv"
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(data, bom), " \t\r\n")
	if len(t) > 0 && (t[0] == '[' || t[0] == '{') {
		return "json"
	}
	return "csv"
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// Parse reads and checks every row; all the bad rows come back as one
// usage error naming their lines.
func Parse(data []byte, name, format string) ([]Row, error) {
	if format == "" {
		format = Detect(data, name)
	}
	data = bytes.TrimPrefix(data, bom)
	var (
		rows []Row
		bad  []string
		err  error
	)
	if format == "json" {
		rows, bad, err = parseJSON(data)
	} else {
		rows, bad, err = parseCSV(data)
	}
	if err != nil {
		return nil, cmdutil.FlagErrorf("reading %s as %s: %v", name, strings.ToUpper(format), err)
	}
	seen := map[string]int{}
	for _, r := range rows {
		if msgs := check(r.Item); len(msgs) > 0 {
			bad = append(bad, fmt.Sprintf("line %d: %s", r.Line, strings.Join(msgs, "; ")))
			continue
		}
		k := pipeline.MappingKey(r.Item.SourceControlKey, r.Item.TargetControlKey)
		if prev, dup := seen[k]; dup {
			bad = append(bad, fmt.Sprintf("line %d: the same mapping as line %d", r.Line, prev))
			continue
		}
		seen[k] = r.Line
	}
	if len(bad) > 0 {
		return nil, cmdutil.FlagErrorf("%s: %d invalid %s; nothing was sent:\n  %s", name, len(bad), plural(len(bad), "row"), strings.Join(bad, "\n  "))
	}
	if len(rows) == 0 {
		return nil, cmdutil.FlagErrorf("%s holds no mappings", name)
	}
	return rows, nil
}

func check(it api.MappingCreateItem) []string {
	var msgs []string
	if err := pipeline.ValidateControlKey(it.SourceControlKey); err != nil {
		msgs = append(msgs, "source_control_key: "+err.Error())
	}
	if err := pipeline.ValidateControlKey(it.TargetControlKey); err != nil {
		msgs = append(msgs, "target_control_key: "+err.Error())
	}
	if len(msgs) == 0 && it.SourceControlKey == it.TargetControlKey {
		msgs = append(msgs, "a control cannot map to itself")
	}
	for _, s := range []struct {
		name string
		v    *float64
	}{{"similarity_score", it.SimilarityScore}, {"rerank_score", it.RerankScore}} {
		if s.v != nil && (math.IsNaN(*s.v) || *s.v < 0 || *s.v > 1) {
			msgs = append(msgs, fmt.Sprintf("%s %g is outside 0..1", s.name, *s.v))
		}
	}
	return msgs
}

type jsonItem struct {
	SourceControlKey string   `json:"source_control_key"`
	TargetControlKey string   `json:"target_control_key"`
	SimilarityScore  *float64 `json:"similarity_score"`
	RerankScore      *float64 `json:"rerank_score"`
	Reasoning        string   `json:"reasoning"`
}

// parseJSON reads an array of mappings or {"mappings": [...]}: each
// element's line, and the elements that are not mappings as bad rows.
func parseJSON(data []byte) ([]Row, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if tok == json.Delim('{') {
		found := false
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, nil, err
			}
			if k == "mappings" {
				found = true
				break
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, nil, err
			}
		}
		if !found {
			return nil, nil, errors.New(`expected an array of mappings or {"mappings": [...]}`)
		}
		if tok, err = dec.Token(); err != nil {
			return nil, nil, err
		}
	}
	if tok != json.Delim('[') {
		return nil, nil, errors.New(`expected an array of mappings or {"mappings": [...]}`)
	}
	var (
		rows []Row
		bad  []string
	)
	for dec.More() {
		line := lineAt(data, int(dec.InputOffset()))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", line, err)
		}
		var it jsonItem
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&it); err != nil {
			bad = append(bad, fmt.Sprintf("line %d: not a mapping: %v", line, err))
			continue
		}
		rows = append(rows, Row{Line: line, Item: api.MappingCreateItem{
			SourceControlKey: strings.TrimSpace(it.SourceControlKey), TargetControlKey: strings.TrimSpace(it.TargetControlKey),
			SimilarityScore: it.SimilarityScore, RerankScore: it.RerankScore, Reasoning: it.Reasoning,
		}})
	}
	return rows, bad, nil
}

// lineAt is the line of the first value at or after off (skipping blanks
// and the separating comma).
func lineAt(data []byte, off int) int {
	for off < len(data) && strings.IndexByte(" \t\r\n,", data[off]) >= 0 {
		off++
	}
	return 1 + bytes.Count(data[:min(off, len(data))], []byte("\n"))
}

func parseCSV(data []byte) ([]Row, []string, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		known := false
		for _, c := range Columns {
			known = known || c == h
		}
		if !known {
			return nil, nil, fmt.Errorf("line 1: unknown column %q: the header is %s", h, strings.Join(Columns, ","))
		}
		if _, dup := col[h]; dup {
			return nil, nil, fmt.Errorf("line 1: column %q appears twice", h)
		}
		col[h] = i
	}
	for _, c := range Columns[:2] {
		if _, ok := col[c]; !ok {
			return nil, nil, fmt.Errorf("line 1: the header has no %s column: it is %s", c, strings.Join(Columns, ","))
		}
	}
	var (
		rows []Row
		bad  []string
	)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			bad = append(bad, fmt.Sprintf("line %d: %d fields, the header has %d", line, len(rec), len(header)))
			continue
		}
		get := func(c string) string {
			if i, ok := col[c]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		it := api.MappingCreateItem{SourceControlKey: get("source_control_key"), TargetControlKey: get("target_control_key"), Reasoning: get("reasoning")}
		var msgs []string
		for _, s := range []struct {
			name string
			dst  **float64
		}{{"similarity_score", &it.SimilarityScore}, {"rerank_score", &it.RerankScore}} {
			v := get(s.name)
			if v == "" {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				msgs = append(msgs, fmt.Sprintf("%s %q is not a number", s.name, v))
				continue
			}
			*s.dst = &f
		}
		if len(msgs) > 0 {
			msgs = append(msgs, check(api.MappingCreateItem{SourceControlKey: it.SourceControlKey, TargetControlKey: it.TargetControlKey})...)
			bad = append(bad, fmt.Sprintf("line %d: %s", line, strings.Join(msgs, "; ")))
			continue
		}
		rows = append(rows, Row{Line: line, Item: it})
	}
	return rows, bad, nil
}

// Send creates the rows' mappings, a batch of api.MaxBatchMappings at a
// time (progress on a terminal for large imports). After an auth failure or
// a cancelled ctx the remaining rows are not sent and fail. The error is
// the first call's failure, if any.
func Send(ctx context.Context, ios *iostreams.IOStreams, c api.MappingAPI, rows []Row) (Summary, error) {
	sum := Summary{Results: make([]Result, len(rows))}
	for i, r := range rows {
		sum.Results[i] = Result{Line: r.Line, MappingKey: pipeline.MappingKey(r.Item.SourceControlKey, r.Item.TargetControlKey), Status: "FAILED"}
	}
	var bar *iostreams.Progress
	if len(rows) >= ProgressMin && ios != nil {
		bar = ios.StartProgress("Importing mappings", int64(len(rows)), "mappings")
	}
	defer bar.Stop()
	var first error
	for start := 0; start < len(rows); start += api.MaxBatchMappings {
		end := min(start+api.MaxBatchMappings, len(rows))
		if first != nil && (client.IsAuth(first) || ctx.Err() != nil) {
			for i := start; i < end; i++ {
				sum.Results[i].Error = "not sent: " + first.Error()
			}
			continue
		}
		items := make([]api.MappingCreateItem, end-start)
		for i := range items {
			items[i] = rows[start+i].Item
		}
		resp, err := c.BatchCreateMappings(ctx, items)
		if err != nil && first == nil {
			first = err
		}
		got := make([]bool, len(items))
		for _, res := range resp.Results {
			if res.Index < 0 || res.Index >= len(items) || got[res.Index] {
				continue
			}
			got[res.Index] = true
			out := &sum.Results[start+res.Index]
			out.Status, out.Error = strings.ToUpper(res.Status), res.Error
			if res.MappingKey != "" {
				out.MappingKey = res.MappingKey
			}
		}
		for i, ok := range got {
			if !ok {
				msg := "the API reported no result for this mapping"
				if err != nil {
					msg = err.Error()
				}
				sum.Results[start+i].Error = msg
			}
		}
		bar.Add(end - start)
	}
	for _, r := range sum.Results {
		if r.Status == "CREATED" {
			sum.Created++
		} else {
			sum.Failed++
		}
	}
	return sum, first
}

func table(sum Summary) printer.Table {
	t := printer.Table{Headers: []string{"ROW", "MAPPING KEY", "STATUS", "ERROR"}}
	for _, r := range sum.Results {
		t.Rows = append(t.Rows, []string{strconv.Itoa(r.Line), r.MappingKey, r.Status, r.Error})
	}
	return t
}

func dryRun(opts *Options, p *printer.Printer, rows []Row) error {
	err := p.Print(rows, func() printer.Table {
		t := printer.Table{Headers: []string{"ROW", "SOURCE", "TARGET", "SIMILARITY", "RERANK", "REASONING"}}
		for _, r := range rows {
			it := r.Item
			t.Rows = append(t.Rows, []string{strconv.Itoa(r.Line), it.SourceControlKey, it.TargetControlKey, shared.Score(it.SimilarityScore), shared.Score(it.RerankScore), it.Reasoning})
		}
		return t
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Dry run: %d %s valid; nothing was sent.\n", len(rows), plural(len(rows), "mapping"))
	return nil
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
