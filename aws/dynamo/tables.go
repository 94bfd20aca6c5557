package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute and index names of the Nexus tables, as the seed's Lambdas use
// them.
const (
	JobID  = "job_id" // MappingJobs partition key
	JobTTL = "ttl"    // MappingJobs time-to-live attribute (Unix seconds, 7 days)

	ControlKeyAttr       = "controlKey"       // ControlMappings partition key, FrameworkControls sort key
	MappedControlKeyAttr = "mappedControlKey" // ControlMappings sort key
	MappingKeyAttr       = "mappingKey"
	StatusAttr           = "status"
	FrameworkKeyAttr     = "frameworkKey" // Frameworks and FrameworkControls partition key
	ControlIDAttr        = "control_id"   // Enrichment and EmbeddingCache partition key
	ModelVersionAttr     = "model_version"

	MappingKeyIndex    = "MappingKeyIndex"
	StatusIndex        = "StatusIndex"
	ControlStatusIndex = "ControlStatusIndex"
	ControlKeyIndex    = "ControlKeyIndex"
)

// Action says what EnsureTables did to a resource.
type Action string

// The actions.
const (
	Created   Action = "created"
	Unchanged Action = "unchanged"
	Updated   Action = "updated"
	// From PlanTables: what EnsureTables would do.
	WouldCreate Action = "would create"
	WouldUpdate Action = "would update"
)

// Resource is one thing bootstrap made sure of, and what it did.
type Resource struct {
	Kind   string `json:"kind"` // "table"
	Name   string `json:"name"`
	Action Action `json:"action"`
	Detail string `json:"detail,omitempty"`
}

// Tables names the six Nexus DynamoDB tables.
type Tables struct {
	Jobs           string `mapstructure:"jobs" json:"jobs" yaml:"jobs"`
	Mappings       string `mapstructure:"mappings" json:"mappings" yaml:"mappings"`
	Enrichment     string `mapstructure:"enrichment" json:"enrichment" yaml:"enrichment"`
	EmbeddingCache string `mapstructure:"embedding_cache" json:"embedding_cache" yaml:"embedding_cache"`
	Frameworks     string `mapstructure:"frameworks" json:"frameworks" yaml:"frameworks"`
	Controls       string `mapstructure:"controls" json:"controls" yaml:"controls"`
}

// Names lists the six table names in the seed's order.
func (t Tables) Names() []string {
	return []string{t.Jobs, t.Mappings, t.Enrichment, t.EmbeddingCache, t.Frameworks, t.Controls}
}

// IndexSpec is a global secondary index a Nexus table must have. Every key
// attribute of the Nexus tables is a string.
type IndexSpec struct {
	Name         string
	PartitionKey string
	SortKey      string
	Projection   types.ProjectionType
}

// TableSpec is one Nexus table as the seed's architecture describes it.
type TableSpec struct {
	Logical      string // the key under tables: in the config (jobs, mappings…)
	Name         string
	PartitionKey string
	SortKey      string
	Indexes      []IndexSpec
	TTLAttribute string
}

// Specs returns the six Nexus tables under the given names, in the seed's
// order.
//
// Projections. StatusIndex and ControlStatusIndex project ALL: they serve
// lists (the review queue of one status, one control's mappings in one
// status) that show whole mappings, and mapping items are small (keys,
// scores, a paragraph of reasoning), so copying them costs little while a
// KEYS_ONLY index would need one GetItem per listed mapping. MappingKeyIndex
// is a lookup from the normalised pair key to the base key (the seed:
// "mappingKey → controlKey, mappedControlKey"); at most two items match, so
// KEYS_ONLY plus a GetItem is cheapest. ControlKeyIndex on FrameworkControls
// answers "does this control exist, and in which framework" for the async
// API handler: the keys are the whole answer, and control items carry long
// descriptions that an ALL projection would copy for nothing, so KEYS_ONLY.
func Specs(t Tables) []TableSpec {
	return []TableSpec{
		{Logical: "jobs", Name: t.Jobs, PartitionKey: JobID, TTLAttribute: JobTTL},
		{Logical: "mappings", Name: t.Mappings, PartitionKey: ControlKeyAttr, SortKey: MappedControlKeyAttr, Indexes: []IndexSpec{
			{Name: MappingKeyIndex, PartitionKey: MappingKeyAttr, Projection: types.ProjectionTypeKeysOnly},
			{Name: StatusIndex, PartitionKey: StatusAttr, SortKey: ControlKeyAttr, Projection: types.ProjectionTypeAll},
			{Name: ControlStatusIndex, PartitionKey: ControlKeyAttr, SortKey: StatusAttr, Projection: types.ProjectionTypeAll},
		}},
		{Logical: "enrichment", Name: t.Enrichment, PartitionKey: ControlIDAttr},
		{Logical: "embedding_cache", Name: t.EmbeddingCache, PartitionKey: ControlIDAttr, SortKey: ModelVersionAttr},
		{Logical: "frameworks", Name: t.Frameworks, PartitionKey: FrameworkKeyAttr},
		{Logical: "controls", Name: t.Controls, PartitionKey: FrameworkKeyAttr, SortKey: ControlKeyAttr, Indexes: []IndexSpec{
			{Name: ControlKeyIndex, PartitionKey: ControlKeyAttr, Projection: types.ProjectionTypeKeysOnly},
		}},
	}
}

