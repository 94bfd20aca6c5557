// Package dynamotest sets up DynamoDB tables and items in dynalite for
// tests: the six Nexus tables under names unique to a test, the variables
// that point a test Factory at them, and batch writes. Imported by tests
// only.
package dynamotest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nexus-compliance/nexus/aws/awstest"
	"github.com/nexus-compliance/nexus/aws/dynamo"
)

// UniqueTables returns names for the six Nexus tables that no other test
// uses. Nothing is created.
func UniqueTables(t testing.TB) dynamo.Tables {
	t.Helper()
	base := awstest.UniqueName(t, "nx")
	return dynamo.Tables{
		Jobs:           base + "-jobs",
		Mappings:       base + "-mappings",
		Enrichment:     base + "-enrichment",
		EmbeddingCache: base + "-embeddings",
		Frameworks:     base + "-frameworks",
		Controls:       base + "-controls",
	}
}

// Setup connects to dynalite (skipping the test when it is not running
// outside CI) and creates the six Nexus tables under unique names.
func Setup(t testing.TB) (*dynamodb.Client, dynamo.Tables) {
	t.Helper()
	c := awstest.DynamoDB(t)
	tables := UniqueTables(t)
	if _, err := dynamo.EnsureTables(context.Background(), c, tables); err != nil {
		t.Fatalf("creating tables: %v", err)
	}
	return c, tables
}

// Vars are the variables that make a test Factory's environment use these
// tables (the seed's own variable names).
func Vars(tables dynamo.Tables) map[string]string {
	return map[string]string{
		"JOB_TABLE_NAME":             tables.Jobs,
		"MAPPINGS_TABLE_NAME":        tables.Mappings,
		"ENRICHMENT_TABLE_NAME":      tables.Enrichment,
		"EMBEDDING_CACHE_TABLE_NAME": tables.EmbeddingCache,
		"FRAMEWORKS_TABLE_NAME":      tables.Frameworks,
		"CONTROLS_TABLE_NAME":        tables.Controls,
	}
}

// Put writes items (structs with dynamodbav tags, maps, or dynamo.Item) in
// batches of 25.
func Put[T any](t testing.TB, c *dynamodb.Client, table string, items ...T) {
	t.Helper()
	ctx := context.Background()
	var reqs []types.WriteRequest
	flush := func() {
		for len(reqs) > 0 {
			out, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
			if err != nil {
				t.Fatalf("writing items to %s: %v", table, err)
			}
			reqs = out.UnprocessedItems[table]
		}
	}
	for _, it := range items {
		var m dynamo.Item
		if direct, ok := any(it).(dynamo.Item); ok {
			m = direct
		} else {
			var err error
			if m, err = attributevalue.MarshalMap(it); err != nil {
				t.Fatalf("marshalling %T: %v", it, err)
			}
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: m}})
		if len(reqs) == 25 {
			flush()
		}
	}
	flush()
}

// CreateTable creates a plain on-demand table with string keys (sk may be
// empty), for tests that need a table the Nexus specs do not describe.
func CreateTable(t testing.TB, c *dynamodb.Client, name, pk, sk string) {
	t.Helper()
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(pk), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}},
	}
	if sk != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(sk), AttributeType: types.ScalarAttributeTypeS})
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange})
	}
	if _, err := c.CreateTable(context.Background(), in); err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	WaitActive(t, c, name)
}

// WaitActive polls (quickly: the emulator creates tables at once) until the
// table is ACTIVE.
func WaitActive(t testing.TB, c *dynamodb.Client, name string) {
	t.Helper()
	for range 500 {
		out, err := c.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err == nil && out.Table.TableStatus == types.TableStatusActive {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("table %s did not become ACTIVE", name)
}
