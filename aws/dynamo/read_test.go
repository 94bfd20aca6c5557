package dynamo_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/nexus-compliance/nexus/aws/awstest"
	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
)

// seedItems creates a table of n items: pk p000…, a "kind" of even/odd, and
// a number with more digits than a float64 holds.
func seedItems(t *testing.T, n int) (*dynamodb.Client, string) {
	t.Helper()
	c := awstest.DynamoDB(t)
	name := awstest.UniqueName(t, "items")
	dynamotest.CreateTable(t, c, name, "pk", "")
	items := make([]map[string]any, n)
	for i := range items {
		kind := "even"
		if i%2 == 1 {
			kind = "odd"
		}
		items[i] = map[string]any{"pk": fmt.Sprintf("p%03d", i), "kind": kind, "i": i}
	}
	dynamotest.Put(t, c, name, items...)
	return c, name
}

func readAll(t *testing.T, c dynamo.PagerAPI, req dynamo.Request) ([]string, dynamo.Result) {
	t.Helper()
	var keys []string
	res, err := dynamo.Read(context.Background(), c, req, func(it dynamo.Item) error {
		keys = append(keys, dynamo.Text(it["pk"]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, res
}

func TestReadPagesLimitAndResume(t *testing.T) {
	t.Parallel()
	c, table := seedItems(t, 120)

	all, res := readAll(t, c, dynamo.Request{Table: table, PageSize: 25, KeyAttributes: []string{"pk"}})
	if len(all) != 120 || res.Requests != 5 || res.Truncated || res.Next != nil {
		t.Fatalf("full read: %d items, %+v", len(all), res)
	}

	// A limit inside the second page stops after two requests, and the
	// cursor resumes exactly after the last item delivered.
	first, res := readAll(t, c, dynamo.Request{Table: table, PageSize: 25, Limit: 30, KeyAttributes: []string{"pk"}})
	if len(first) != 30 || res.Requests != 2 || !res.Truncated || res.Next == nil {
		t.Fatalf("limited read: %d items, %+v", len(first), res)
	}
	tok := res.Next.Encode()
	cur, err := dynamo.ParseCursor(tok)
	if err != nil {
		t.Fatal(err)
	}
	rest, res := readAll(t, c, dynamo.Request{Table: table, PageSize: 25, Start: cur, KeyAttributes: []string{"pk"}})
	if res.Truncated {
		t.Fatalf("resumed read truncated: %+v", res)
	}
	if got := append(first, rest...); !slices.Equal(got, all) {
		t.Fatalf("first+rest (%d) != all (%d)", len(got), len(all))
	}

	// Without a filter a small limit never reads more than it needs.
	few, res := readAll(t, c, dynamo.Request{Table: table, Limit: 3, KeyAttributes: []string{"pk"}})
	if len(few) != 3 || res.Requests != 1 || res.Scanned != 3 {
		t.Fatalf("limit 3: %v %+v", few, res)
	}

	// With a filter, pages are evaluated in full and the limit still exact.
	b := dynamo.NewBuilder()
	filter := b.Equal("kind", dynamo.S("odd"))
	odd, res := readAll(t, c, dynamo.Request{Table: table, PageSize: 25, Limit: 20, Filter: filter, Names: b.Names(), Values: b.Values(), KeyAttributes: []string{"pk"}})
	if len(odd) != 20 || res.Requests != 2 || !res.Truncated {
		t.Fatalf("filtered: %d %+v", len(odd), res)
	}

	// A projection without the key still resumes: the key is fetched and
	// removed before delivery.
	var seen []dynamo.Item
	res, err = dynamo.Read(context.Background(), c, dynamo.Request{Table: table, PageSize: 25, Limit: 10, Projection: []string{"kind"}, KeyAttributes: []string{"pk"}},
		func(it dynamo.Item) error { seen = append(seen, it); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 10 || res.Next == nil || len(seen[0]) != 1 || seen[0]["kind"] == nil {
		t.Fatalf("projection: %v %+v", seen[0], res)
	}
}

func TestParallelScanMatchesSerial(t *testing.T) {
	t.Parallel()
	c, table := seedItems(t, 120)
	serial, _ := readAll(t, c, dynamo.Request{Table: table, PageSize: 10})
	parallel, res := readAll(t, c, dynamo.Request{Table: table, PageSize: 10, Segments: 4})
	sort.Strings(serial)
	sort.Strings(parallel)
	if !slices.Equal(serial, parallel) || len(parallel) != 120 || res.Truncated {
		t.Fatalf("parallel %d items, serial %d, %+v", len(parallel), len(serial), res)
	}

	// A limited parallel scan delivers exactly the limit, and its cursor
	// resumes every segment where it stopped: no item twice, none lost.
	got := map[string]int{}
	var tok string
	for round := 0; ; round++ {
		req := dynamo.Request{Table: table, PageSize: 7, Segments: 4, Limit: 25, KeyAttributes: []string{"pk"}}
		if tok != "" {
			cur, err := dynamo.ParseCursor(tok)
			if err != nil {
				t.Fatal(err)
			}
			req.Start = cur
		}
		keys, res := readAll(t, c, req)
		if res.Truncated && len(keys) != 25 {
			t.Fatalf("round %d: %d items, %+v", round, len(keys), res)
		}
		for _, k := range keys {
			got[k]++
		}
		if !res.Truncated {
			break
		}
		tok = res.Next.Encode()
		if round > 10 {
			t.Fatal("did not finish")
		}
	}
	if len(got) != 120 {
		t.Fatalf("resumed parallel scan saw %d distinct items", len(got))
	}
	for k, n := range got {
		if n != 1 {
			t.Fatalf("%s delivered %d times", k, n)
		}
	}

	if _, err := dynamo.Read(context.Background(), c, dynamo.Request{Table: table, Segments: 2, Start: &dynamo.Cursor{Segments: make([]dynamo.SegmentCursor, 3)}}, func(dynamo.Item) error { return nil }); err == nil {
		t.Fatal("a 3-segment cursor was accepted by a 2-segment scan")
	}
}

func TestCountWithFilterAndSegments(t *testing.T) {
	t.Parallel()
	c, table := seedItems(t, 120)
	b := dynamo.NewBuilder()
	filter := b.Equal("kind", dynamo.S("even"))
	for _, segs := range []int{1, 3} {
		res, err := dynamo.Count(context.Background(), c, dynamo.Request{Table: table, Filter: filter, Names: b.Names(), Values: b.Values(), Segments: segs, PageSize: 30})
		if err != nil {
			t.Fatal(err)
		}
		if res.Items != 60 || res.Scanned != 120 {
			t.Fatalf("segments %d: %+v", segs, res)
		}
	}
}

func TestQueryAndMissingTable(t *testing.T) {
	t.Parallel()
	c, tables := dynamotest.Setup(t)
	rows := []map[string]any{}
	for i := range 30 {
		rows = append(rows, map[string]any{"controlKey": "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED", "mappedControlKey": fmt.Sprintf("NIST-SP-800-53#R5#AC-%02d", i), "status": "APPROVED"})
	}
	rows = append(rows, map[string]any{"controlKey": "AWS.EC2#1.0#PR.1", "mappedControlKey": "NIST-SP-800-53#R5#AC-01", "status": "APPROVED"})
	dynamotest.Put(t, c, tables.Mappings, rows...)

	b := dynamo.NewBuilder()
	kc := dynamo.And(b.Equal("controlKey", dynamo.S("AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED")))
	sk, _ := dynamo.ParseCondition("begins_with(mappedControlKey,NIST-SP-800-53#R5#AC-1)")
	skExpr, err := sk.Expression(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	res, err := dynamo.Read(context.Background(), c, dynamo.Request{
		Table: tables.Mappings, KeyCondition: dynamo.And(kc, skExpr), Names: b.Names(), Values: b.Values(),
		PageSize: 4, Descending: true, KeyAttributes: []string{"controlKey", "mappedControlKey"},
	}, func(it dynamo.Item) error { got = append(got, dynamo.Text(it["mappedControlKey"])); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || got[0] != "NIST-SP-800-53#R5#AC-19" || res.Requests < 3 {
		t.Fatalf("query: %v %+v", got, res)
	}

	tbl, err := dynamo.Describe(context.Background(), c, tables.Mappings)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tbl.KeyAttributes("StatusIndex")
	if err != nil || !slices.Equal(keys, []string{"status", "controlKey", "mappedControlKey"}) {
		t.Fatalf("KeyAttributes = %v, %v", keys, err)
	}
	if _, err := tbl.KeyAttributes("Nope"); err == nil {
		t.Fatal("unknown index accepted")
	}

	_, err = dynamo.Describe(context.Background(), c, "nexus-no-such-table")
	if !dynamo.IsNotFound(err) {
		t.Fatalf("missing table: %v", err)
	}
	_, err = dynamo.Read(context.Background(), c, dynamo.Request{Table: "nexus-no-such-table"}, func(dynamo.Item) error { return nil })
	if !dynamo.IsNotFound(err) {
		t.Fatalf("missing table scan: %v", err)
	}

	var names []string
	for n, err := range dynamo.TableNames(context.Background(), c) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	for _, want := range slices.Collect(maps.Values(map[string]string{"j": tables.Jobs, "c": tables.Controls})) {
		if !slices.Contains(names, want) {
			t.Fatalf("ListTables lacks %s", want)
		}
	}
}
