// Package server is `nexus serve`: the Nexus HTTP APIs (the async mapping
// API, the mapping CRUD API and the NexusECSService science endpoints) served
// from the in-process pipeline and a store, speaking pipeline/api's wire
// types.
//
// The deployed system's SQS queue, trigger and DLQ become a bounded
// in-process queue and a pool of workers: a submitted job is recorded
// PENDING (7-day TTL) and queued; a worker records it RUNNING and runs the
// mapper, retrying a failed run and, after MaxAttempts failures, parking the
// job FAILED in the dead-letter list (GET /api/v1/dlq) as the DLQ would.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
)

// Defaults of Config.
const (
	DefaultAddr         = "127.0.0.1:8080"
	DefaultWorkers      = 2
	DefaultQueueSize    = 100
	DefaultMaxAttempts  = 3 // the MappingRequestQueue's max receive count
	DefaultMaxBody      = 1 << 20
	DefaultRetrieveBody = 512 << 20
	DefaultGrace        = 30 * time.Second
	DefaultTopK         = 20
)

// MapperFunc builds the mapper of one target framework. The server calls it
// once per framework and reuses the mapper (concurrently) until a mapping
// write invalidates it (the ranker learns from approved mappings).
type MapperFunc func(ctx context.Context, frameworkKey string) (*mapper.Mapper, error)

// Scorer is a cross-encoder: a relevance score per passage for a query
// (pipeline/onnx's CrossEncoder).
type Scorer interface {
	Score(ctx context.Context, query string, passages []string) ([]float64, error)
}

// JobLister lists every job; a store that has it (the local store) lets the
// server requeue PENDING and interrupted RUNNING jobs at start-up.
type JobLister interface {
	Jobs(ctx context.Context) ([]pipeline.Job, error)
}

// Config is what a Server serves from.
type Config struct {
	// Addr is where Start listens (DefaultAddr when empty).
	Addr string
	// Token, when set, is required as "Authorization: Bearer TOKEN" on every
	// route but /health and /ready.
	Token string
	// Store holds the catalog, the mappings and the jobs.
	Store pipeline.Store
	// NewMapper builds the mapper of a framework (required for jobs).
	NewMapper MapperFunc
	// Embedder serves /api/v1/embed; nil answers 503.
	Embedder pipeline.Embedder
	// CrossEncoder reranks /api/v1/rerank; nil uses the lexical scorer.
	CrossEncoder Scorer
	// Load, when set, runs once before the server reports ready (loading
	// models); the catalog is checked and the queue restored after it.
	Load func(ctx context.Context) error

	Workers      int           // job workers (DefaultWorkers)
	QueueSize    int           // queued jobs before 503 (DefaultQueueSize)
	MaxAttempts  int           // runs of a job before it is parked (DefaultMaxAttempts)
	RetryBackoff time.Duration // pause between attempts (0: none)
	TopK         int           // candidates a job keeps (DefaultTopK)
	Threshold    float64       // rerank threshold of jobs
	MaxBody      int64         // request body limit (DefaultMaxBody)
	RetrieveBody int64         // /api/v1/retrieve body limit (DefaultRetrieveBody)
	// Grace bounds how long Shutdown waits for running jobs when its
	// context has no deadline (DefaultGrace).
	Grace time.Duration

	// Log receives one access line per request and the server's notes
	// (os.Stderr when nil).
	Log   io.Writer
	Now   func() time.Time
	NewID func() string
}

// Server is the HTTP server and its job workers.
type Server struct {
	cfg     Config
	handler http.Handler
	queue   chan string
	ready   atomic.Bool
	models  atomic.Pointer[models]
	loadErr atomic.Value // string
	logMu   sync.Mutex

	mappersMu sync.Mutex
	mappers   map[string]*mapperEntry

	mu       sync.Mutex
	parked   []DLQEntry
	started  bool
	stopping bool
	srv      *http.Server
	ln       net.Listener
	loadOnce sync.Once
	loadDone chan struct{}

	workCtx    context.Context // cancelled when the grace period ends
	workCancel context.CancelFunc
	stop       chan struct{} // closed when shutting down
	workers    sync.WaitGroup
	serveErr   chan error
}

type models struct {
	emb pipeline.Embedder
	ce  Scorer
}

// SetModels replaces Config.Embedder and Config.CrossEncoder, for a Load
// that builds them; it is safe while serving.
func (s *Server) SetModels(emb pipeline.Embedder, ce Scorer) {
	s.models.Store(&models{emb: emb, ce: ce})
}

func (s *Server) embedder() pipeline.Embedder { return s.models.Load().emb }
func (s *Server) crossEncoder() Scorer        { return s.models.Load().ce }

type mapperEntry struct {
	once sync.Once
	m    *mapper.Mapper
	err  error
}

// New returns a Server for cfg, filling in defaults. It starts nothing.
func New(cfg Config) *Server {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.TopK <= 0 {
		cfg.TopK = DefaultTopK
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.RetrieveBody <= 0 {
		cfg.RetrieveBody = DefaultRetrieveBody
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = mapper.NewUUID
	}
	s := &Server{cfg: cfg, queue: make(chan string, cfg.QueueSize), mappers: map[string]*mapperEntry{},
		loadDone: make(chan struct{}), stop: make(chan struct{}), serveErr: make(chan error, 1)}
	s.workCtx, s.workCancel = context.WithCancel(context.Background())
	s.SetModels(cfg.Embedder, cfg.CrossEncoder)
	s.handler = s.routes()
	return s
}

// Handler is the server's HTTP handler (every route and the envelope).
func (s *Server) Handler() http.Handler { return s.handler }

// Ready reports whether Load has finished successfully.
func (s *Server) Ready() bool { return s.ready.Load() }

// CheckAddr refuses to bind a non-loopback address without a token.
func CheckAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q: %v (use HOST:PORT, e.g. %s)", addr, err, DefaultAddr)
	}
	if token != "" {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without a token: pass --token (clients then send Authorization: Bearer TOKEN), or bind a loopback address such as %s", addr, DefaultAddr)
}

