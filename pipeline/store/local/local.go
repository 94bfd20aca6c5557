// Package local is the embedded store of nexus: every table of the Nexus data
// model (Frameworks, FrameworkControls, Enrichment, EmbeddingCache,
// ControlMappings, MappingJobs) in one file on the user's machine, so the
// whole mapping pipeline runs on a laptop with no AWS account.
//
// It is built on bbolt (go.etcd.io/bbolt): pure Go (no cgo, so the release
// stays one static binary), a single file, ACID transactions with one writer
// and many concurrent readers, a file lock that keeps two processes from
// corrupting it, and a long-maintained project (etcd's storage engine).
// SQLite would need cgo or a large transpiled driver; a directory of JSON
// files would need its own locking and crash safety.
//
// Each table is a bucket of JSON records keyed as the table is keyed. The
// lists the mapper reads on every call are also kept as compact binary
// snapshots (snapshot.go): the controls of each framework, in the stable
// order the catalog lists them, and the mappings in each status (the
// mapping memory learns from the APPROVED ones). Reading the 1,189 controls
// of NIST SP 800-53 from a fresh process takes about a millisecond, and an
// in-memory copy serves later reads in the same process. Writes drop both;
// the next read rebuilds them.
package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/nexus-compliance/nexus/pipeline"
)

// EnvPath names the environment variable that overrides the store's path.
const EnvPath = "NEXUS_STORE_PATH"

// DefaultTimeout is how long Open waits for another nexus process to
// release the file.
const DefaultTimeout = 2 * time.Second

// The buckets, one per table of the data model plus the store's own indexes.
var (
	bucketMeta             = []byte("meta")
	bucketFrameworks       = []byte("frameworks")         // frameworkKey → Framework JSON
	bucketControls         = []byte("controls")           // controlKey → Control JSON
	bucketFrameworkIndex   = []byte("framework_controls") // frameworkKey → snapshot of its controls, in order
	bucketEnrichment       = []byte("enrichment")         // controlKey → Enrichment JSON
	bucketEmbeddings       = []byte("embedding_cache")    // controlKey \0 modelVersion → created_at + float32s
	bucketMappings         = []byte("mappings")           // controlKey \0 mappedControlKey → Mapping JSON
	bucketMappingsByStatus = []byte("mappings_by_status") // status \0 controlKey \0 mappedControlKey → ∅
	bucketMappingSnapshots = []byte("mapping_snapshots")  // status → snapshot of its mappings
	bucketJobs             = []byte("jobs")               // job_id → Job JSON
	bucketJobsByTTL        = []byte("jobs_by_ttl")        // ttl (8 bytes, big endian) job_id → ∅

	allBuckets = [][]byte{bucketMeta, bucketFrameworks, bucketControls, bucketFrameworkIndex, bucketEnrichment,
		bucketEmbeddings, bucketMappings, bucketMappingsByStatus, bucketMappingSnapshots, bucketJobs, bucketJobsByTTL}
)

// schemaVersion is written to the meta bucket; a file from a newer nexus is
// refused rather than misread.
const schemaVersion = "1"

// Options tune Open.
type Options struct {
	// ReadOnly opens the file with a shared lock; writes fail.
	ReadOnly bool
	// Timeout is how long to wait for another process's lock (default
	// DefaultTimeout).
	Timeout time.Duration
	// Now is the clock used to expire jobs past their TTL (default time.Now).
	Now func() time.Time
}

// Store is the embedded implementation of pipeline.Store. It is safe for
// concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	now  func() time.Time

	mu       sync.Mutex
	fwGen    map[string]uint64 // bumped on every write to a framework's controls
	controls map[string][]pipeline.Control
	mapGen   uint64 // bumped on every mapping write
	byStatus map[pipeline.MappingStatus][]pipeline.Mapping
}

var _ pipeline.Store = (*Store)(nil)

// LockedError says another process holds the store.
type LockedError struct {
	Path    string
	Timeout time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("local store %s is in use by another nexus process (waited %s): wait for it to finish, or set %s to use another file",
		e.Path, e.Timeout, EnvPath)
}

// DefaultPath is where the store lives: $NEXUS_STORE_PATH, else
// $XDG_DATA_HOME/nexus/nexus.db, else ~/.local/share/nexus/nexus.db.
// getenv is os.Getenv in a real process.
func DefaultPath(getenv func(string) string) (string, error) {
	if p := getenv(EnvPath); p != "" {
		return p, nil
	}
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "nexus", "nexus.db"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("locating the local store: %w; set %s", err, EnvPath)
		}
		home = h
	}
	return filepath.Join(home, ".local", "share", "nexus", "nexus.db"), nil
}

// Open opens (creating when needed) the store at path. Jobs whose TTL has
// passed are deleted, as DynamoDB would eventually.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("creating the local store's folder: %w", err)
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening local store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, ReadOnly: opts.ReadOnly, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, &LockedError{Path: path, Timeout: opts.Timeout}
	}
	if err != nil {
		return nil, fmt.Errorf("opening local store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: opts.Now, fwGen: map[string]uint64{},
		controls: map[string][]pipeline.Control{}, byStatus: map[pipeline.MappingStatus][]pipeline.Mapping{}}
	if err := s.init(opts.ReadOnly); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(readOnly bool) error {
	check := func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m == nil {
			if readOnly {
				return fmt.Errorf("local store %s is not initialised: run any nexus catalog command once to create it", s.path)
			}
			return nil
		}
		if v := string(m.Get([]byte("schema"))); v != "" && v != schemaVersion {
			return fmt.Errorf("local store %s has schema version %s, this nexus reads %s: upgrade nexus or move the file away", s.path, v, schemaVersion)
		}
		return nil
	}
	ready := false
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		ready = true
		for _, b := range allBuckets {
			ready = ready && tx.Bucket(b) != nil
		}
		return nil
	})
	if err != nil || readOnly {
		return err
	}
	if !ready {
		err = s.db.Update(func(tx *bolt.Tx) error {
			if err := check(tx); err != nil {
				return err
			}
			for _, b := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			if tx.Bucket(bucketMeta).Get([]byte("schema")) == nil {
				return tx.Bucket(bucketMeta).Put([]byte("schema"), []byte(schemaVersion))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	_, err = s.PruneJobs(context.Background(), s.now())
	return err
}

// Path is the file the store lives in.
func (s *Store) Path() string { return s.path }

// Close releases the file.
func (s *Store) Close() error { return s.db.Close() }

// Empty reports whether the catalog holds no framework: a fresh store.
func (s *Store) Empty(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	empty := true
	err := s.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketFrameworks).Cursor().First()
		empty = k == nil
		return nil
	})
	return empty, err
}

// view runs fn in a read transaction. Every bucket exists once Open has
// returned.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

// key joins the parts of a composite key with NUL, which no key contains.
func key(parts ...string) []byte {
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}
