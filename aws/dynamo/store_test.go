package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/pipeline"
)

var fixedNow = func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }

// fastBackoff keeps retry tests quick without changing their shape.
var fastBackoff = dynamo.Backoff{Base: time.Millisecond, Max: 4 * time.Millisecond, Attempts: 4}

func newStore(t *testing.T, opts ...dynamo.StoreOption) (*dynamodb.Client, dynamo.Tables, *dynamo.Store) {
	t.Helper()
	c, tables := dynamotest.Setup(t)
	opts = append([]dynamo.StoreOption{dynamo.WithClock(fixedNow), dynamo.WithBackoff(fastBackoff)}, opts...)
	return c, tables, dynamo.NewStore(c, tables, opts...)
}

func nistControl(id string) pipeline.Control {
	return pipeline.Control{
		Key: pipeline.ControlKey("NIST-SP-800-53#R5", id), FrameworkKey: "NIST-SP-800-53#R5", ID: id,
		Title: "Control " + id, Description: "The organization does " + id + ".", Family: "AC",
	}
}

func ptr(f float64) *float64 { return &f }

func TestStoreRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, _, s := newStore(t)

	// Frameworks.
	fws := []pipeline.Framework{
		{Key: "NIST-SP-800-53#R5", Name: "NIST-SP-800-53", Version: "R5", Title: "Security and Privacy Controls"},
		{Key: "AWS.ControlCatalog#1.0", Name: "AWS.ControlCatalog", Version: "1.0", Source: "catalog.jsonl"},
	}
	for _, fw := range fws {
		if err := s.PutFramework(ctx, fw); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Framework(ctx, "NIST-SP-800-53#R5")
	if err != nil || !reflect.DeepEqual(got, fws[0]) {
		t.Fatalf("Framework = %+v, %v", got, err)
	}
	list, err := s.Frameworks(ctx)
	if err != nil || len(list) != 2 || list[0].Key != "AWS.ControlCatalog#1.0" || list[1] != fws[0] {
		t.Fatalf("Frameworks = %+v, %v", list, err)
	}

	// Controls: a repeated key keeps the last one given; the control whose
	// framework key is not its key's prefix is found through the index.
	ac2 := nistControl("AC-2(1)")
	ac2.Parent, ac2.Withdrawn, ac2.Guidance = "AC-2", true, "See AC-2."
	odd := pipeline.Control{Key: "AWS.Config#1#S3_ENCRYPTED", FrameworkKey: "AWS.ControlCatalog#1.0", ID: "S3_ENCRYPTED", Title: "S3 encrypted"}
	stale := nistControl("AC-1")
	stale.Title = "stale"
	in := []pipeline.Control{stale, nistControl("AC-1"), ac2, odd}
	if err := s.PutControls(ctx, in); err != nil {
		t.Fatal(err)
	}
	for _, want := range in[1:] {
		c, err := s.Control(ctx, want.Key)
		if err != nil || !reflect.DeepEqual(c, want) {
			t.Fatalf("Control(%s) = %+v, %v; want %+v", want.Key, c, err, want)
		}
	}
	cs, err := s.Controls(ctx, "NIST-SP-800-53#R5")
	if err != nil || len(cs) != 2 || cs[0] != nistControl("AC-1") || cs[1] != ac2 {
		t.Fatalf("Controls = %+v, %v", cs, err)
	}

	// Enrichment, with nested agent outputs.
	e := pipeline.Enrichment{
		ControlKey: ac2.Key, OriginalText: ac2.Description, EnrichedText: "Accounts are managed automatically.",
		Data: map[string]any{
			"enrichedInterpretation": map[string]any{"enrichedText": "Accounts…", "awsServices": []any{"IAM", "AWS Organizations"}},
			"agentOutputs":           map[string]any{"agent1": map[string]any{"score": 0.5}},
		},
		Version: "v1",
	}
	if err := s.PutEnrichment(ctx, e); err != nil {
		t.Fatal(err)
	}
	ge, err := s.Enrichment(ctx, ac2.Key)
	e.CreatedAt = "2026-05-01T12:00:00Z" // stamped because it was empty
	if err != nil || !reflect.DeepEqual(ge, e) {
		t.Fatalf("Enrichment = %+v, %v; want %+v", ge, err, e)
	}

	// Mappings: keys and ARN filled in, read by source (ordered by target)
	// and by status (ordered by source).
	ms := []pipeline.Mapping{
		{ControlKey: odd.Key, MappedControlKey: ac2.Key, Status: pipeline.MappingApproved, SimilarityScore: ptr(0.91), RerankScore: ptr(0.87),
			Reasoning: "Both require encryption.", CreatedBy: map[string]any{"user": "alice"}, Timestamp: "2026-05-01T12:00:00Z"},
		{ControlKey: odd.Key, MappedControlKey: nistControl("AC-1").Key, Status: pipeline.MappingPendingReview},
		{ControlKey: "AWS.ControlCatalog#1.0#OTHER", MappedControlKey: ac2.Key, Status: pipeline.MappingApproved, MappingKey: "custom", ARN: "arn:custom"},
	}
	if err := s.PutMappings(ctx, ms); err != nil {
		t.Fatal(err)
	}
	ms[0].MappingKey = pipeline.MappingKey(odd.Key, ac2.Key)
	ms[0].ARN = pipeline.MappingARN(ms[0].MappingKey)
	ms[1].MappingKey = pipeline.MappingKey(odd.Key, ms[1].MappedControlKey)
	ms[1].ARN = pipeline.MappingARN(ms[1].MappingKey)
	forOdd, err := s.MappingsForControl(ctx, odd.Key)
	if err != nil || !reflect.DeepEqual(forOdd, []pipeline.Mapping{ms[1], ms[0]}) {
		t.Fatalf("MappingsForControl = %+v, %v", forOdd, err)
	}
	approved, err := s.MappingsByStatus(ctx, pipeline.MappingApproved)
	if err != nil || !reflect.DeepEqual(approved, []pipeline.Mapping{ms[0], ms[2]}) {
		t.Fatalf("MappingsByStatus = %+v, %v", approved, err)
	}

	// Jobs, with result mappings; the legacy IN_PROGRESS reads as RUNNING.
	j := pipeline.Job{
		JobID: "550e8400-e29b-41d4-a716-446655440000", Status: pipeline.JobCompleted, ControlKey: odd.Key,
		TargetFrameworkKey: "NIST-SP-800-53#R5", TargetControlIDs: []string{"AC-1", "AC-2(1)"},
		CreatedAt: "2026-05-01T12:00:00Z", CompletedAt: "2026-05-01T12:01:00Z", TTL: 1778241600,
		Mappings: []map[string]any{{"target_control_key": ac2.Key, "similarity_score": 0.91}},
	}
	if err := s.PutJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	gj, err := s.Job(ctx, j.JobID)
	if err != nil || !reflect.DeepEqual(gj, j) {
		t.Fatalf("Job = %+v, %v; want %+v", gj, err, j)
	}
	legacy := pipeline.Job{JobID: "legacy", Status: "IN_PROGRESS", ControlKey: odd.Key, TargetFrameworkKey: "NIST-SP-800-53#R5", CreatedAt: "2026-05-01T12:00:00Z"}
	if err := s.PutJob(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	if gj, err := s.Job(ctx, "legacy"); err != nil || gj.Status != pipeline.JobRunning {
		t.Fatalf("legacy job = %+v, %v", gj, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStoreEmbeddings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, tables, list := newStore(t)
	bin := dynamo.NewStore(c, tables, dynamo.WithEmbeddingFormat(dynamo.EmbeddingBinary))

	vec := make([]float32, 4096)
	for i := range vec {
		vec[i] = float32(math.Sin(float64(i))) / 64
	}
	vec[0], vec[1] = math.SmallestNonzeroFloat32, -math.MaxFloat32
	if err := list.PutEmbedding(ctx, "K#1#list", "v1", vec); err != nil {
		t.Fatal(err)
	}
	if err := bin.PutEmbedding(ctx, "K#1#bin", "v1", vec); err != nil {
		t.Fatal(err)
	}
	// Each store reads both forms, bit for bit.
	for _, s := range []*dynamo.Store{list, bin} {
		for _, key := range []string{"K#1#list", "K#1#bin"} {
			got, ok, err := s.Embedding(ctx, key, "v1")
			if err != nil || !ok || !reflect.DeepEqual(got, vec) {
				t.Fatalf("Embedding(%s): ok=%v err=%v equal=%v", key, ok, err, reflect.DeepEqual(got, vec))
			}
		}
	}
	// The default writes the seed's List of Numbers, stamped.
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tables.EmbeddingCache), Key: dynamo.Item{
		dynamo.ControlIDAttr: &types.AttributeValueMemberS{Value: "K#1#list"}, dynamo.ModelVersionAttr: &types.AttributeValueMemberS{Value: "v1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := out.Item[dynamo.EmbeddingAttr].(*types.AttributeValueMemberL); !ok || len(l.Value) != 4096 {
		t.Fatalf("embedding stored as %T", out.Item[dynamo.EmbeddingAttr])
	}
	if at := dynamo.Text(out.Item[dynamo.CreatedAtAttr]); at != "2026-05-01T12:00:00Z" {
		t.Fatalf("created_at = %q", at)
	}

	// A vector the seed's Python wrote: Decimal strings with more digits
	// than a float32 holds.
	dynamotest.Put(t, c, tables.EmbeddingCache, dynamo.Item{
		dynamo.ControlIDAttr: &types.AttributeValueMemberS{Value: "K#1#py"}, dynamo.ModelVersionAttr: &types.AttributeValueMemberS{Value: "v1"},
		dynamo.EmbeddingAttr: &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberN{Value: "0.023456789012345678"}, &types.AttributeValueMemberN{Value: "-0.145"},
		}},
	})
	if got, ok, err := list.Embedding(ctx, "K#1#py", "v1"); err != nil || !ok || !reflect.DeepEqual(got, []float32{0.023456789012345678, -0.145}) {
		t.Fatalf("python vector = %v, %v, %v", got, ok, err)
	}
	// Another model version is a miss, not an error.
	if got, ok, err := list.Embedding(ctx, "K#1#list", "v2"); err != nil || ok || got != nil {
		t.Fatalf("other version = %v, %v, %v", got, ok, err)
	}
}

// countingAPI counts the Query calls a store makes of the real client.
type countingAPI struct {
	*dynamodb.Client
	queries atomic.Int64
}

func (c *countingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries.Add(1)
	return c.Client.Query(ctx, in, o...)
}

func TestStorePagesQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, tables := dynamotest.Setup(t)
	api := &countingAPI{Client: c}
	s := dynamo.NewStore(api, tables, dynamo.WithPageSize(100))

	controls := make([]pipeline.Control, 250)
	ms := make([]pipeline.Mapping, 250)
	for i := range controls {
		controls[i] = nistControl(fmt.Sprintf("X-%03d", i))
		ms[i] = pipeline.Mapping{ControlKey: fmt.Sprintf("AWS#1#R%03d", i), MappedControlKey: controls[i].Key, Status: pipeline.MappingApproved}
	}
	if err := s.PutControls(ctx, controls); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMappings(ctx, ms); err != nil {
		t.Fatal(err)
	}
	got, err := s.Controls(ctx, "NIST-SP-800-53#R5")
	if err != nil || !reflect.DeepEqual(got, controls) {
		t.Fatalf("Controls: %d controls, %v", len(got), err)
	}
	if n := api.queries.Swap(0); n != 3 {
		t.Fatalf("Controls made %d queries, want 3 pages of 100", n)
	}
	approved, err := s.MappingsByStatus(ctx, pipeline.MappingApproved)
	if err != nil || len(approved) != 250 || approved[0].ControlKey != "AWS#1#R000" || approved[249].ControlKey != "AWS#1#R249" {
		t.Fatalf("MappingsByStatus: %d mappings, %v", len(approved), err)
	}
	if n := api.queries.Load(); n != 3 {
		t.Fatalf("MappingsByStatus made %d queries, want 3", n)
	}
}

