// Package importcmd is `nexus catalog import`.
package importcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/catalog"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
)

// DownloadTimeout bounds fetching an --oscal URL.
const DownloadTimeout = 2 * time.Minute

// Options are the inputs of `nexus catalog import`.
type Options struct {
	IO         *iostreams.IOStreams
	Printer    func() (*printer.Printer, error)
	Open       catshared.Opener
	HTTPClient *http.Client
	Now        func() time.Time
	Context    context.Context

	OSCAL        string
	JSONL        string
	FrameworkKey string
	ApprovedFor  string
	Store        string
}

// NewCmd builds `nexus catalog import`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer, HTTPClient: &http.Client{Timeout: DownloadTimeout}, Now: f.Now}
	opts.Open = catshared.NewOpener(f, &opts.Store)
	cmd := &cobra.Command{
		Use:   "import (--oscal FILE|URL | --jsonl FILE --framework-key KEY)",
		Short: "Import a framework catalog (OSCAL) or source controls and their mappings (JSONL)",
		Long: `Import controls into the catalog of --store (the local store by default).

--oscal reads an OSCAL 1.0 JSON catalog, from a file or an http(s) URL, such as NIST SP
800-53 rev. 5: every control and enhancement, withdrawn ones included and marked. The
framework key is derived from the catalog's title and version (NIST-SP-800-53#R5) unless
--framework-key names it. Importing again replaces the controls with the same keys.

--jsonl reads source controls, one JSON object a line with source_id, title, description
and targets (the shape of the cdk-nag AWS Config → NIST 800-53 table), into the framework
--framework-key. With --approved-for FW_KEY each line's targets also become APPROVED
mappings to that framework's controls, which the mapping memory learns from.

A summary goes to stderr; -o json also prints it on stdout.`,
		Example: `  # NIST SP 800-53 rev. 5 from a file, then from the published URL
  nexus catalog import --oscal NIST_SP-800-53_rev5_catalog.json
  nexus catalog import --oscal https://raw.githubusercontent.com/usnistgov/oscal-content/main/nist.gov/SP800-53/rev5/json/NIST_SP-800-53_rev5_catalog.json

  # AWS Config rules with their published NIST mappings, as approved mappings
  nexus catalog import --jsonl cdknag-awsconfig-aws-to-nist80053r5.jsonl \
    --framework-key AWS.ConfigRules#1.0 --approved-for NIST-SP-800-53#R5

  # Into the deployed tables instead of the local store
  nexus catalog import --oscal catalog.json --store dynamodb --env staging`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.OSCAL, "oscal", "", "OSCAL 1.0 JSON catalog to import: a file or an http(s) URL")
	fl.StringVar(&opts.JSONL, "jsonl", "", "JSONL file of source controls (source_id, title, description, targets)")
	fl.StringVar(&opts.FrameworkKey, "framework-key", "", "framework key of the imported controls, {name}#{version} (--oscal: derived from the catalog when empty)")
	fl.StringVar(&opts.ApprovedFor, "approved-for", "", "with --jsonl: record each line's targets as APPROVED mappings to this framework")
	catshared.AddStoreFlag(cmd, &opts.Store)
	_ = cmd.MarkFlagFilename("oscal", "json")
	_ = cmd.MarkFlagFilename("jsonl", "jsonl", "json")
	_ = cmd.RegisterFlagCompletionFunc("framework-key", catshared.CompleteFrameworks(opts.Open))
	_ = cmd.RegisterFlagCompletionFunc("approved-for", catshared.CompleteFrameworks(opts.Open))
	return cmd
}

// Summary is what an import wrote.
type Summary struct {
	FrameworkKey string `json:"frameworkKey"`
	Title        string `json:"title,omitempty"`
	Source       string `json:"source"`
	Controls     int    `json:"controls"`
	Withdrawn    int    `json:"withdrawn"`
	Mappings     int    `json:"mappings"`
	// UnknownTargets counts mappings to controls the target framework does
	// not hold (imported all the same).
	UnknownTargets int    `json:"unknownTargets,omitempty"`
	Store          string `json:"store"`
	Location       string `json:"location"`
}

