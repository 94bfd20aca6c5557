package dynamo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nexus-compliance/nexus/pipeline"
)

// Attributes the store writes beyond the key attributes of tables.go.
const (
	EmbeddingAttr = "embedding"  // EmbeddingCache: the vector
	CreatedAtAttr = "created_at" // EmbeddingCache, Enrichment: ISO-8601 UTC
)

// StoreAPI is every call the Store makes; *dynamodb.Client implements it.
type StoreAPI interface {
	PagerAPI
	BatchWriteAPI
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

var _ StoreAPI = (*dynamodb.Client)(nil)

// EmbeddingFormat is how the Store writes a cached vector.
type EmbeddingFormat int

const (
	// EmbeddingList writes a List of Numbers, as the seed's Science
	// orchestrator writes and reads it. The default: a table shared with the
	// deployed Lambdas must stay readable by them.
	EmbeddingList EmbeddingFormat = iota
	// EmbeddingBinary writes the vector as Binary, little-endian float32:
	// 16 KiB of item size for 4096 dimensions where the List takes about
	// 24 KiB (each element pays a byte of overhead and a decimal number),
	// and 22 KiB on the wire (base64) where the List's JSON takes about
	// 85 KiB and a parse per element. Only nexus reads it, so use it for
	// tables no Lambda reads.
	EmbeddingBinary
)

// Store is pipeline.Store over the six Nexus tables, as EnsureTables
// creates them, with the attribute names of the seed's data model.
type Store struct {
	api      StoreAPI
	t        Tables
	format   EmbeddingFormat
	pageSize int32
	backoff  Backoff
	now      func() time.Time
}

var _ pipeline.Store = (*Store)(nil)

// StoreOption configures a Store.
type StoreOption func(*Store)

// WithEmbeddingFormat chooses how vectors are written; both forms are read.
func WithEmbeddingFormat(f EmbeddingFormat) StoreOption {
	return func(s *Store) { s.format = f }
}

// WithPageSize caps the items each Query or Scan call evaluates; 0 (the
// default) lets DynamoDB fill 1 MB pages.
func WithPageSize(n int32) StoreOption {
	return func(s *Store) { s.pageSize = n }
}

// WithBackoff paces the retries of unprocessed batch items (DefaultBackoff
// otherwise).
func WithBackoff(b Backoff) StoreOption {
	return func(s *Store) { s.backoff = b }
}

// WithClock sets the clock that stamps created_at.
func WithClock(now func() time.Time) StoreOption {
	return func(s *Store) { s.now = now }
}

// NewStore returns a Store over the named tables. api is usually a
// *dynamodb.Client built with nexus's AWS configuration, whose adaptive
// retryer absorbs throttled calls.
func NewStore(api StoreAPI, tables Tables, opts ...StoreOption) *Store {
	s := &Store{api: api, t: tables, backoff: DefaultBackoff, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Close does nothing: the SDK client holds no per-store resources.
func (s *Store) Close() error { return nil }

// PutFramework writes one framework, replacing any with the same key.
func (s *Store) PutFramework(ctx context.Context, fw pipeline.Framework) error {
	if fw.Key == "" {
		return errors.New("framework has no key")
	}
	return s.put(ctx, s.t.Frameworks, "framework "+fw.Key, fw)
}

// Framework reads one framework.
func (s *Store) Framework(ctx context.Context, key string) (pipeline.Framework, error) {
	var fw pipeline.Framework
	err := s.get(ctx, s.t.Frameworks, "framework "+key, Item{FrameworkKeyAttr: str(key)}, &fw)
	return fw, err
}

// Frameworks lists every framework, ordered by key.
func (s *Store) Frameworks(ctx context.Context) ([]pipeline.Framework, error) {
	fws, err := readAll[pipeline.Framework](ctx, s, Request{Table: s.t.Frameworks}, "frameworks")
	slices.SortFunc(fws, func(a, b pipeline.Framework) int { return strings.Compare(a.Key, b.Key) })
	return fws, err
}

// PutControls writes controls in batches, replacing those with the same
// key. When a key repeats the last control given wins.
func (s *Store) PutControls(ctx context.Context, controls []pipeline.Control) error {
	items, err := marshalUnique(controls, func(c pipeline.Control) (string, error) {
		if c.Key == "" || c.FrameworkKey == "" {
			return "", fmt.Errorf("control %q has no control key or framework key", c.ID)
		}
		return c.FrameworkKey + "\x00" + c.Key, nil
	})
	if err != nil {
		return fmt.Errorf("writing controls to %s: %w", s.t.Controls, err)
	}
	return s.write(ctx, s.t.Controls, items)
}

// Control reads one control. The framework key is the control key's
// prefix for every control nexus and the seed's importers write, so one
// GetItem usually answers. When it does not (a key outside the pattern, or
// a control filed under another framework key), the ControlKeyIndex finds
// the item's framework key, as the async API handler's control_exists does.
func (s *Store) Control(ctx context.Context, key string) (pipeline.Control, error) {
	var c pipeline.Control
	what := "control " + key
	if key == "" {
		return c, fmt.Errorf("%s in %s: %w", what, s.t.Controls, pipeline.ErrNotFound)
	}
	if fw, _, err := pipeline.SplitControlKey(key); err == nil {
		err := s.get(ctx, s.t.Controls, what, Item{FrameworkKeyAttr: str(fw), ControlKeyAttr: str(key)}, &c)
		if !errors.Is(err, pipeline.ErrNotFound) {
			return c, err
		}
	}
	b := NewBuilder()
	var found Item
	_, err := Read(ctx, s.api, Request{
		Table: s.t.Controls, Index: ControlKeyIndex,
		KeyCondition: b.Name(ControlKeyAttr) + " = " + b.Value(str(key)),
		Names:        b.Names(), Values: b.Values(), Limit: 1,
	}, func(it Item) error { found = it; return nil })
	if err != nil {
		return c, wrap(err, "finding "+what+" in", s.t.Controls+" index "+ControlKeyIndex)
	}
	if found == nil {
		return c, fmt.Errorf("%s: %w", what, pipeline.ErrNotFound)
	}
	return c, s.get(ctx, s.t.Controls, what, Item{FrameworkKeyAttr: found[FrameworkKeyAttr], ControlKeyAttr: found[ControlKeyAttr]}, &c)
}

// Controls lists a framework's controls ordered by control key, with one
// Query (paged) on the table's key.
func (s *Store) Controls(ctx context.Context, frameworkKey string) ([]pipeline.Control, error) {
	return readAll[pipeline.Control](ctx, s, s.query(s.t.Controls, "", FrameworkKeyAttr, frameworkKey), "controls of "+frameworkKey)
}

// Enrichment reads the enrichment of a control.
func (s *Store) Enrichment(ctx context.Context, controlKey string) (pipeline.Enrichment, error) {
	var e pipeline.Enrichment
	err := s.get(ctx, s.t.Enrichment, "enrichment of "+controlKey, Item{ControlIDAttr: str(controlKey)}, &e)
	return e, err
}

// PutEnrichment writes an enrichment, stamping created_at when it is empty.
func (s *Store) PutEnrichment(ctx context.Context, e pipeline.Enrichment) error {
	if e.ControlKey == "" {
		return errors.New("enrichment has no control key")
	}
	if e.CreatedAt == "" {
		e.CreatedAt = s.stamp()
	}
	return s.put(ctx, s.t.Enrichment, "enrichment of "+e.ControlKey, e)
}

// Embedding reads a cached vector, in either format; found is false when
// none is cached for the control and model version.
func (s *Store) Embedding(ctx context.Context, controlKey, modelVersion string) ([]float32, bool, error) {
	it, err := s.getItem(ctx, s.t.EmbeddingCache, Item{ControlIDAttr: str(controlKey), ModelVersionAttr: str(modelVersion)})
	if err != nil {
		return nil, false, wrap(err, "reading the embedding of "+controlKey+" ("+modelVersion+") from", s.t.EmbeddingCache)
	}
	if it == nil {
		return nil, false, nil
	}
	v, err := decodeVector(it[EmbeddingAttr])
	if err != nil {
		return nil, false, fmt.Errorf("reading the embedding of %s (%s) from %s: %w", controlKey, modelVersion, s.t.EmbeddingCache, err)
	}
	return v, true, nil
}

// PutEmbedding caches a vector in the Store's EmbeddingFormat.
func (s *Store) PutEmbedding(ctx context.Context, controlKey, modelVersion string, vector []float32) error {
	it := Item{
		ControlIDAttr:    str(controlKey),
		ModelVersionAttr: str(modelVersion),
		EmbeddingAttr:    encodeVector(vector, s.format),
		CreatedAtAttr:    str(s.stamp()),
	}
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.t.EmbeddingCache), Item: it})
	return wrap(err, "writing the embedding of "+controlKey+" ("+modelVersion+") to", s.t.EmbeddingCache)
}

