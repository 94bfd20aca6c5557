// Package shared holds what `nexus map` and `nexus map batch` share: the
// hooks that choose the scorers and the reasoner, the flags of one mapping,
// the API's response shapes, and stage progress on a terminal.
package shared

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
	"github.com/nexus-compliance/nexus/pipeline/onnx"
	"github.com/nexus-compliance/nexus/pipeline/science"
)

// ScorerRequest says what the scorers are built for.
type ScorerRequest struct {
	// FrameworkKey is the target framework.
	FrameworkKey string
	// Threshold is --threshold when the user gave it; nil leaves the
	// scorer's own default.
	Threshold *float64
	// Embedder, when set, adds its cosine similarity to the fusion.
	Embedder pipeline.Embedder
}

// ScorersFunc builds the retriever and reranker that score the controls of
// one target framework, reading what they need from the store (the mapping
// memory reads the approved mappings). It is called once per framework per
// command, so building indexes here is fine.
type ScorersFunc func(ctx context.Context, store pipeline.Store, req ScorerRequest) (pipeline.Retriever, pipeline.Reranker, error)

// ReasonerFunc builds the reasoner of --reasoning template.
type ReasonerFunc func(ctx context.Context, store pipeline.Store) (pipeline.Reasoner, error)

// DefaultScorers is the scorer nexus maps with: RankScorers, the fusion of
// mapping memory and lexical scoring. The commands copy it into their
// options, where tests replace it.
var DefaultScorers ScorersFunc = RankScorers

// DefaultReasoner is the reasoner of --reasoning template. When it is nil,
// mappings carry no reasoning and a warning says so.
var DefaultReasoner ReasonerFunc = TemplateReasoner

// The values of --mode and --reasoning.
var (
	Modes          = []string{"auto", "local", "remote"}
	ReasoningKinds = []string{"template", "strands", "bedrock", "off"}
	EnrichKinds    = []string{"none", "strands", "bedrock"}
)

// Flags are the flags of one mapping, shared by `map` and `map batch`.
type Flags struct {
	Framework string
	Targets   []string
	TopK      int
	Threshold float64
	Mode      string
	Store     string
	Reasoning string
	// The neural scorers: a bi-encoder whose cosine joins the fusion, and
	// a cross-encoder that replaces the feature reranker.
	ModelDir    string
	RerankerDir string
	Device      string
	// Retriever is fusion (BM25F + memory, plus the bi-encoder's cosine
	// when given) or embedding (the seed's flow: cosine top-k over cached
	// embeddings, then the fusion's features rerank).
	Retriever string
	// Remote enrichment and reasoning.
	Enrich       string
	StrandsURL   string
	BedrockModel string
	// ScienceURL is --science-endpoint: the science service
	// (NexusECSService) that retrieves and reranks instead of the
	// in-process scorers.
	ScienceURL string
	// ThresholdSet says --threshold was given.
	ThresholdSet bool
}