// EnsureTables makes sure the six Nexus tables exist as Specs describes
// them, creating what is missing (on-demand billing) and adding missing
// indexes and TTL to tables that exist. It is idempotent: a second run
// reports every table unchanged. It never deletes or re-creates: a table
// whose key schema differs is an error. The tables are handled concurrently;
// the result keeps Specs' order and leaves out the tables that failed, whose
// errors are joined.
func EnsureTables(ctx context.Context, api AdminAPI, tables Tables) ([]Resource, error) {
	return ensureTables(ctx, api, tables, false)
}

// PlanTables reports what EnsureTables would do, making only read calls
// (DescribeTable, DescribeTimeToLive): the dry run of `nexus db bootstrap`.
func PlanTables(ctx context.Context, api AdminAPI, tables Tables) ([]Resource, error) {
	return ensureTables(ctx, api, tables, true)
}

func ensureTables(ctx context.Context, api AdminAPI, tables Tables, plan bool) ([]Resource, error) {
	specs := Specs(tables)
	res := make([]Resource, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() { res[i], errs[i] = ensureTable(ctx, api, s, plan) })
	}
	wg.Wait()
	var out []Resource
	for i := range specs {
		if errs[i] == nil {
			out = append(out, res[i])
		}
	}
	return out, errors.Join(errs...)
}

// EnsureTable makes sure one table matches its spec; see EnsureTables.
func EnsureTable(ctx context.Context, api AdminAPI, spec TableSpec) (Resource, error) {
	return ensureTable(ctx, api, spec, false)
}

// ensureTable checks one table against its spec and, unless plan is set,
// makes it match.
func ensureTable(ctx context.Context, api AdminAPI, spec TableSpec, plan bool) (Resource, error) {
	r := Resource{Kind: "table", Name: spec.Name, Action: Unchanged}
	if spec.Name == "" {
		return r, fmt.Errorf("the %s table has no name (set tables.%s)", spec.Logical, spec.Logical)
	}
	var notes []string
	desc, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(spec.Name)})
	switch {
	case IsNotFound(err) && plan:
		r.Action, r.Detail = WouldCreate, createdDetail(spec)
		return r, nil
	case IsNotFound(err):
		_, err = api.CreateTable(ctx, createInput(spec))
		var inUse *types.ResourceInUseException
		if errors.As(err, &inUse) {
			err = nil // created concurrently by someone else: check it as it is
		} else if err == nil {
			r.Action = Created
			notes = append(notes, createdDetail(spec))
		}
		if err != nil {
			return r, fmt.Errorf("creating table %s: %w", spec.Name, err)
		}
		if desc, err = waitActive(ctx, api, spec.Name); err != nil {
			return r, err
		}
	case err != nil:
		return r, fmt.Errorf("describing table %s: %w", spec.Name, err)
	default:
		if !plan && desc.Table.TableStatus != types.TableStatusActive {
			if desc, err = waitActive(ctx, api, spec.Name); err != nil {
				return r, err
			}
		}
	}
	t := FromDescription(desc.Table)

	if err := checkKeys(spec, t); err != nil {
		return r, err
	}
	if r.Action != Created && t.BillingMode != string(types.BillingModePayPerRequest) {
		notes = append(notes, fmt.Sprintf("billing %s (nexus creates PAY_PER_REQUEST; not changed)", t.BillingMode))
	}
	for _, ix := range spec.Indexes {
		have, ok := t.Index(ix.Name)
		if ok {
			if err := checkIndex(spec, ix, have); err != nil {
				return r, err
			}
			if have.Projection != string(ix.Projection) {
				notes = append(notes, fmt.Sprintf("GSI %s projects %s, nexus expects %s (not changed: a projection cannot be altered in place)", ix.Name, have.Projection, ix.Projection))
			}
			continue
		}
		if plan {
			r.Action = WouldUpdate
			notes = append(notes, "would add GSI "+ix.Name)
			continue
		}
		if err := addIndex(ctx, api, spec, ix, t); err != nil {
			return r, err
		}
		r.Action = Updated
		notes = append(notes, "added GSI "+ix.Name)
	}
	if spec.TTLAttribute != "" {
		note, changed, err := ensureTTL(ctx, api, spec, plan)
		if err != nil {
			return r, err
		}
		if changed && r.Action == Unchanged {
			r.Action = Updated
			if plan {
				r.Action = WouldUpdate
			}
		}
		notes = append(notes, note)
	}
	if r.Action == Unchanged {
		notes = append([]string{createdDetail(spec)}, notes...)
	}
	r.Detail = strings.Join(notes, "; ")
	return r, nil
}