// PutMappings writes mappings in batches. An empty mappingKey or arn is
// filled in from the two control keys, as the mapping API does: the
// MappingKeyIndex cannot hold an empty key. A status is required, since
// StatusIndex cannot either.
func (s *Store) PutMappings(ctx context.Context, ms []pipeline.Mapping) error {
	filled := make([]pipeline.Mapping, len(ms))
	for i, m := range ms {
		if m.MappingKey == "" && m.ControlKey != "" && m.MappedControlKey != "" {
			m.MappingKey = pipeline.MappingKey(m.ControlKey, m.MappedControlKey)
		}
		if m.ARN == "" && m.MappingKey != "" {
			m.ARN = pipeline.MappingARN(m.MappingKey)
		}
		filled[i] = m
	}
	items, err := marshalUnique(filled, func(m pipeline.Mapping) (string, error) {
		if m.ControlKey == "" || m.MappedControlKey == "" {
			return "", fmt.Errorf("mapping %q → %q lacks a control key", m.ControlKey, m.MappedControlKey)
		}
		if m.Status == "" {
			return "", fmt.Errorf("mapping %s → %s has no status", m.ControlKey, m.MappedControlKey)
		}
		return m.ControlKey + "\x00" + m.MappedControlKey, nil
	})
	if err != nil {
		return fmt.Errorf("writing mappings to %s: %w", s.t.Mappings, err)
	}
	return s.write(ctx, s.t.Mappings, items)
}

