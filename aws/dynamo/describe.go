package dynamo

import (
	"context"
	"fmt"
	"iter"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute is a named, typed attribute of a key schema (S, N or B).
type Attribute struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Index is a secondary index of a table.
type Index struct {
	Name             string     `json:"name"`
	Global           bool       `json:"global"`
	PartitionKey     Attribute  `json:"partition_key"`
	SortKey          *Attribute `json:"sort_key,omitempty"`
	Projection       string     `json:"projection"`
	NonKeyAttributes []string   `json:"non_key_attributes,omitempty"`
	Status           string     `json:"status,omitempty"`
	Backfilling      bool       `json:"backfilling,omitempty"`
	ItemCount        int64      `json:"item_count"`
	SizeBytes        int64      `json:"size_bytes"`
}

// TTLStatus values beyond DynamoDB's own (ENABLED, DISABLED, ENABLING,
// DISABLING).
const (
	// TTLUnsupported means the endpoint does not implement the time-to-live
	// operations (some emulators).
	TTLUnsupported = "UNSUPPORTED"
)

// TTL is a table's time-to-live setting.
type TTL struct {
	Status    string `json:"status"`
	Attribute string `json:"attribute,omitempty"`
}

// String is "ttl (ENABLED)", "DISABLED" or "unsupported by endpoint".
func (t TTL) String() string {
	switch {
	case t.Status == TTLUnsupported:
		return "unsupported by endpoint"
	case t.Attribute != "":
		return fmt.Sprintf("%s (%s)", t.Attribute, t.Status)
	}
	return t.Status
}

// Table describes one table: its keys, indexes, billing, size and TTL.
type Table struct {
	Name         string      `json:"name"`
	ARN          string      `json:"arn,omitempty"`
	Status       string      `json:"status"`
	CreatedAt    time.Time   `json:"created_at,omitzero"`
	BillingMode  string      `json:"billing_mode"`
	ItemCount    int64       `json:"item_count"`
	SizeBytes    int64       `json:"size_bytes"`
	PartitionKey Attribute   `json:"partition_key"`
	SortKey      *Attribute  `json:"sort_key,omitempty"`
	Attributes   []Attribute `json:"attributes"`
	Indexes      []Index     `json:"indexes,omitempty"`
	TTL          TTL         `json:"ttl"`
	// ReadCapacity and WriteCapacity are set for PROVISIONED tables.
	ReadCapacity  int64 `json:"read_capacity,omitempty"`
	WriteCapacity int64 `json:"write_capacity,omitempty"`
}

// Describe reads a table's description and its time-to-live setting. A
// missing table is an error for which IsNotFound is true. An endpoint
// without the TTL operations gives TTL status UNSUPPORTED, not an error.
func Describe(ctx context.Context, api DescribeAPI, name string) (*Table, error) {
	out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return nil, err
	}
	t := FromDescription(out.Table)
	ttl, err := api.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	switch {
	case IsUnsupported(err):
		t.TTL = TTL{Status: TTLUnsupported}
	case err != nil:
		return nil, fmt.Errorf("reading the time to live of %s: %w", name, err)
	case ttl.TimeToLiveDescription != nil:
		t.TTL = TTL{Status: string(ttl.TimeToLiveDescription.TimeToLiveStatus), Attribute: aws.ToString(ttl.TimeToLiveDescription.AttributeName)}
	}
	if t.TTL.Status == "" {
		t.TTL.Status = string(types.TimeToLiveStatusDisabled)
	}
	return t, nil
}