func validate(opts *Options) error {
	switch {
	case opts.OSCAL == "" && opts.JSONL == "":
		return cmdutil.FlagErrorf("give --oscal FILE|URL or --jsonl FILE --framework-key KEY")
	case opts.OSCAL != "" && opts.JSONL != "":
		return cmdutil.FlagErrorf("--oscal and --jsonl cannot be used together: import one file at a time")
	case opts.JSONL != "" && opts.FrameworkKey == "":
		return cmdutil.FlagErrorf("--jsonl needs --framework-key: the framework its controls belong to, e.g. AWS.ConfigRules#1.0")
	case opts.OSCAL != "" && opts.ApprovedFor != "":
		return cmdutil.FlagErrorf("--approved-for applies to --jsonl imports only")
	}
	for flag, v := range map[string]string{"--framework-key": opts.FrameworkKey, "--approved-for": opts.ApprovedFor} {
		if v == "" {
			continue
		}
		if err := pipeline.ValidateFrameworkKey(v); err != nil {
			return cmdutil.FlagErrorf("invalid %s: %v", flag, err)
		}
	}
	return catshared.CheckStoreKind(opts.Store)
}

// Run imports.
func Run(opts *Options) error {
	if err := validate(opts); err != nil {
		return err
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	ctx := opts.Context
	src := opts.OSCAL
	if src == "" {
		src = opts.JSONL
	}
	in, size, err := openSource(ctx, opts.HTTPClient, src, opts.OSCAL != "")
	if err != nil {
		return err
	}
	defer in.Close()
	bar := opts.IO.StartProgress("Reading "+displayName(src), size, "B")
	r := &countingReader{r: in, add: bar.Add}

	var (
		fw       pipeline.Framework
		controls []pipeline.Control
		mappings []pipeline.Mapping
	)
	if opts.OSCAL != "" {
		fw, controls, err = catalog.ParseOSCAL(r, opts.FrameworkKey)
		if err == nil {
			fw.Source = strings.TrimSpace(fw.Source + " from " + src)
		}
	} else {
		target := opts.ApprovedFor
		if target == "" {
			target = pipeline.ExampleFrameworkKey // the parser needs one; its mappings are dropped
		}
		controls, mappings, err = catalog.ParseMappingJSONL(r, opts.FrameworkKey, target)
		if opts.ApprovedFor == "" {
			mappings = nil
		}
	}
	bar.Stop()
	if err != nil {
		return fmt.Errorf("reading %s: %w", src, err)
	}

	store, err := opts.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	catshared.NoteSeeded(opts.IO, store)
	sum := Summary{Source: src, Store: store.Kind, Location: store.Location, Controls: len(controls), Mappings: len(mappings)}
	for _, c := range controls {
		if c.Withdrawn {
			sum.Withdrawn++
		}
	}
	if opts.JSONL != "" {
		if fw, err = jsonlFramework(ctx, store, opts.FrameworkKey, src); err != nil {
			return err
		}
		if opts.ApprovedFor != "" {
			if sum.UnknownTargets, err = checkTargets(ctx, store, opts.ApprovedFor, mappings); err != nil {
				return err
			}
		}
	}
	sum.FrameworkKey, sum.Title = fw.Key, fw.Title

	bar = opts.IO.StartProgress(fmt.Sprintf("Writing %d controls", len(controls)), -1, "")
	err = write(ctx, store, fw, controls, mappings, opts.Now(), src)
	bar.Stop()
	if err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.ErrOut, summaryLine(sum, opts.ApprovedFor))
	if p.IsStructured() {
		return p.Print(sum, nil)
	}
	return nil
}