// Start listens on Config.Addr, serves in the background, and loads the
// server (models, catalog, queued jobs) in the background; /ready answers 503
// until that is done. Shutdown stops it.
func (s *Server) Start(ctx context.Context) error {
	if err := CheckAddr(s.cfg.Addr, s.cfg.Token); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve is Start on a listener of the caller's.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.srv != nil {
		s.mu.Unlock()
		return errors.New("server: already started")
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // a 512 MiB retrieve body
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	srv := s.srv
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.serveErr <- err
		}
	}()
	go func() {
		if err := s.Load(ctx); err != nil {
			s.logf("nexus serve: not ready: %v", err)
		}
	}()
	return nil
}

// Addr is the address the server listens on (after Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return s.cfg.Addr
	}
	return s.ln.Addr().String()
}

// Err reports a failure of the listener after Start (nil while serving).
func (s *Server) Err() <-chan error { return s.serveErr }

// Load runs Config.Load, checks the catalog, starts the workers and
// requeues the PENDING and interrupted RUNNING jobs the store holds; then
// the server is ready. Only the first call does the work; later ones wait
// for it and return its error.
func (s *Server) Load(ctx context.Context) error {
	s.loadOnce.Do(func() {
		defer close(s.loadDone)
		err := s.load(ctx)
		if err != nil {
			s.loadErr.Store(err.Error())
			return
		}
		s.ready.Store(true)
	})
	<-s.loadDone
	if v, _ := s.loadErr.Load().(string); v != "" {
		return errors.New(v)
	}
	return nil
}

func (s *Server) load(ctx context.Context) error {
	if s.cfg.Load != nil {
		if err := s.cfg.Load(ctx); err != nil {
			return fmt.Errorf("loading models: %w", err)
		}
	}
	if s.cfg.Store == nil {
		return errors.New("no store configured")
	}
	if _, err := s.cfg.Store.Frameworks(ctx); err != nil {
		return fmt.Errorf("reading the catalog: %w", err)
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return errors.New("shutting down")
	}
	s.started = true
	for range s.cfg.Workers {
		s.workers.Add(1)
		go s.worker()
	}
	s.mu.Unlock()
	return s.requeue(ctx)
}

// requeue enqueues the jobs a previous run left PENDING or RUNNING, oldest
// first, as far as the queue has room.
func (s *Server) requeue(ctx context.Context) error {
	lister, ok := s.cfg.Store.(JobLister)
	if !ok {
		return nil
	}
	jobs, err := lister.Jobs(ctx)
	if err != nil {
		return fmt.Errorf("listing jobs to requeue: %w", err)
	}
	n := 0
	for i := len(jobs) - 1; i >= 0; i-- { // Jobs is newest first
		j := jobs[i]
		if j.Status != pipeline.JobPending && j.Status != pipeline.JobRunning {
			continue
		}
		if j.Status == pipeline.JobRunning {
			j.Status, j.UpdatedAt = pipeline.JobPending, s.ts()
			if err := s.cfg.Store.PutJob(ctx, j); err != nil {
				return err
			}
		}
		if !s.enqueue(j.JobID) {
			s.logf("nexus serve: queue full; job %s stays PENDING", j.JobID)
			continue
		}
		n++
	}
	if n > 0 {
		s.logf("nexus serve: requeued %d pending jobs", n)
	}
	return nil
}

// enqueue adds a job id to the queue without waiting; false when the queue
// is full or the server is stopping.
func (s *Server) enqueue(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	select {
	case s.queue <- id:
		return true
	default:
		return false
	}
}

// Shutdown stops accepting requests, lets running jobs finish until ctx is
// done (or Config.Grace passes when ctx has no deadline), and records the
// jobs still queued (and any run cut short) PENDING, so a restart requeues
// them.
func (s *Server) Shutdown(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Grace)
		defer cancel()
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return nil
	}
	s.stopping = true
	srv := s.srv
	close(s.stop)
	s.mu.Unlock()

	var errs []error
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	done := make(chan struct{})
	go func() { s.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.workCancel() // the runs still going are recorded PENDING by their workers
		<-done
	}
	s.workCancel()
	// What no worker took stays PENDING: record it so.
	wctx := context.WithoutCancel(ctx)
	for {
		select {
		case id := <-s.queue:
			if err := s.backToPending(wctx, id); err != nil {
				errs = append(errs, err)
			}
			continue
		default:
		}
		break
	}
	return errors.Join(errs...)
}

func (s *Server) backToPending(ctx context.Context, id string) error {
	j, err := s.cfg.Store.Job(ctx, id)
	if err != nil {
		return err
	}
	if j.Status.Terminal() {
		return nil
	}
	j.Status, j.UpdatedAt = pipeline.JobPending, s.ts()
	return s.cfg.Store.PutJob(ctx, j)
}

func (s *Server) ts() string { return s.cfg.Now().UTC().Format(mapper.TimeLayout) }

func (s *Server) logf(format string, args ...any) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.cfg.Log, format+"\n", args...)
}
