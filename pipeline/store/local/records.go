package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/nexus-compliance/nexus/pipeline"
)

// Enrichment returns a control's enriched text, or pipeline.ErrNotFound.
func (s *Store) Enrichment(ctx context.Context, controlKey string) (pipeline.Enrichment, error) {
	var e pipeline.Enrichment
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEnrichment).Get([]byte(controlKey))
		if v == nil {
			return fmt.Errorf("enrichment of %q: %w", controlKey, pipeline.ErrNotFound)
		}
		return json.Unmarshal(v, &e)
	})
	return e, err
}

// PutEnrichment stores a control's enriched text.
func (s *Store) PutEnrichment(ctx context.Context, e pipeline.Enrichment) error {
	if e.ControlKey == "" {
		return fmt.Errorf("enrichment without a control key")
	}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEnrichment).Put([]byte(e.ControlKey), v)
	})
}

// Embedding returns a cached vector; ok is false on a miss.
func (s *Store) Embedding(ctx context.Context, controlKey, modelVersion string) ([]float32, bool, error) {
	var vec []float32
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEmbeddings).Get(key(controlKey, modelVersion))
		if len(v) < 8 || (len(v)-8)%4 != 0 {
			return nil
		}
		v = v[8:]
		vec = make([]float32, len(v)/4)
		for i := range vec {
			vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(v[4*i:]))
		}
		return nil
	})
	return vec, vec != nil, err
}

// PutEmbedding caches a vector, stamped with the time it was written.
func (s *Store) PutEmbedding(ctx context.Context, controlKey, modelVersion string, vector []float32) error {
	v := make([]byte, 8, 8+4*len(vector))
	binary.BigEndian.PutUint64(v, uint64(s.now().Unix()))
	for _, f := range vector {
		v = binary.LittleEndian.AppendUint32(v, math.Float32bits(f))
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEmbeddings).Put(key(controlKey, modelVersion), v)
	})
}

// PutMappings writes mappings, replacing those with the same pair of keys.
// The mapping key and ARN are filled in when empty.
func (s *Store) PutMappings(ctx context.Context, ms []pipeline.Mapping) error {
	for _, m := range ms {
		if err := pipeline.ValidateControlKey(m.ControlKey); err != nil {
			return err
		}
		if err := pipeline.ValidateControlKey(m.MappedControlKey); err != nil {
			return err
		}
		if _, err := pipeline.ParseMappingStatus(string(m.Status)); err != nil {
			return fmt.Errorf("mapping %s → %s: %w", m.ControlKey, m.MappedControlKey, err)
		}
	}
	defer s.bumpMappings()
	return s.update(ctx, func(tx *bolt.Tx) error {
		b, idx := tx.Bucket(bucketMappings), tx.Bucket(bucketMappingsByStatus)
		for _, m := range ms {
			if m.MappingKey == "" {
				m.MappingKey = pipeline.MappingKey(m.ControlKey, m.MappedControlKey)
			}
			if m.ARN == "" {
				m.ARN = pipeline.MappingARN(m.MappingKey)
			}
			k := key(m.ControlKey, m.MappedControlKey)
			if old := b.Get(k); old != nil {
				var prev pipeline.Mapping
				if json.Unmarshal(old, &prev) == nil {
					if err := idx.Delete(key(string(prev.Status), m.ControlKey, m.MappedControlKey)); err != nil {
						return err
					}
				}
			}
			v, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if err := b.Put(k, v); err != nil {
				return err
			}
			if err := idx.Put(key(string(m.Status), m.ControlKey, m.MappedControlKey), nil); err != nil {
				return err
			}
		}
		// Drop every status's snapshot: a status change moves a mapping
		// between two of them.
		snaps := tx.Bucket(bucketMappingSnapshots)
		for _, st := range pipeline.MappingStatuses {
			if err := snaps.Delete([]byte(st)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) bumpMappings() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mapGen++
	clear(s.byStatus)
}

// MappingsForControl lists the mappings whose source is controlKey, by
// target key.
func (s *Store) MappingsForControl(ctx context.Context, controlKey string) ([]pipeline.Mapping, error) {
	var out []pipeline.Mapping
	prefix := key(controlKey, "")
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMappings).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var m pipeline.Mapping
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("mapping %q: %w", k, err)
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// MappingsByStatus lists every mapping in one status, by source then target
// key. The APPROVED ones are read on every mapping call, so the list is
// kept as a snapshot, and in memory until the next mapping write. Values
// in the list (created_by maps) may be shared between callers: treat them
// as read-only.
func (s *Store) MappingsByStatus(ctx context.Context, status pipeline.MappingStatus) ([]pipeline.Mapping, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	cached, ok := s.byStatus[status]
	gen := s.mapGen
	s.mu.Unlock()
	if ok {
		return slices.Clone(cached), nil
	}
	out, err := s.loadMappings(status)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.mapGen == gen {
		s.byStatus[status] = out
	}
	s.mu.Unlock()
	return slices.Clone(out), nil
}

func (s *Store) loadMappings(status pipeline.MappingStatus) ([]pipeline.Mapping, error) {
	var (
		out   []pipeline.Mapping
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMappingSnapshots).Get([]byte(status)); v != nil {
			var err error
			out, err = decodeMappings(v)
			found = err == nil // an unreadable snapshot is rebuilt
		}
		return nil
	})
	if err != nil || found {
		return out, err
	}
	build := func(tx *bolt.Tx) error {
		var err error
		out, err = scanMappings(tx, status)
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := build(tx); err != nil {
			return err
		}
		v, err := encodeMappings(out)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMappingSnapshots).Put([]byte(status), v)
	})
	if errors.Is(err, berrors.ErrDatabaseReadOnly) {
		err = s.db.View(build)
	}
	return out, err
}