// MappingsForControl lists the mappings whose source is controlKey, ordered
// by target, with one Query (paged) on the table's key.
func (s *Store) MappingsForControl(ctx context.Context, controlKey string) ([]pipeline.Mapping, error) {
	return readAll[pipeline.Mapping](ctx, s, s.query(s.t.Mappings, "", ControlKeyAttr, controlKey), "mappings of "+controlKey)
}

// MappingsByStatus lists every mapping in one status, ordered by source,
// with one Query (paged) on StatusIndex.
func (s *Store) MappingsByStatus(ctx context.Context, status pipeline.MappingStatus) ([]pipeline.Mapping, error) {
	return readAll[pipeline.Mapping](ctx, s, s.query(s.t.Mappings, StatusIndex, StatusAttr, string(status)), string(status)+" mappings")
}

// PutJob writes one job record, replacing any with the same id.
func (s *Store) PutJob(ctx context.Context, j pipeline.Job) error {
	if j.JobID == "" {
		return errors.New("job has no id")
	}
	return s.put(ctx, s.t.Jobs, "job "+j.JobID, j)
}

// Job reads one job record. The SQS trigger's legacy IN_PROGRESS status is
// read as RUNNING, as the data model says.
func (s *Store) Job(ctx context.Context, id string) (pipeline.Job, error) {
	var j pipeline.Job
	if err := s.get(ctx, s.t.Jobs, "job "+id, Item{JobID: str(id)}, &j); err != nil {
		return j, err
	}
	if st, err := pipeline.ParseJobStatus(string(j.Status)); err == nil {
		j.Status = st
	}
	return j, nil
}

func (s *Store) stamp() string { return s.now().UTC().Format(time.RFC3339) }

// query reads every item whose partition key attr equals value.
func (s *Store) query(table, index, attr, value string) Request {
	b := NewBuilder()
	return Request{
		Table: table, Index: index,
		KeyCondition: b.Name(attr) + " = " + b.Value(str(value)),
		Names:        b.Names(), Values: b.Values(),
	}
}