// unprocessedInjectedAPI writes through to dynalite, which never throttles,
// but hands back part of each batch as UnprocessedItems the way a
// throttled table does, so the store's retry loop runs against real writes.
type unprocessedInjectedAPI struct {
	*dynamodb.Client
	// keep decides how many of a call's n requests are written; the rest
	// come back unprocessed.
	keep  func(call, n int) int
	mu    sync.Mutex
	calls []int // requests per call
}

func (u *unprocessedInjectedAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	u.mu.Lock()
	call := len(u.calls)
	for _, reqs := range in.RequestItems {
		u.calls = append(u.calls, len(reqs))
	}
	u.mu.Unlock()
	out := &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{}}
	for table, reqs := range in.RequestItems {
		k := u.keep(call, len(reqs))
		if k > 0 {
			res, err := u.Client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs[:k]}}, o...)
			if err != nil {
				return nil, err
			}
			if len(res.UnprocessedItems) > 0 {
				return nil, errors.New("dynalite left items unprocessed")
			}
		}
		if k < len(reqs) {
			out.UnprocessedItems[table] = reqs[k:]
		}
	}
	return out, nil
}

func TestStoreRetriesInjectedUnprocessedItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, tables := dynamotest.Setup(t)

	// Every call writes half of what it is given (at least one item), as a
	// throttled table does: 60 controls take chunks of 25, 25, 10, each
	// drained over several calls.
	api := &unprocessedInjectedAPI{Client: c, keep: func(_, n int) int { return max(n/2, 1) }}
	s := dynamo.NewStore(api, tables, dynamo.WithBackoff(fastBackoff))
	controls := make([]pipeline.Control, 60)
	for i := range controls {
		controls[i] = nistControl(fmt.Sprintf("T-%02d", i))
	}
	if err := s.PutControls(ctx, controls); err != nil {
		t.Fatal(err)
	}
	want := []int{25, 13, 7, 4, 2, 1, 25, 13, 7, 4, 2, 1, 10, 5, 3, 2, 1}
	if !reflect.DeepEqual(api.calls, want) {
		t.Fatalf("batch calls %v, want %v", api.calls, want)
	}
	got, err := s.Controls(ctx, "NIST-SP-800-53#R5")
	if err != nil || !reflect.DeepEqual(got, controls) {
		t.Fatalf("after retries: %d controls, %v", len(got), err)
	}

	// A table that stays throttled: after Attempts fruitless calls the
	// write fails, naming the table and how much was left.
	stuck := &unprocessedInjectedAPI{Client: c, keep: func(call, n int) int {
		if call == 0 {
			return 5
		}
		return 0
	}}
	s = dynamo.NewStore(stuck, tables, dynamo.WithBackoff(fastBackoff))
	err = s.PutMappings(ctx, []pipeline.Mapping{
		{ControlKey: "A#1#a", MappedControlKey: "B#1#b", Status: pipeline.MappingApproved},
		{ControlKey: "A#1#a", MappedControlKey: "B#1#c", Status: pipeline.MappingApproved},
		{ControlKey: "A#1#a", MappedControlKey: "B#1#d", Status: pipeline.MappingApproved},
		{ControlKey: "A#1#a", MappedControlKey: "B#1#e", Status: pipeline.MappingApproved},
		{ControlKey: "A#1#a", MappedControlKey: "B#1#f", Status: pipeline.MappingApproved},
		{ControlKey: "A#1#a", MappedControlKey: "B#1#g", Status: pipeline.MappingApproved},
	})
	if err == nil || !strings.Contains(err.Error(), tables.Mappings) || !strings.Contains(err.Error(), "1 item(s) still unprocessed after 4 calls") {
		t.Fatalf("stuck write: %v", err)
	}
	if len(stuck.calls) != 5 {
		t.Fatalf("stuck write made %d calls, want 1 + 4", len(stuck.calls))
	}

	// A cancelled context ends the wait between retries.
	cctx, cancel := context.WithCancel(ctx)
	slow := &unprocessedInjectedAPI{Client: c, keep: func(int, int) int { cancel(); return 0 }}
	s = dynamo.NewStore(slow, tables, dynamo.WithBackoff(dynamo.Backoff{Base: time.Minute, Max: time.Minute, Attempts: 3}))
	if err := s.PutControls(cctx, controls[:1]); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled write: %v", err)
	}
}

func TestStoreMissingKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, _, s := newStore(t)

	checks := map[string]func() error{
		"framework":       func() error { _, err := s.Framework(ctx, "NOPE#1"); return err },
		"control":         func() error { _, err := s.Control(ctx, "NOPE#1#X"); return err },
		"malformed key":   func() error { _, err := s.Control(ctx, "no-hashes"); return err },
		"enrichment":      func() error { _, err := s.Enrichment(ctx, "NOPE#1#X"); return err },
		"job":             func() error { _, err := s.Job(ctx, "nope"); return err },
		"empty framework": func() error { _, err := s.Framework(ctx, ""); return err },
	}
	for name, f := range checks {
		if err := f(); !errors.Is(err, pipeline.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	if v, ok, err := s.Embedding(ctx, "NOPE#1#X", "v1"); v != nil || ok || err != nil {
		t.Errorf("Embedding = %v, %v, %v", v, ok, err)
	}
	if cs, err := s.Controls(ctx, "NOPE#1"); len(cs) != 0 || err != nil {
		t.Errorf("Controls = %v, %v", cs, err)
	}
	if ms, err := s.MappingsByStatus(ctx, pipeline.MappingRejected); len(ms) != 0 || err != nil {
		t.Errorf("MappingsByStatus = %v, %v", ms, err)
	}
}

func TestStoreErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, tables, s := newStore(t)

	if err := s.PutControls(ctx, []pipeline.Control{{ID: "AC-1"}}); err == nil || !strings.Contains(err.Error(), `control "AC-1" has no control key`) {
		t.Errorf("keyless control: %v", err)
	}
	if err := s.PutMappings(ctx, []pipeline.Mapping{{ControlKey: "A#1#a", MappedControlKey: "B#1#b"}}); err == nil || !strings.Contains(err.Error(), "has no status") {
		t.Errorf("mapping without status: %v", err)
	}

	// Tables that were never created: the error names the table and says
	// how to create it.
	missing := tables
	missing.Jobs, missing.Controls = tables.Jobs+"-absent", tables.Controls+"-absent"
	s = dynamo.NewStore(c, missing)
	_, err := s.Job(ctx, "x")
	if err == nil || !strings.Contains(err.Error(), missing.Jobs) || !strings.Contains(err.Error(), "nexus db bootstrap") {
		t.Errorf("missing jobs table: %v", err)
	}
	err = s.PutControls(ctx, []pipeline.Control{nistControl("AC-1")})
	if err == nil || !strings.Contains(err.Error(), missing.Controls) || !strings.Contains(err.Error(), "nexus db bootstrap") {
		t.Errorf("missing controls table: %v", err)
	}
}
