// Package serve is `nexus serve`: the Nexus HTTP APIs served from the
// in-process pipeline and a store (pipeline/server).
package serve

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	mapshared "github.com/nexus-compliance/nexus/commands/map/shared"
	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
	"github.com/nexus-compliance/nexus/pipeline/server"
)

// Options are the inputs of `nexus serve`.
type Options struct {
	IO      *iostreams.IOStreams
	Open    catshared.Opener
	Hooks   mapshared.Hooks
	Context context.Context

	Addr         string
	Token        string
	Workers      int
	QueueSize    int
	Store        string
	ModelDir     string
	RerankerDir  string
	Device       string
	MaxBody      int64
	RetrieveBody int64
	Grace        time.Duration
	Reasoning    string
}

// NewCmd builds `nexus serve`.
func NewCmd(f *cmdutil.Factory) *cobra.Command { return NewCmdServe(f, nil) }

// NewCmdServe builds `nexus serve`; runF replaces Run in tests.
func NewCmdServe(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Hooks: mapshared.NewHooks(f)}
	opts.Open = catshared.NewOpener(f, &opts.Store)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the Nexus mapping and science APIs from this machine",
		Long: `Serve the Nexus HTTP APIs from the in-process pipeline and the store:

  POST /api/v1/mappings                    submit a mapping job (202; poll its statusUrl)
  GET  /api/v1/mappings/{id}               a job's status, or a mapping by key (source|target)
  GET  /api/v1/mappings                    list mappings (controlKey, status, limit, nextToken)
  PUT  /api/v1/mappings/{key}[/archive]    update or archive a mapping
  POST /api/v1/batchMappings               create up to 100 mappings
  GET  /api/v1/controls/{controlKey}/mappings
  POST /api/v1/embed, /retrieve, /rerank   the science endpoints
  GET  /api/v1/dlq                         jobs parked after 3 failed runs
  GET  /health, /ready

Jobs run on --workers workers from a queue of --queue-size; a full queue answers 503.
The server binds loopback by default; any other address needs --token, which clients
then send as "Authorization: Bearer TOKEN" (/health and /ready stay open). On SIGINT or
SIGTERM it stops accepting, lets running jobs finish for --grace, and leaves queued
jobs PENDING; the next start requeues them (local store).`,
		Example: `  # On this machine, against the local store
  nexus serve

  # Reachable from the network, with a token and the neural models
  nexus serve --addr 0.0.0.0:8080 --token "$NEXUS_TOKEN" --model-dir ./qwen --reranker-dir ./modernbert`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Addr, "addr", server.DefaultAddr, "address to listen on, HOST:PORT (a non-loopback host needs --token)")
	fl.StringVar(&opts.Token, "token", "", "bearer token clients must send (Authorization: Bearer TOKEN)")
	fl.IntVar(&opts.Workers, "workers", server.DefaultWorkers, "jobs run at once")
	fl.IntVar(&opts.QueueSize, "queue-size", server.DefaultQueueSize, "jobs waiting before submissions get 503")
	catshared.AddStoreFlag(cmd, &opts.Store)
	fl.StringVar(&opts.ModelDir, "model-dir", "", "bi-encoder folder (model.onnx + tokenizer.json): serves /api/v1/embed and joins the jobs' fusion")
	fl.StringVar(&opts.RerankerDir, "reranker-dir", "", "cross-encoder folder: reranks jobs and /api/v1/rerank (else the lexical scorer)")
	fl.StringVar(&opts.Device, "device", "auto", "where the ONNX models run: auto, cpu, cuda or cuda:N")
	fl.Int64Var(&opts.RetrieveBody, "max-body", server.DefaultRetrieveBody, "largest /api/v1/retrieve body in bytes (other routes take 1 MiB)")
	fl.DurationVar(&opts.Grace, "grace", server.DefaultGrace, "how long shutdown waits for running jobs")
	fl.StringVar(&opts.Reasoning, "reasoning", "template", "justification of each mapping: template or off")
	_ = cmd.MarkFlagDirname("model-dir")
	_ = cmd.MarkFlagDirname("reranker-dir")
	_ = cmd.RegisterFlagCompletionFunc("device", cobra.FixedCompletions([]string{"auto", "cpu", "cuda", "cuda:0"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate checks the flags as usage errors.
func (o *Options) Validate() error {
	if err := server.CheckAddr(o.Addr, o.Token); err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	if o.Workers < 1 {
		return cmdutil.FlagErrorf("invalid --workers %d: run at least 1", o.Workers)
	}
	if o.QueueSize < 1 {
		return cmdutil.FlagErrorf("invalid --queue-size %d: queue at least 1", o.QueueSize)
	}
	if o.RetrieveBody < 1 {
		return cmdutil.FlagErrorf("invalid --max-body %d", o.RetrieveBody)
	}
	if err := catshared.CheckStoreKind(o.Store); err != nil {
		return err
	}
	if _, err := gpu.ParseDevice(o.Device); err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	if o.Reasoning != "template" && o.Reasoning != "off" {
		return cmdutil.FlagErrorf("invalid --reasoning %q: use template or off", o.Reasoning)
	}
	return nil
}

// Run serves until the command's context ends (SIGINT, SIGTERM).
func Run(o *Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	store, err := o.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	catshared.NoteSeeded(o.IO, store)
	warn := func(s string) { fmt.Fprintln(o.IO.ErrOut, s) }

	base := mapshared.Flags{TopK: mapper.DefaultTopK, Reasoning: o.Reasoning, Retriever: "fusion", Device: o.Device,
		ModelDir: o.ModelDir, RerankerDir: o.RerankerDir}
	var (
		emb pipeline.Embedder
		ce  pipeline.Reranker
	)
	cfg := server.Config{Addr: o.Addr, Token: o.Token, Store: store.Store, Workers: o.Workers, QueueSize: o.QueueSize,
		RetrieveBody: o.RetrieveBody, Grace: o.Grace, TopK: mapper.DefaultTopK, Log: o.IO.ErrOut}
	// The models are loaded once, in the background (/ready waits), and
	// shared by every framework's mapper and the science endpoints.
	srv := (*server.Server)(nil)
	cfg.Load = func(ctx context.Context) error {
		if o.Hooks.Services == nil {
			return nil
		}
		var err error
		if emb, err = o.Hooks.Services.Embedder(&base, warn); err != nil {
			return err
		}
		if ce, err = o.Hooks.Services.CrossEncoder(&base, warn); err != nil {
			return err
		}
		sc, _ := ce.(server.Scorer)
		srv.SetModels(emb, sc)
		return nil
	}
	cfg.NewMapper = func(ctx context.Context, fw string) (*mapper.Mapper, error) {
		fl := base
		fl.Framework, fl.ModelDir, fl.RerankerDir = fw, "", ""
		h := o.Hooks
		scorers := h.Scorers
		h.Scorers = func(ctx context.Context, st pipeline.Store, req mapshared.ScorerRequest) (pipeline.Retriever, pipeline.Reranker, error) {
			req.Embedder = emb
			return scorers(ctx, st, req)
		}
		m, err := mapshared.NewMapper(ctx, h, store.Store, &fl, fw, warn, nil)
		if err != nil {
			return nil, err
		}
		if ce != nil {
			m.Reranker = ce
		}
		return m, nil
	}
	srv = server.New(cfg)
	if err := srv.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "nexus serve: listening on http://%s (store: %s %s)\n", srv.Addr(), store.Kind, store.Location)
	select {
	case <-ctx.Done():
	case err := <-srv.Err():
		_ = srv.Shutdown(context.Background())
		return err
	}
	fmt.Fprintln(o.IO.ErrOut, "nexus serve: shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.Grace)
	defer cancel()
	return srv.Shutdown(sctx)
}