func createInput(spec TableSpec) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(spec.Name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   keySchema(spec.PartitionKey, spec.SortKey),
	}
	attrs := []string{spec.PartitionKey, spec.SortKey}
	for _, ix := range spec.Indexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.Name),
			KeySchema:  keySchema(ix.PartitionKey, ix.SortKey),
			Projection: &types.Projection{ProjectionType: ix.Projection},
		})
		attrs = append(attrs, ix.PartitionKey, ix.SortKey)
	}
	in.AttributeDefinitions = attributeDefinitions(attrs...)
	return in
}

func keySchema(pk, sk string) []types.KeySchemaElement {
	ks := []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}}
	if sk != "" {
		ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange})
	}
	return ks
}

// attributeDefinitions declares each named key attribute once, as a string.
func attributeDefinitions(names ...string) []types.AttributeDefinition {
	seen := map[string]bool{}
	var out []types.AttributeDefinition
	for _, n := range names {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS})
	}
	return out
}

func keyDetail(spec TableSpec) string {
	if spec.SortKey != "" {
		return fmt.Sprintf("key %s + %s", spec.PartitionKey, spec.SortKey)
	}
	return "key " + spec.PartitionKey
}

// createdDetail describes the table's keys and indexes.
func createdDetail(spec TableSpec) string {
	d := keyDetail(spec)
	if len(spec.Indexes) > 0 {
		names := make([]string, len(spec.Indexes))
		for i, ix := range spec.Indexes {
			names[i] = ix.Name
		}
		d += "; GSIs " + strings.Join(names, ", ")
	}
	return d
}

func checkKeys(spec TableSpec, t *Table) error {
	want := keyText(spec.PartitionKey, spec.SortKey)
	got := keyText(t.PartitionKey.Name, skName(t.SortKey))
	if want != got {
		return fmt.Errorf("table %s exists with key %s but the %s table needs key %s; nexus never deletes tables: "+
			"point tables.%s at another name (`nexus config set tables.%s NAME`) or fix the table yourself", spec.Name, got, spec.Logical, want, spec.Logical, spec.Logical)
	}
	for _, a := range []Attribute{t.PartitionKey, derefAttr(t.SortKey)} {
		if a.Name != "" && a.Type != string(types.ScalarAttributeTypeS) {
			return fmt.Errorf("table %s declares key attribute %s as %s, but Nexus stores it as a string (S); nexus never deletes tables", spec.Name, a.Name, a.Type)
		}
	}
	return nil
}

func checkIndex(spec TableSpec, ix IndexSpec, have *Index) error {
	want := keyText(ix.PartitionKey, ix.SortKey)
	got := keyText(have.PartitionKey.Name, skName(have.SortKey))
	if !have.Global {
		return fmt.Errorf("table %s has a local index %s where Nexus expects a global secondary index with key %s", spec.Name, ix.Name, want)
	}
	if want != got {
		return fmt.Errorf("table %s has index %s with key %s, but Nexus expects %s; nexus never deletes indexes: fix it yourself", spec.Name, ix.Name, got, want)
	}
	return nil
}

func keyText(pk, sk string) string {
	if sk == "" {
		return "(" + pk + ")"
	}
	return "(" + pk + ", " + sk + ")"
}

func skName(a *Attribute) string {
	if a == nil {
		return ""
	}
	return a.Name
}

func derefAttr(a *Attribute) Attribute {
	if a == nil {
		return Attribute{}
	}
	return *a
}