func write(ctx context.Context, store pipeline.Store, fw pipeline.Framework, controls []pipeline.Control, ms []pipeline.Mapping, now time.Time, src string) error {
	if err := store.PutFramework(ctx, fw); err != nil {
		return fmt.Errorf("writing framework %s: %w", fw.Key, err)
	}
	if err := store.PutControls(ctx, controls); err != nil {
		return fmt.Errorf("writing the controls of %s: %w", fw.Key, err)
	}
	if len(ms) == 0 {
		return nil
	}
	ts := now.UTC().Format(time.RFC3339)
	for i := range ms {
		if ms[i].CreatedBy == nil {
			ms[i].CreatedBy = map[string]any{"name": "nexus catalog import", "source": src}
		}
		if ms[i].Timestamp == "" {
			ms[i].Timestamp = ts
		}
	}
	if err := store.PutMappings(ctx, ms); err != nil {
		return fmt.Errorf("writing the mappings: %w", err)
	}
	return nil
}

// jsonlFramework is the framework row of a --jsonl import: the existing
// one, or a new one named after the key.
func jsonlFramework(ctx context.Context, store pipeline.Store, key, src string) (pipeline.Framework, error) {
	fw, err := store.Framework(ctx, key)
	if err == nil {
		return fw, nil
	}
	if !errors.Is(err, pipeline.ErrNotFound) {
		return fw, err
	}
	name, version, _ := strings.Cut(key, "#")
	return pipeline.Framework{Key: key, Name: name, Version: version, Title: name + " " + version, Source: "JSONL from " + src}, nil
}

// checkTargets requires the --approved-for framework to exist and counts
// the mappings whose target it does not hold.
func checkTargets(ctx context.Context, store pipeline.Store, fwKey string, ms []pipeline.Mapping) (int, error) {
	if _, err := store.Framework(ctx, fwKey); err != nil {
		if errors.Is(err, pipeline.ErrNotFound) {
			fws, _ := store.Frameworks(ctx)
			nf := &mapper.FrameworkNotFoundError{Key: fwKey}
			for _, f := range fws {
				nf.Available = append(nf.Available, f.Key)
			}
			return 0, catshared.Err(nf)
		}
		return 0, err
	}
	cs, err := store.Controls(ctx, fwKey)
	if err != nil {
		return 0, err
	}
	known := make(map[string]bool, len(cs))
	for _, c := range cs {
		known[c.Key] = true
	}
	n := 0
	for _, m := range ms {
		if !known[m.MappedControlKey] {
			n++
		}
	}
	return n, nil
}

func summaryLine(s Summary, approvedFor string) string {
	where := "the local store " + s.Location
	if s.Store != catshared.StoreLocal {
		where = s.Location
	}
	msg := fmt.Sprintf("Imported %s: %d controls (%d withdrawn)", s.FrameworkKey, s.Controls, s.Withdrawn)
	if approvedFor != "" {
		msg += fmt.Sprintf(" and %d approved mappings to %s", s.Mappings, approvedFor)
		if s.UnknownTargets > 0 {
			msg += fmt.Sprintf(" (%d to controls %s does not hold)", s.UnknownTargets, approvedFor)
		}
	}
	return msg + " into " + where + "."
}

// openSource opens a file, or fetches an http(s) URL when urls is true, and
// returns its size when known (-1 otherwise).
func openSource(ctx context.Context, client *http.Client, src string, urls bool) (io.ReadCloser, int64, error) {
	if u, err := url.Parse(src); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		if !urls {
			return nil, 0, cmdutil.FlagErrorf("--jsonl reads a file; download %s first", src)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, 0, cmdutil.FlagErrorf("invalid URL %s: %v", src, err)
		}
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, 0, fmt.Errorf("downloading %s: %w", src, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, 0, fmt.Errorf("downloading %s: %s", src, resp.Status)
		}
		return resp.Body, resp.ContentLength, nil
	}
	f, err := os.Open(src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, 0, &cmdutil.NotFoundError{What: "file", Name: src}
		}
		return nil, 0, err
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	return f, size, nil
}

func displayName(src string) string {
	if i := strings.LastIndexAny(src, `/\`); i >= 0 && i < len(src)-1 {
		return src[i+1:]
	}
	return src
}

type countingReader struct {
	r   io.Reader
	add func(int)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.add(n)
	}
	return n, err
}
