package local

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"

	"github.com/nexus-compliance/nexus/pipeline"
)

// Snapshots are the lists the pipeline reads on every call (a framework's
// controls, the mappings in one status) kept as one value each, in a
// compact binary form: a version byte, a count, then per record its
// strings (length-prefixed) and a few fixed-size fields. Decoding copies
// the value out of the memory map once and slices every string out of that
// copy, so a thousand records cost a few allocations each, where decoding
// a thousand JSON records costs tens of allocations each.
const (
	controlSnapshotVersion = 1
	mappingSnapshotVersion = 1
)

var errSnapshot = errors.New("corrupt snapshot")

type snapWriter struct{ b []byte }

func (w *snapWriter) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *snapWriter) byte(c byte) { w.b = append(w.b, c) }

func (w *snapWriter) float(f float64) {
	w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(f))
}

type snapReader struct {
	s   string
	pos int
	bad bool
}

func (r *snapReader) uvarint() int {
	var x uint64
	for shift := 0; r.pos < len(r.s) && shift < 64; shift += 7 {
		c := r.s[r.pos]
		r.pos++
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if x > uint64(len(r.s)) {
				break
			}
			return int(x)
		}
	}
	r.bad = true
	return 0
}

func (r *snapReader) str() string {
	l := r.uvarint()
	if r.bad || r.pos+l > len(r.s) {
		r.bad = true
		return ""
	}
	v := r.s[r.pos : r.pos+l]
	r.pos += l
	return v
}

func (r *snapReader) byte() byte {
	if r.pos >= len(r.s) {
		r.bad = true
		return 0
	}
	c := r.s[r.pos]
	r.pos++
	return c
}

func (r *snapReader) float() float64 {
	if r.pos+8 > len(r.s) {
		r.bad = true
		return 0
	}
	var u uint64
	for i := range 8 {
		u |= uint64(r.s[r.pos+i]) << (8 * i)
	}
	r.pos += 8
	return math.Float64frombits(u)
}

// newSnapReader checks the version byte and reads the count.
func newSnapReader(v []byte, version byte) (*snapReader, int, error) {
	if len(v) == 0 || v[0] != version {
		return nil, 0, errSnapshot
	}
	r := &snapReader{s: string(v[1:])}
	n := r.uvarint()
	if r.bad {
		return nil, 0, errSnapshot
	}
	return r, n, nil
}

func encodeSnapshot(cs []pipeline.Control) []byte {
	n := 16
	for _, c := range cs {
		n += len(c.Key) + len(c.FrameworkKey) + len(c.ID) + len(c.Title) + len(c.Description) + len(c.Guidance) + len(c.Family) + len(c.Parent) + 8*3 + 1
	}
	w := &snapWriter{b: make([]byte, 0, n)}
	w.byte(controlSnapshotVersion)
	w.b = binary.AppendUvarint(w.b, uint64(len(cs)))
	for _, c := range cs {
		for _, f := range [...]string{c.Key, c.FrameworkKey, c.ID, c.Title, c.Description, c.Guidance, c.Family, c.Parent} {
			w.str(f)
		}
		var flags byte
		if c.Withdrawn {
			flags |= 1
		}
		w.byte(flags)
	}
	return w.b
}

func decodeSnapshot(v []byte) ([]pipeline.Control, error) {
	r, n, err := newSnapReader(v, controlSnapshotVersion)
	if err != nil {
		return nil, err
	}
	cs := make([]pipeline.Control, n)
	for i := range cs {
		cs[i] = pipeline.Control{Key: r.str(), FrameworkKey: r.str(), ID: r.str(), Title: r.str(), Description: r.str(),
			Guidance: r.str(), Family: r.str(), Parent: r.str()}
		cs[i].Withdrawn = r.byte()&1 != 0
		if r.bad {
			return nil, errSnapshot
		}
	}
	return cs, nil
}

func encodeMappings(ms []pipeline.Mapping) ([]byte, error) {
	w := &snapWriter{}
	w.byte(mappingSnapshotVersion)
	w.b = binary.AppendUvarint(w.b, uint64(len(ms)))
	for _, m := range ms {
		createdBy := ""
		if m.CreatedBy != nil {
			b, err := json.Marshal(m.CreatedBy)
			if err != nil {
				return nil, err
			}
			createdBy = string(b)
		}
		for _, f := range [...]string{m.ControlKey, m.MappedControlKey, m.MappingKey, m.ARN, string(m.Status), m.Reasoning, m.Timestamp, createdBy} {
			w.str(f)
		}
		var flags byte
		if m.SimilarityScore != nil {
			flags |= 1
		}
		if m.RerankScore != nil {
			flags |= 2
		}
		w.byte(flags)
		if m.SimilarityScore != nil {
			w.float(*m.SimilarityScore)
		}
		if m.RerankScore != nil {
			w.float(*m.RerankScore)
		}
	}
	return w.b, nil
}

// decodeMappings decodes a mapping snapshot. Equal created_by objects (one
// import writes the same one on every mapping) are decoded once and share
// one map.
func decodeMappings(v []byte) ([]pipeline.Mapping, error) {
	r, n, err := newSnapReader(v, mappingSnapshotVersion)
	if err != nil {
		return nil, err
	}
	ms := make([]pipeline.Mapping, n)
	createdBy := map[string]map[string]any{}
	for i := range ms {
		m := pipeline.Mapping{ControlKey: r.str(), MappedControlKey: r.str(), MappingKey: r.str(), ARN: r.str(),
			Status: pipeline.MappingStatus(r.str()), Reasoning: r.str(), Timestamp: r.str()}
		cb := r.str()
		flags := r.byte()
		if flags&1 != 0 {
			f := r.float()
			m.SimilarityScore = &f
		}
		if flags&2 != 0 {
			f := r.float()
			m.RerankScore = &f
		}
		if r.bad {
			return nil, errSnapshot
		}
		if cb != "" {
			by, ok := createdBy[cb]
			if !ok {
				if err := json.Unmarshal([]byte(cb), &by); err != nil {
					return nil, errSnapshot
				}
				createdBy[cb] = by
			}
			m.CreatedBy = by
		}
		ms[i] = m
	}
	return ms, nil
}
