package runbooks

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nexus-compliance/nexus/aws/cw"
	"github.com/nexus-compliance/nexus/aws/dynamo"
)

// tableThrottle is what dynamodb-throttling found for one table or one of
// its global secondary indexes.
type tableThrottle struct {
	table, index string // index is "" for the table itself
	billing      string
	read, write  int64 // provisioned capacity (PROVISIONED only)
	readEvents   float64
	writeEvents  float64
	requests     float64 // ThrottledRequests, all operations
}

func (t *tableThrottle) name() string {
	if t.index == "" {
		return t.table
	}
	return t.table + "/" + t.index
}

func (t *tableThrottle) total() float64 { return t.readEvents + t.writeEvents + t.requests }

// throttledOperations are the Operation dimension values of DynamoDB's
// ThrottledRequests metric that the Nexus Lambdas and services use.
var throttledOperations = []string{"GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem",
	"BatchWriteItem", "TransactGetItems", "TransactWriteItems"}

// nexusTables are the environment's table names, once each, in a stable order.
func (r *run) nexusTables() []string {
	t := r.deps.Env.Tables
	var out []string
	for _, n := range []string{t.Jobs, t.Mappings, t.Enrichment, t.EmbeddingCache, t.Frameworks, t.Controls} {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func (r *run) cloudWatch() (cw.API, error) {
	if r.deps.CloudWatch == nil {
		return nil, errors.New("no CloudWatch client configured")
	}
	return r.deps.CloudWatch(r.ctx)
}

// describeTable is DescribeTable of name, once per run: the runbook checks
// provisioned and on-demand tables in two steps over the same tables.
func (r *run) describeTable(api DynamoAPI, name string) (*types.TableDescription, error) {
	if d, ok := r.tables[name]; ok {
		return d.desc, d.err
	}
	out, err := api.DescribeTable(r.ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	d := describedTable{err: err}
	if err == nil {
		d.desc = out.Table
	}
	if err == nil || dynamo.IsNotFound(err) {
		if r.tables == nil {
			r.tables = map[string]describedTable{}
		}
		r.tables[name] = d
	}
	return d.desc, d.err
}

type describedTable struct {
	desc *types.TableDescription
	err  error
}

// dynamoThrottling sums the throttle metrics of every Nexus table (and
// each GSI) whose billing mode is with.billing (all when empty) over
// with.window; one above with.threshold events is a problem.
func dynamoThrottling(r *run, s Step, sr *StepResult) error {
	if r.deps.Env == nil || len(r.nexusTables()) == 0 {
		return errors.New("no DynamoDB tables configured (tables.* / *_TABLE_NAME)")
	}
	window := r.argDuration(s, "window", 15*time.Minute)
	threshold := r.argInt(s, "threshold", 0)
	billing := strings.ToUpper(r.argString(s, "billing", ""))
	api, err := r.deps.DynamoDB(r.ctx)
	if err != nil {
		return err
	}
	var found []*tableThrottle
	var metrics []cw.Metric
	type ref struct {
		t     *tableThrottle
		field *float64
	}
	var refs []ref
	add := func(t *tableThrottle, field *float64, name string, dims map[string]string) {
		metrics = append(metrics, cw.Metric{Namespace: "AWS/DynamoDB", Name: name, Dimensions: dims, Stat: "Sum", Period: time.Minute})
		refs = append(refs, ref{t, field})
	}
	for _, name := range r.nexusTables() {
		desc, err := r.describeTable(api, name)
		if dynamo.IsNotFound(err) {
			sr.Evidence = append(sr.Evidence, name+": table not found (not checked)")
			continue
		}
		if err != nil {
			return fmt.Errorf("describing table %s: %w", name, err)
		}
		d := dynamo.FromDescription(desc)
		if billing != "" && d.BillingMode != billing {
			continue
		}
		t := &tableThrottle{table: name, billing: d.BillingMode, read: d.ReadCapacity, write: d.WriteCapacity}
		found = append(found, t)
		add(t, &t.readEvents, "ReadThrottleEvents", map[string]string{"TableName": name})
		add(t, &t.writeEvents, "WriteThrottleEvents", map[string]string{"TableName": name})
		for _, op := range throttledOperations {
			add(t, &t.requests, "ThrottledRequests", map[string]string{"TableName": name, "Operation": op})
		}
		for _, g := range desc.GlobalSecondaryIndexes {
			ix := &tableThrottle{table: name, index: aws.ToString(g.IndexName), billing: d.BillingMode}
			if d.BillingMode == string(types.BillingModeProvisioned) && g.ProvisionedThroughput != nil {
				ix.read, ix.write = aws.ToInt64(g.ProvisionedThroughput.ReadCapacityUnits), aws.ToInt64(g.ProvisionedThroughput.WriteCapacityUnits)
			}
			found = append(found, ix)
			dims := map[string]string{"TableName": name, "GlobalSecondaryIndexName": ix.index}
			add(ix, &ix.readEvents, "ReadThrottleEvents", dims)
			add(ix, &ix.writeEvents, "WriteThrottleEvents", dims)
		}
	}
	if len(metrics) > 0 {
		api, err := r.cloudWatch()
		if err != nil {
			return err
		}
		sums, err := cw.Sums(r.ctx, api, metrics, r.deps.Now(), window)
		if err != nil {
			return err
		}
		for i, v := range sums {
			*refs[i].field += v
		}
	}
	for _, t := range found {
		capacity := "on-demand"
		if t.billing == string(types.BillingModeProvisioned) {
			capacity = fmt.Sprintf("provisioned %d RCU / %d WCU", t.read, t.write)
		}
		line := fmt.Sprintf("%s (%s): %g read and %g write throttle events, %g throttled requests", t.name(), capacity, t.readEvents, t.writeEvents, t.requests)
		sr.Evidence = append(sr.Evidence, line)
		if t.total() > float64(threshold) {
			sr.Items = append(sr.Items, Item{Resource: t.name(), Status: t.billing, Problem: true, Detail: line, table: t})
		}
	}
	what := "table(s) and index(es)"
	if billing != "" {
		what = billing + " " + what
	}
	sr.Summary = fmt.Sprintf("%d of %d %s throttled more than %d time(s) in the last %s", len(sr.Items), len(found), what, threshold, window)
	return nil
}

// raised is a capacity after a raise by factor, capped at max (never lowered).
func raised(cur int64, factor, max int) int64 {
	n := cur * int64(factor)
	if n > int64(max) {
		n = int64(max)
	}
	if n < cur {
		n = cur
	}
	return n
}

func planRaiseCapacity(r *run, s Step) ([]planned, error) {
	ref, _ := s.With["from"].(string)
	factor := r.argInt(s, "factor", 2)
	max := r.argInt(s, "max_capacity", 1000)
	if factor < 1 {
		return nil, fmt.Errorf("factor %d: must be at least 1", factor)
	}
	var out []planned
	for _, it := range r.res[ref].Items {
		t := it.table
		if !it.Problem || t == nil || t.billing != string(types.BillingModeProvisioned) {
			continue
		}
		rd, wr := raised(t.read, factor, max), raised(t.write, factor, max)
		p := planned{target: t.name(), item: it}
		if rd == t.read && wr == t.write {
			p.describe = fmt.Sprintf("raise %s (%d RCU / %d WCU)", t.name(), t.read, t.write)
			p.skip = fmt.Sprintf("already at max_capacity %d (raise it, or look for a hot key)", max)
		} else {
			p.describe = fmt.Sprintf("raise %s from %d RCU / %d WCU to %d RCU / %d WCU", t.name(), t.read, t.write, rd, wr)
		}
		out = append(out, p)
	}
	return out, nil
}

func applyRaiseCapacity(r *run, s Step, plan []planned) []error {
	factor := r.argInt(s, "factor", 2)
	max := r.argInt(s, "max_capacity", 1000)
	errsOut := make([]error, len(plan))
	api, err := r.deps.DynamoDB(r.ctx)
	for i, p := range plan {
		t := p.item.table
		switch {
		case err != nil:
			errsOut[i] = err
			continue
		}
		tp := &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(raised(t.read, factor, max)), WriteCapacityUnits: aws.Int64(raised(t.write, factor, max))}
		in := &dynamodb.UpdateTableInput{TableName: aws.String(t.table)}
		if t.index == "" {
			in.ProvisionedThroughput = tp
		} else {
			in.GlobalSecondaryIndexUpdates = []types.GlobalSecondaryIndexUpdate{{Update: &types.UpdateGlobalSecondaryIndexAction{
				IndexName: aws.String(t.index), ProvisionedThroughput: tp}}}
		}
		_, errsOut[i] = api.UpdateTable(r.ctx, in)
	}
	return errsOut
}
