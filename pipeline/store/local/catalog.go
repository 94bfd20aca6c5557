package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/nexus-compliance/nexus/pipeline"
)

// PutFramework writes a framework, replacing one with the same key.
func (s *Store) PutFramework(ctx context.Context, fw pipeline.Framework) error {
	if err := pipeline.ValidateFrameworkKey(fw.Key); err != nil {
		return err
	}
	b, err := json.Marshal(fw)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFrameworks).Put([]byte(fw.Key), b)
	})
}

// Framework returns one framework, or pipeline.ErrNotFound.
func (s *Store) Framework(ctx context.Context, key string) (pipeline.Framework, error) {
	var fw pipeline.Framework
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketFrameworks).Get([]byte(key))
		if v == nil {
			return fmt.Errorf("framework %q: %w", key, pipeline.ErrNotFound)
		}
		return json.Unmarshal(v, &fw)
	})
	return fw, err
}

// Frameworks lists every framework by key.
func (s *Store) Frameworks(ctx context.Context) ([]pipeline.Framework, error) {
	var out []pipeline.Framework
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFrameworks).ForEach(func(k, v []byte) error {
			var fw pipeline.Framework
			if err := json.Unmarshal(v, &fw); err != nil {
				return fmt.Errorf("framework %s: %w", k, err)
			}
			out = append(out, fw)
			return nil
		})
	})
	return out, err
}

// PutControls writes controls, replacing those with the same key, in one
// transaction. The snapshots of the frameworks they belong to are dropped
// and rebuilt by the next read.
func (s *Store) PutControls(ctx context.Context, controls []pipeline.Control) error {
	touched := map[string]bool{}
	for _, c := range controls {
		fw, id, err := pipeline.SplitControlKey(c.Key)
		if err != nil {
			return err
		}
		if c.FrameworkKey != fw || c.ID != id {
			return fmt.Errorf("control %s: frameworkKey %q and controlId %q do not match its key", c.Key, c.FrameworkKey, c.ID)
		}
		touched[fw] = true
	}
	// After the commit, drop the cached copies; a read that raced the write
	// sees the generation change and does not cache what it read.
	defer s.bumpFrameworks(touched)
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketControls)
		for _, c := range controls {
			v, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(c.Key), v); err != nil {
				return err
			}
		}
		idx := tx.Bucket(bucketFrameworkIndex)
		for fw := range touched {
			if err := idx.Delete([]byte(fw)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) bumpFrameworks(fws map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for fw := range fws {
		s.fwGen[fw]++
		delete(s.controls, fw)
	}
}

// Control returns one control, or pipeline.ErrNotFound.
func (s *Store) Control(ctx context.Context, key string) (pipeline.Control, error) {
	var c pipeline.Control
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketControls).Get([]byte(key))
		if v == nil {
			return fmt.Errorf("control %q: %w", key, pipeline.ErrNotFound)
		}
		return json.Unmarshal(v, &c)
	})
	return c, err
}

// Controls lists every control of a framework, withdrawn ones included, in
// catalog order (control ids compared with their numbers as numbers: AC-2,
// AC-2(1), AC-2(10), AC-3, AC-10). The slice is the caller's own.
func (s *Store) Controls(ctx context.Context, frameworkKey string) ([]pipeline.Control, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	cs, ok := s.controls[frameworkKey]
	gen := s.fwGen[frameworkKey]
	s.mu.Unlock()
	if ok {
		return slices.Clone(cs), nil
	}
	cs, err := s.loadControls(frameworkKey)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.fwGen[frameworkKey] == gen {
		s.controls[frameworkKey] = cs
	}
	s.mu.Unlock()
	return slices.Clone(cs), nil
}

// loadControls decodes the framework's snapshot, building it first when a
// write has dropped it.
func (s *Store) loadControls(fw string) ([]pipeline.Control, error) {
	var (
		cs    []pipeline.Control
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketFrameworkIndex).Get([]byte(fw))
		if v == nil {
			return nil
		}
		var err error
		cs, err = decodeSnapshot(v)
		found = err == nil // an unreadable snapshot is rebuilt
		return nil
	})
	if err != nil || found {
		return cs, err
	}
	build := func(tx *bolt.Tx) error {
		var err error
		cs, err = scanControls(tx, fw)
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := build(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketFrameworkIndex).Put([]byte(fw), encodeSnapshot(cs))
	})
	if errors.Is(err, berrors.ErrDatabaseReadOnly) {
		err = s.db.View(build)
	}
	return cs, err
}

// scanControls reads a framework's controls from the controls bucket: its
// keys all start with "frameworkKey#", and no other framework's do, since a
// framework key holds exactly one '#'.
func scanControls(tx *bolt.Tx, fw string) ([]pipeline.Control, error) {
	prefix := []byte(fw + "#")
	var cs []pipeline.Control
	c := tx.Bucket(bucketControls).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var ctl pipeline.Control
		if err := json.Unmarshal(v, &ctl); err != nil {
			return nil, fmt.Errorf("control %s: %w", k, err)
		}
		cs = append(cs, ctl)
	}
	SortControls(cs)
	return cs, nil
}

// SortControls orders controls by id with numbers compared as numbers, the
// order catalogs list them in.
func SortControls(cs []pipeline.Control) {
	sort.SliceStable(cs, func(i, j int) bool { return NaturalLess(cs[i].ID, cs[j].ID) })
}

// NaturalLess compares strings with runs of digits compared by value:
// AC-2 < AC-2(1) < AC-2(10) < AC-3 < AC-10. Strings that differ only in
// leading zeros fall back to byte order, so the order is total.
func NaturalLess(a, b string) bool {
	x, y := a, b
	for x != "" && y != "" {
		rx, restX := nextRun(x)
		ry, restY := nextRun(y)
		if rx != ry {
			if isDigit(rx[0]) && isDigit(ry[0]) {
				nx, ny := strings.TrimLeft(rx, "0"), strings.TrimLeft(ry, "0")
				if len(nx) != len(ny) {
					return len(nx) < len(ny)
				}
				if nx != ny {
					return nx < ny
				}
			} else {
				return rx < ry
			}
		}
		x, y = restX, restY
	}
	if x != "" || y != "" {
		return x == ""
	}
	return a < b
}

func nextRun(s string) (run, rest string) {
	d := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == d {
		i++
	}
	return s[:i], s[i:]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