// addIndex creates one GSI on an existing table and waits until it is
// ACTIVE. DynamoDB creates one index per UpdateTable call.
func addIndex(ctx context.Context, api AdminAPI, spec TableSpec, ix IndexSpec, t *Table) error {
	create := &types.CreateGlobalSecondaryIndexAction{
		IndexName:  aws.String(ix.Name),
		KeySchema:  keySchema(ix.PartitionKey, ix.SortKey),
		Projection: &types.Projection{ProjectionType: ix.Projection},
	}
	if t.BillingMode == string(types.BillingModeProvisioned) {
		// An index of a provisioned table needs capacity of its own; give it
		// the table's.
		create.ProvisionedThroughput = &types.ProvisionedThroughput{
			ReadCapacityUnits: aws.Int64(max(t.ReadCapacity, 1)), WriteCapacityUnits: aws.Int64(max(t.WriteCapacity, 1)),
		}
	}
	_, err := api.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName:                   aws.String(spec.Name),
		AttributeDefinitions:        attributeDefinitions(ix.PartitionKey, ix.SortKey),
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: create}},
	})
	if err != nil {
		return fmt.Errorf("adding GSI %s to table %s: %w", ix.Name, spec.Name, err)
	}
	desc, err := waitActive(ctx, api, spec.Name)
	if err != nil {
		return err
	}
	if _, ok := FromDescription(desc.Table).Index(ix.Name); !ok {
		return fmt.Errorf("adding GSI %s to table %s: the endpoint accepted the update but the index does not exist (some emulators ignore index creation); create the table afresh or add the index yourself", ix.Name, spec.Name)
	}
	return nil
}

// ensureTTL turns on the table's time to live when it is off. It reports
// honestly when the endpoint has no TTL operations instead of failing the
// bootstrap: TTL only bounds storage, nothing reads it.
func ensureTTL(ctx context.Context, api AdminAPI, spec TableSpec, plan bool) (note string, changed bool, err error) {
	attr := spec.TTLAttribute
	unsupported := fmt.Sprintf("TTL on %s: unsupported by endpoint", attr)
	out, err := api.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(spec.Name)})
	if IsUnsupported(err) {
		return unsupported, false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading the time to live of %s: %w", spec.Name, err)
	}
	var status types.TimeToLiveStatus
	var have string
	if d := out.TimeToLiveDescription; d != nil {
		status, have = d.TimeToLiveStatus, aws.ToString(d.AttributeName)
	}
	switch status {
	case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
		if have != attr && have != "" {
			return fmt.Sprintf("TTL is on %s, nexus expects %s (not changed)", have, attr), false, nil
		}
		return fmt.Sprintf("TTL on %s", attr), false, nil
	case types.TimeToLiveStatusDisabling:
		return fmt.Sprintf("TTL is being disabled; run again later to enable it on %s", attr), false, nil
	}
	if plan {
		return fmt.Sprintf("would enable TTL on %s (the endpoint reports it %s)", attr, orDisabled(status)), true, nil
	}
	_, err = api.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(spec.Name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)},
	})
	if IsUnsupported(err) {
		return unsupported, false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("enabling TTL on %s.%s: %w", spec.Name, attr, err)
	}
	return fmt.Sprintf("enabled TTL on %s", attr), true, nil
}

func orDisabled(s types.TimeToLiveStatus) string {
	if s == "" {
		return string(types.TimeToLiveStatusDisabled)
	}
	return string(s)
}

// waitActive waits with the SDK's TableExists waiter until the table and
// every one of its global secondary indexes are ACTIVE.
func waitActive(ctx context.Context, api AdminAPI, name string) (*dynamodb.DescribeTableOutput, error) {
	w := dynamodb.NewTableExistsWaiter(api, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = time.Second
		o.MaxDelay = 15 * time.Second
		o.Retryable = func(_ context.Context, _ *dynamodb.DescribeTableInput, out *dynamodb.DescribeTableOutput, err error) (bool, error) {
			if err != nil {
				return IsNotFound(err), ignoreNotFound(err)
			}
			if out.Table == nil || out.Table.TableStatus != types.TableStatusActive {
				return true, nil
			}
			for _, g := range out.Table.GlobalSecondaryIndexes {
				if g.IndexStatus != types.IndexStatusActive {
					return true, nil
				}
			}
			return false, nil
		}
	})
	out, err := w.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("waiting for table %s to become ACTIVE: %w", name, err)
	}
	return out, nil
}

func ignoreNotFound(err error) error {
	if IsNotFound(err) {
		return nil
	}
	return err
}