// FromDescription converts the SDK's description (TTL is left empty: it
// takes a call of its own).
func FromDescription(d *types.TableDescription) *Table {
	if d == nil {
		return &Table{}
	}
	t := &Table{
		Name:        aws.ToString(d.TableName),
		ARN:         aws.ToString(d.TableArn),
		Status:      string(d.TableStatus),
		CreatedAt:   aws.ToTime(d.CreationDateTime).UTC(),
		ItemCount:   aws.ToInt64(d.ItemCount),
		SizeBytes:   aws.ToInt64(d.TableSizeBytes),
		BillingMode: string(types.BillingModeProvisioned),
	}
	if d.BillingModeSummary != nil && d.BillingModeSummary.BillingMode != "" {
		t.BillingMode = string(d.BillingModeSummary.BillingMode)
	}
	if t.BillingMode == string(types.BillingModeProvisioned) && d.ProvisionedThroughput != nil {
		t.ReadCapacity = aws.ToInt64(d.ProvisionedThroughput.ReadCapacityUnits)
		t.WriteCapacity = aws.ToInt64(d.ProvisionedThroughput.WriteCapacityUnits)
	}
	attrTypes := map[string]string{}
	for _, a := range d.AttributeDefinitions {
		attrTypes[aws.ToString(a.AttributeName)] = string(a.AttributeType)
		t.Attributes = append(t.Attributes, Attribute{Name: aws.ToString(a.AttributeName), Type: string(a.AttributeType)})
	}
	t.PartitionKey, t.SortKey = keys(d.KeySchema, attrTypes)
	for _, g := range d.GlobalSecondaryIndexes {
		ix := Index{
			Name: aws.ToString(g.IndexName), Global: true, Status: string(g.IndexStatus),
			Backfilling: aws.ToBool(g.Backfilling), ItemCount: aws.ToInt64(g.ItemCount), SizeBytes: aws.ToInt64(g.IndexSizeBytes),
		}
		ix.PartitionKey, ix.SortKey = keys(g.KeySchema, attrTypes)
		if g.Projection != nil {
			ix.Projection, ix.NonKeyAttributes = string(g.Projection.ProjectionType), g.Projection.NonKeyAttributes
		}
		t.Indexes = append(t.Indexes, ix)
	}
	for _, l := range d.LocalSecondaryIndexes {
		ix := Index{Name: aws.ToString(l.IndexName), ItemCount: aws.ToInt64(l.ItemCount), SizeBytes: aws.ToInt64(l.IndexSizeBytes)}
		ix.PartitionKey, ix.SortKey = keys(l.KeySchema, attrTypes)
		if l.Projection != nil {
			ix.Projection, ix.NonKeyAttributes = string(l.Projection.ProjectionType), l.Projection.NonKeyAttributes
		}
		t.Indexes = append(t.Indexes, ix)
	}
	sort.Slice(t.Indexes, func(i, j int) bool { return t.Indexes[i].Name < t.Indexes[j].Name })
	return t
}

func keys(schema []types.KeySchemaElement, attrTypes map[string]string) (pk Attribute, sk *Attribute) {
	for _, k := range schema {
		a := Attribute{Name: aws.ToString(k.AttributeName), Type: attrTypes[aws.ToString(k.AttributeName)]}
		if k.KeyType == types.KeyTypeHash {
			pk = a
		} else {
			sk = &a
		}
	}
	return pk, sk
}

// Index returns the named secondary index.
func (t *Table) Index(name string) (*Index, bool) {
	for i := range t.Indexes {
		if t.Indexes[i].Name == name {
			return &t.Indexes[i], true
		}
	}
	return nil, false
}

// IndexNames lists the secondary indexes.
func (t *Table) IndexNames() []string {
	out := make([]string, len(t.Indexes))
	for i, ix := range t.Indexes {
		out[i] = ix.Name
	}
	return out
}

// KeyNames lists the table's key attributes, partition key first.
func (t *Table) KeyNames() []string {
	out := []string{t.PartitionKey.Name}
	if t.SortKey != nil {
		out = append(out, t.SortKey.Name)
	}
	return out
}

// Keys returns the partition and sort key of the table, or of the named
// index when index is not empty.
func (t *Table) Keys(index string) (pk Attribute, sk *Attribute, err error) {
	if index == "" {
		return t.PartitionKey, t.SortKey, nil
	}
	ix, ok := t.Index(index)
	if !ok {
		return Attribute{}, nil, t.unknownIndex(index)
	}
	return ix.PartitionKey, ix.SortKey, nil
}

// KeyAttributes lists the attributes that locate an item when reading the
// table or one of its indexes: the index's keys and then the table's (what
// DynamoDB's LastEvaluatedKey holds). An unknown index is an error.
func (t *Table) KeyAttributes(index string) ([]string, error) {
	out := t.KeyNames()
	if index == "" {
		return out, nil
	}
	ix, ok := t.Index(index)
	if !ok {
		return nil, t.unknownIndex(index)
	}
	pre := []string{ix.PartitionKey.Name}
	if ix.SortKey != nil {
		pre = append(pre, ix.SortKey.Name)
	}
	for _, a := range out {
		if a != pre[0] && (len(pre) < 2 || a != pre[1]) {
			pre = append(pre, a)
		}
	}
	return pre, nil
}

func (t *Table) unknownIndex(name string) error {
	if len(t.Indexes) == 0 {
		return fmt.Errorf("table %s has no index %q (it has no secondary indexes)", t.Name, name)
	}
	return fmt.Errorf("table %s has no index %q; its indexes are %s", t.Name, name, strings.Join(t.IndexNames(), ", "))
}

// AttributeType is the declared type of a key attribute of the table or any
// index, or "" for any other attribute (DynamoDB declares only keys).
func (t *Table) AttributeType(name string) types.ScalarAttributeType {
	for _, a := range t.Attributes {
		if a.Name == name {
			return types.ScalarAttributeType(a.Type)
		}
	}
	return ""
}

// TableNames lists every table of the account and region, fetching pages
// of ListTables lazily as the caller ranges over them.
func TableNames(ctx context.Context, api ListTablesAPI) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		p := dynamodb.NewListTablesPaginator(api, &dynamodb.ListTablesInput{})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				yield("", err)
				return
			}
			for _, n := range out.TableNames {
				if !yield(n, nil) {
					return
				}
			}
		}
	}
}