// AddFlags adds the mapping flags to cmd. open completes --framework.
func AddFlags(cmd *cobra.Command, fl *Flags, open catshared.Opener, targets bool) {
	f := cmd.Flags()
	f.StringVarP(&fl.Framework, "framework", "F", "", "target framework key, {name}#{version} (e.g. NIST-SP-800-53#R5)")
	if targets {
		f.StringSliceVar(&fl.Targets, "targets", nil, "map only to these control ids of the framework, comma-separated (e.g. AC-2,SC-28)")
	}
	f.IntVar(&fl.TopK, "top-k", mapper.DefaultTopK, "candidates kept by retrieval")
	f.Float64Var(&fl.Threshold, "threshold", 0, "drop mappings whose rerank score is below this (0–1)")
	f.StringVar(&fl.Mode, "mode", "auto", "where the pipeline runs: remote (the Nexus API), local (in this process) or auto (remote when an API URL is known, else local)")
	catshared.AddStoreFlag(cmd, &fl.Store)
	f.StringVar(&fl.Reasoning, "reasoning", "template", "justification of each mapping: template (from the evidence, offline), strands (/api/v1/reason), bedrock (Converse) or off")
	f.StringVar(&fl.Enrich, "enrich", "none", "enrich a control that has no cached enrichment: none, strands (/api/v1/enrich) or bedrock")
	f.StringVar(&fl.StrandsURL, "strands-endpoint", "", "NexusStrandsAgentService base URL (default: the environment's strands_url, STRANDS_SERVICE_ENDPOINT)")
	f.StringVar(&fl.ScienceURL, "science-endpoint", "", "NexusECSService base URL: retrieve (/api/v1/embed + /api/v1/retrieve) and rerank (/api/v1/rerank) there instead of in this process")
	f.StringVar(&fl.BedrockModel, "bedrock-model", "", "Bedrock model id for --reasoning/--enrich bedrock")
	f.StringVar(&fl.ModelDir, "model-dir", "", "bi-encoder folder (model.onnx + tokenizer.json): its cosine similarity joins the fusion")
	f.StringVar(&fl.RerankerDir, "reranker-dir", "", "cross-encoder folder (model.onnx + tokenizer.json): reranks the candidates instead of the feature reranker")
	f.StringVar(&fl.Device, "device", "auto", "where the ONNX models run: auto, cpu, cuda or cuda:N")
	f.StringVar(&fl.Retriever, "retriever", "fusion", "fusion (BM25F + mapping memory, + cosine with --model-dir) or embedding (cosine top-k over embeddings cached in the store's EmbeddingCache; needs --model-dir) or science (the science service: --science-endpoint, else the environment's science_url, SCIENCE_API_ENDPOINT)")
	_ = cmd.RegisterFlagCompletionFunc("retriever", cobra.FixedCompletions([]string{"fusion", "embedding", "science"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("enrich", cobra.FixedCompletions(EnrichKinds, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("device", cobra.FixedCompletions([]string{"auto", "cpu", "cuda", "cuda:0"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagDirname("model-dir")
	_ = cmd.MarkFlagDirname("reranker-dir")
	_ = cmd.RegisterFlagCompletionFunc("framework", catshared.CompleteFrameworks(open))
	_ = cmd.RegisterFlagCompletionFunc("mode", cobra.FixedCompletions(Modes, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("reasoning", cobra.FixedCompletions(ReasoningKinds, cobra.ShellCompDirectiveNoFileComp))
}

// Validate checks the flags as usage errors.
func (fl *Flags) Validate() error {
	if fl.Threshold != 0 {
		fl.ThresholdSet = true
	}
	if fl.Framework == "" {
		return cmdutil.FlagErrorf("--framework is required: the target framework key, e.g. --framework %s (list them: nexus catalog frameworks)", pipeline.ExampleFrameworkKey)
	}
	if err := pipeline.ValidateFrameworkKey(fl.Framework); err != nil {
		return cmdutil.FlagErrorf("invalid --framework: %v", err)
	}
	switch fl.Mode {
	case "auto", "local", "remote":
	default:
		return cmdutil.FlagErrorf("invalid --mode %q: use auto, local or remote", fl.Mode)
	}
	if err := catshared.CheckStoreKind(fl.Store); err != nil {
		return err
	}
	if !slices.Contains(ReasoningKinds, fl.Reasoning) {
		return cmdutil.FlagErrorf("invalid --reasoning %q: use template, strands, bedrock or off", fl.Reasoning)
	}
	if fl.Enrich != "" && !slices.Contains(EnrichKinds, fl.Enrich) {
		return cmdutil.FlagErrorf("invalid --enrich %q: use none, strands or bedrock", fl.Enrich)
	}
	if _, err := gpu.ParseDevice(fl.Device); err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	switch fl.Retriever {
	case "", "fusion":
	case "embedding":
		if fl.ModelDir == "" {
			return cmdutil.FlagErrorf("--retriever embedding needs a bi-encoder: pass --model-dir DIR (model.onnx + tokenizer.json)")
		}
	case "science":
	default:
		return cmdutil.FlagErrorf("invalid --retriever %q: use fusion, embedding or science", fl.Retriever)
	}
	fl.ScienceURL = strings.TrimSpace(fl.ScienceURL)
	if fl.ScienceURL != "" {
		if u, err := url.Parse(fl.ScienceURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cmdutil.FlagErrorf("invalid --science-endpoint %q: give the service's http(s) base URL", fl.ScienceURL)
		}
		if fl.Retriever == "embedding" {
			return cmdutil.FlagErrorf("--science-endpoint retrieves on the science service; it does not combine with --retriever embedding")
		}
	}
	if fl.UsesScience() && (fl.ModelDir != "" || fl.RerankerDir != "") {
		return cmdutil.FlagErrorf("the science service retrieves and reranks; drop --model-dir and --reranker-dir, or drop --science-endpoint/--retriever science to use local models")
	}
	if fl.TopK < 1 {
		return cmdutil.FlagErrorf("invalid --top-k %d: keep at least 1 candidate", fl.TopK)
	}
	if fl.Threshold < 0 || fl.Threshold > 1 {
		return cmdutil.FlagErrorf("invalid --threshold %g: scores run from 0 to 1", fl.Threshold)
	}
	for i, t := range fl.Targets {
		fl.Targets[i] = strings.TrimSpace(t)
		if fl.Targets[i] == "" || strings.Contains(t, "#") {
			return cmdutil.FlagErrorf("invalid --targets entry %q: give control ids of the framework, such as AC-2,SC-28", t)
		}
	}
	return nil
}

// UsesScience says the science service retrieves and reranks:
// --science-endpoint or --retriever science.
func (fl *Flags) UsesScience() bool {
	return fl.ScienceURL != "" || fl.Retriever == "science"
}

// ValidateControlKey checks a CONTROL_KEY argument as a usage error that
// shows the pattern and an example.
func ValidateControlKey(key string) error {
	if err := pipeline.ValidateControlKey(key); err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	return nil
}

// Hooks are the pluggable parts of a mapping.
type Hooks struct {
	Scorers  ScorersFunc
	Reasoner ReasonerFunc
	// Services, when set, build the optional neural and remote parts.
	Services *Services
}

// DefaultHooks are the hooks the package variables name.
func DefaultHooks() Hooks { return Hooks{Scorers: DefaultScorers, Reasoner: DefaultReasoner} }

// StagePrepare names, in --debug timings, building the scorers and the
// reasoner of a framework before any mapping runs.
const StagePrepare = "prepare_scorers"

// NewMapper builds the mapper for a store and a target framework. warn
// receives a line to show on stderr (no template reasoner in this build);
// observe, when not nil, receives the StagePrepare event.
func NewMapper(ctx context.Context, h Hooks, store pipeline.Store, fl *Flags, framework string, warn func(string), observe mapper.Observer) (*mapper.Mapper, error) {
	start := time.Now()
	m, err := newMapper(ctx, h, store, fl, framework, warn)
	if observe != nil {
		observe(mapper.Event{Stage: StagePrepare, Done: true, Duration: time.Since(start), Detail: framework, Err: err})
	}
	return m, err
}

func newMapper(ctx context.Context, h Hooks, store pipeline.Store, fl *Flags, framework string, warn func(string)) (*mapper.Mapper, error) {
	if h.Scorers == nil {
		return nil, errors.New("no scorer configured for this mapping")
	}
	req := ScorerRequest{FrameworkKey: framework}
	emb, err := h.Services.Embedder(fl, warn)
	if err != nil {
		return nil, err
	}
	if fl.Retriever != "embedding" {
		req.Embedder = emb
	}
	if fl.ThresholdSet {
		t := fl.Threshold
		req.Threshold = &t
	}
	var retriever pipeline.Retriever
	var reranker pipeline.Reranker
	if fl.UsesScience() {
		// The ECS service's flow, remotely: embed through the
		// EmbeddingCache, /retrieve the top-k, /rerank; the request's
		// threshold still applies to the rerank scores.
		sci, err := h.Services.Science(fl)
		if err != nil {
			return nil, err
		}
		retriever, reranker = science.NewRetriever(sci, nil, store), science.NewReranker(sci)
	} else if retriever, reranker, err = h.Scorers(ctx, store, req); err != nil {
		return nil, fmt.Errorf("preparing the scorers for %s: %w", framework, err)
	} else if fl.Retriever == "embedding" {
		// The seed's ScienceModel: embed source and targets through the
		// EmbeddingCache, cosine top-k; the fusion's features rerank,
		// reading the cosine each candidate carries.
		retriever = &onnx.Retriever{Embedder: emb, Cache: store}
	}
	m := &mapper.Mapper{Store: store, Retriever: retriever, Reranker: reranker}
	if ce, err := h.Services.CrossEncoder(fl, warn); err != nil {
		return nil, err
	} else if ce != nil {
		m.Reranker = ce
	}
	if m.Enricher, err = h.Services.Enricher(ctx, fl); err != nil {
		return nil, err
	}
	if fl.Reasoning == "strands" || fl.Reasoning == "bedrock" {
		if m.Reasoner, err = h.Services.Reasoner(ctx, fl); err != nil {
			return nil, err
		}
	}
	if fl.Reasoning == "template" {
		if h.Reasoner == nil {
			warn("warning: this build has no template reasoner; mappings carry no reasoning (use --reasoning off to silence this)")
		} else if m.Reasoner, err = h.Reasoner(ctx, store); err != nil {
			return nil, fmt.Errorf("preparing the reasoner: %w", err)
		}
	}
	return m, nil
}

// Request is the mapper request for a control key and the flags.
func (fl *Flags) Request(controlKey string, targets []string) mapper.Request {
	if targets == nil {
		targets = fl.Targets
	}
	return mapper.Request{ControlKey: controlKey, FrameworkKey: fl.Framework,
		Options: mapper.Options{TopK: fl.TopK, Threshold: fl.Threshold, TargetControlIDs: targets}}
}

// ResponseMapping is one mapping of a COMPLETED response.
type ResponseMapping struct {
	TargetControlID  string  `json:"targetControlId"`
	TargetControlKey string  `json:"targetControlKey"`
	SimilarityScore  float64 `json:"similarityScore"`
	RerankScore      float64 `json:"rerankScore"`
	Reasoning        string  `json:"reasoning"`
}

// Completed is the status API's response for a COMPLETED job.
type Completed struct {
	MappingID          string `json:"mappingId"`
	Status             string `json:"status"`
	ControlKey         string `json:"controlKey"`
	TargetFrameworkKey string `json:"targetFrameworkKey"`
	Result             struct {
		Mappings []ResponseMapping `json:"mappings"`
	} `json:"result"`
}

// Failed is the status API's response for a FAILED job. ControlKey and
// TargetFrameworkKey are set only in `map batch` output, which needs them to
// resume; MappingID is empty when the request failed validation and no job
// was recorded.
type Failed struct {
	MappingID          string `json:"mappingId,omitempty"`
	Status             string `json:"status"`
	ControlKey         string `json:"controlKey,omitempty"`
	TargetFrameworkKey string `json:"targetFrameworkKey,omitempty"`
	Error              string `json:"error"`
}

// CompletedResponse is the response of a completed job.
func CompletedResponse(j pipeline.Job) Completed {
	c := Completed{MappingID: j.JobID, Status: string(pipeline.JobCompleted), ControlKey: j.ControlKey, TargetFrameworkKey: j.TargetFrameworkKey}
	c.Result.Mappings = []ResponseMapping{}
	for _, m := range mapper.ResultMappings(j.Mappings) {
		c.Result.Mappings = append(c.Result.Mappings, ResponseMapping{
			TargetControlID: m.TargetControlID, TargetControlKey: m.TargetControlKey,
			SimilarityScore: m.SimilarityScore, RerankScore: m.RerankScore, Reasoning: m.Reasoning,
		})
	}
	return c
}

// FailedResponse is the response of a failed job.
func FailedResponse(j pipeline.Job) Failed {
	msg := j.ErrorMessage
	if msg == "" {
		msg = "the job failed"
	}
	return Failed{MappingID: j.JobID, Status: string(pipeline.JobFailed), Error: msg}
}

// Timings collects stage durations for --debug.
type Timings struct {
	mu     sync.Mutex
	stages []mapper.Event
}

// Observe records finished stages.
func (t *Timings) Observe(e mapper.Event) {
	if !e.Done {
		return
	}
	t.mu.Lock()
	t.stages = append(t.stages, e)
	t.mu.Unlock()
}

// Write prints one line per stage and the total.
func (t *Timings) Write(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var total time.Duration
	for _, e := range t.stages {
		total += e.Duration
		status := e.Detail
		if e.Err != nil {
			status = "error: " + e.Err.Error()
		}
		fmt.Fprintf(w, "debug: stage %-17s %9s  %s\n", e.Stage, FormatDuration(e.Duration), status)
	}
	fmt.Fprintf(w, "debug: stages total      %9s\n", FormatDuration(total))
}

// WriteSummary prints, per stage, how many ran and their mean and total
// time: the --debug view of many mappings.
func (t *Timings) WriteSummary(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	type agg struct {
		n     int
		total time.Duration
	}
	per := map[string]*agg{}
	for _, e := range t.stages {
		a := per[e.Stage]
		if a == nil {
			a = &agg{}
			per[e.Stage] = a
		}
		a.n++
		a.total += e.Duration
	}
	for _, name := range append([]string{StagePrepare}, mapper.Stages...) {
		if a := per[name]; a != nil {
			fmt.Fprintf(w, "debug: stage %-17s %6d runs  mean %9s  total %9s\n", name, a.n, FormatDuration(a.total/time.Duration(a.n)), FormatDuration(a.total))
		}
	}
}

// FormatDuration shows a duration with three significant figures.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// Spinner shows the running stage on stderr when it is a terminal. It
// draws nothing for the first 150ms, so a fast mapping never flickers.
type Spinner struct {
	w       io.Writer
	label   string
	mu      sync.Mutex
	stage   string
	stop    chan struct{}
	done    chan struct{}
	drawn   bool
	enabled bool
}

var spinFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// StartSpinner starts a spinner labelled label; it does nothing off a
// terminal.
func StartSpinner(ios *iostreams.IOStreams, label string) *Spinner {
	s := &Spinner{w: ios.ErrOut, label: label, stop: make(chan struct{}), done: make(chan struct{}), enabled: ios.IsStderrTTY()}
	if !s.enabled {
		close(s.done)
		return s
	}
	go s.loop()
	return s
}

func (s *Spinner) loop() {
	defer close(s.done)
	select {
	case <-s.stop:
		return
	case <-time.After(150 * time.Millisecond):
	}
	t := time.NewTicker(80 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		s.mu.Lock()
		fmt.Fprintf(s.w, "\r\033[K%s %s: %s…", spinFrames[i%len(spinFrames)], s.label, strings.ReplaceAll(s.stage, "_", " "))
		s.drawn = true
		s.mu.Unlock()
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// Observe shows each stage as it starts.
func (s *Spinner) Observe(e mapper.Event) {
	if !s.enabled || e.Done {
		return
	}
	s.mu.Lock()
	s.stage = e.Stage
	s.mu.Unlock()
}

// Stop clears the spinner's line.
func (s *Spinner) Stop() {
	if !s.enabled {
		return
	}
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drawn {
		fmt.Fprint(s.w, "\r\033[K")
		s.drawn = false
	}
}

// Observers fans one event out to several observers.
func Observers(obs ...mapper.Observer) mapper.Observer {
	return func(e mapper.Event) {
		for _, o := range obs {
			if o != nil {
				o(e)
			}
		}
	}
}