// scanMappings reads the mappings of one status through the status index.
func scanMappings(tx *bolt.Tx, status pipeline.MappingStatus) ([]pipeline.Mapping, error) {
	var out []pipeline.Mapping
	prefix := key(string(status), "")
	b := tx.Bucket(bucketMappings)
	c := tx.Bucket(bucketMappingsByStatus).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		v := b.Get(k[len(prefix):])
		if v == nil {
			continue
		}
		var m pipeline.Mapping
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, fmt.Errorf("mapping %q: %w", k[len(prefix):], err)
		}
		out = append(out, m)
	}
	return out, nil
}

// PutJob writes a job record, replacing the one with the same id.
func (s *Store) PutJob(ctx context.Context, j pipeline.Job) error {
	if strings.TrimSpace(j.JobID) == "" {
		return fmt.Errorf("job without a job_id")
	}
	v, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b, idx := tx.Bucket(bucketJobs), tx.Bucket(bucketJobsByTTL)
		if old := b.Get([]byte(j.JobID)); old != nil {
			var prev pipeline.Job
			if json.Unmarshal(old, &prev) == nil && prev.TTL > 0 {
				if err := idx.Delete(ttlKey(prev.TTL, j.JobID)); err != nil {
					return err
				}
			}
		}
		if err := b.Put([]byte(j.JobID), v); err != nil {
			return err
		}
		if j.TTL > 0 {
			return idx.Put(ttlKey(j.TTL, j.JobID), nil)
		}
		return nil
	})
}

func ttlKey(ttl int64, id string) []byte {
	b := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(b, uint64(max(ttl, 0)))
	return append(b, id...)
}

// Job returns one job, or pipeline.ErrNotFound.
func (s *Store) Job(ctx context.Context, id string) (pipeline.Job, error) {
	var j pipeline.Job
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketJobs).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("job %q: %w", id, pipeline.ErrNotFound)
		}
		return json.Unmarshal(v, &j)
	})
	return j, err
}

// Jobs lists every job, newest first (by created_at, then id).
func (s *Store) Jobs(ctx context.Context) ([]pipeline.Job, error) {
	var out []pipeline.Job
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			var j pipeline.Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("job %s: %w", k, err)
			}
			if st, err := pipeline.ParseJobStatus(string(j.Status)); err == nil {
				j.Status = st
			}
			out = append(out, j)
			return nil
		})
	})
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].CreatedAt != out[b].CreatedAt {
			return out[a].CreatedAt > out[b].CreatedAt
		}
		return out[a].JobID < out[b].JobID
	})
	return out, err
}

// PruneJobs deletes the jobs whose TTL is before now, as DynamoDB's TTL
// would, and returns how many it deleted.
func (s *Store) PruneJobs(ctx context.Context, now time.Time) (int, error) {
	expiredBefore := func(tx *bolt.Tx) bool {
		k, _ := tx.Bucket(bucketJobsByTTL).Cursor().First()
		return k != nil && len(k) >= 8 && int64(binary.BigEndian.Uint64(k)) < now.Unix()
	}
	due := false
	if err := s.view(ctx, func(tx *bolt.Tx) error { due = expiredBefore(tx); return nil }); err != nil || !due {
		return 0, err // nothing to delete: no write transaction, no fsync
	}
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, idx := tx.Bucket(bucketJobs), tx.Bucket(bucketJobsByTTL)
		var expired [][]byte
		c := idx.Cursor()
		for k, _ := c.First(); k != nil && len(k) >= 8 && int64(binary.BigEndian.Uint64(k)) < now.Unix(); k, _ = c.Next() {
			expired = append(expired, bytes.Clone(k))
		}
		for _, k := range expired {
			if err := idx.Delete(k); err != nil {
				return err
			}
			if err := b.Delete(k[8:]); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