func readAll[T any](ctx context.Context, s *Store, req Request, what string) ([]T, error) {
	if req.PageSize == 0 {
		req.PageSize = s.pageSize
	}
	var out []T
	_, err := Read(ctx, s.api, req, func(it Item) error {
		var v T
		if err := attributevalue.UnmarshalMap(it, &v); err != nil {
			return fmt.Errorf("decoding item %s: %w", KeyString(keyOf(it)), err)
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		table := req.Table
		if req.Index != "" {
			table += " index " + req.Index
		}
		return nil, wrap(err, "reading "+what+" from", table)
	}
	return out, nil
}

// keyOf keeps the attributes that name an item in messages.
func keyOf(it Item) Item {
	k := Item{}
	for _, a := range []string{FrameworkKeyAttr, ControlKeyAttr, MappedControlKeyAttr, ControlIDAttr, JobID} {
		if v, ok := it[a]; ok {
			k[a] = v
		}
	}
	return k
}

func (s *Store) put(ctx context.Context, table, what string, v any) error {
	it, err := attributevalue.MarshalMap(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", what, err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it})
	return wrap(err, "writing "+what+" to", table)
}

func (s *Store) getItem(ctx context.Context, table string, key Item) (Item, error) {
	for _, v := range key {
		if Text(v) == "" {
			return nil, nil // names no item; DynamoDB would reject the request
		}
	}
	// Consistent: a single item costs one read unit either way for most
	// items, and a CLI that writes and reads back (import, then map) must
	// see its own writes.
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return nonEmpty(out.Item), nil
}

// get reads one item into v; a missing item is pipeline.ErrNotFound.
func (s *Store) get(ctx context.Context, table, what string, key Item, v any) error {
	it, err := s.getItem(ctx, table, key)
	if err != nil {
		return wrap(err, "reading "+what+" from", table)
	}
	if it == nil {
		return fmt.Errorf("%s in %s: %w", what, table, pipeline.ErrNotFound)
	}
	if err := attributevalue.UnmarshalMap(it, v); err != nil {
		return fmt.Errorf("decoding %s from %s: %w", what, table, err)
	}
	return nil
}

func (s *Store) write(ctx context.Context, table string, items []Item) error {
	err := WriteBatch(ctx, s.api, table, items, s.backoff)
	if IsNotFound(err) {
		return fmt.Errorf("%w (create the Nexus tables with `nexus db bootstrap`)", err)
	}
	return err
}

// wrap names the table in an error, and says how to create it when it does
// not exist. what ends with a preposition ("reading X from").
func wrap(err error, what, table string) error {
	if err == nil {
		return nil
	}
	if IsNotFound(err) {
		return fmt.Errorf("%s %s: the table does not exist (create the Nexus tables with `nexus db bootstrap`): %w", what, table, err)
	}
	return fmt.Errorf("%s %s: %w", what, table, err)
}

// marshalUnique marshals values, keeping only the last of those with the
// same key: one BatchWriteItem call must not name an item twice, and "the
// last write wins" is what separate PutItem calls would have done.
func marshalUnique[T any](vs []T, key func(T) (string, error)) ([]Item, error) {
	last := make(map[string]int, len(vs))
	keys := make([]string, len(vs))
	for i, v := range vs {
		k, err := key(v)
		if err != nil {
			return nil, err
		}
		keys[i], last[k] = k, i
	}
	items := make([]Item, 0, len(last))
	for i, v := range vs {
		if last[keys[i]] != i {
			continue
		}
		it, err := attributevalue.MarshalMap(v)
		if err != nil {
			return nil, fmt.Errorf("encoding %T %d: %w", v, i, err)
		}
		items = append(items, it)
	}
	return items, nil
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// encodeVector writes a vector as a List of Numbers or as Binary. Numbers
// are written with the fewest digits that read back as the same float32,
// which keeps the List form as small as it can be.
func encodeVector(v []float32, f EmbeddingFormat) types.AttributeValue {
	if f == EmbeddingBinary {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return &types.AttributeValueMemberB{Value: b}
	}
	l := make([]types.AttributeValue, len(v))
	for i, x := range v {
		l[i] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(float64(x), 'g', -1, 32)}
	}
	return &types.AttributeValueMemberL{Value: l}
}

// decodeVector reads either form. Numbers written by the seed's Python
// (Decimal, up to 17 digits) round to the nearest float32.
func decodeVector(av types.AttributeValue) ([]float32, error) {
	switch v := av.(type) {
	case *types.AttributeValueMemberB:
		if len(v.Value)%4 != 0 {
			return nil, fmt.Errorf("binary embedding of %d bytes is not a whole number of float32s", len(v.Value))
		}
		out := make([]float32, len(v.Value)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(v.Value[4*i:]))
		}
		return out, nil
	case *types.AttributeValueMemberL:
		out := make([]float32, len(v.Value))
		for i, e := range v.Value {
			n, ok := e.(*types.AttributeValueMemberN)
			if !ok {
				return nil, fmt.Errorf("embedding element %d is not a number", i)
			}
			f, err := strconv.ParseFloat(n.Value, 32)
			if err != nil {
				return nil, fmt.Errorf("embedding element %d: %w", i, err)
			}
			out[i] = float32(f)
		}
		return out, nil
	case nil:
		return nil, errors.New("the item has no embedding attribute")
	}
	return nil, fmt.Errorf("embedding is stored as %T, neither a List of numbers nor Binary", av)
}
