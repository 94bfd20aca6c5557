package logs

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// QueryOptions are one Logs Insights query.
type QueryOptions struct {
	Groups       []string
	Query        string
	Start, End   time.Time // End zero: now
	Limit        int       // 0: the query's own limit (Insights defaults to 1000)
	PollInterval time.Duration
	Backoff      Backoff
	// OnStatus is told the query's status at every poll.
	OnStatus func(types.QueryStatus)
}

// QueryResult is what a finished query returned.
type QueryResult struct {
	QueryID    string              `json:"query_id"`
	Status     string              `json:"status"`
	Fields     []string            `json:"fields"`
	Rows       []map[string]string `json:"rows"`
	Statistics *QueryStatistics    `json:"statistics,omitempty"`
}

// QueryStatistics are what the query scanned.
type QueryStatistics struct {
	RecordsMatched float64 `json:"records_matched"`
	RecordsScanned float64 `json:"records_scanned"`
	BytesScanned   float64 `json:"bytes_scanned"`
}

// QueryFailedError is a query that ended other than Complete.
type QueryFailedError struct {
	QueryID string
	Status  types.QueryStatus
}

func (e *QueryFailedError) Error() string {
	return fmt.Sprintf("Logs Insights query %s ended %s", e.QueryID, e.Status)
}

// RunQuery starts a Logs Insights query, polls until it is Complete and
// returns its rows. When ctx ends first the query is stopped (StopQuery, on a
// context of its own) so it does not keep scanning.
func RunQuery(ctx context.Context, api API, o QueryOptions) (*QueryResult, error) {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	end := o.End
	if end.IsZero() {
		end = time.Now()
	}
	in := &cloudwatchlogs.StartQueryInput{
		LogGroupNames: o.Groups,
		QueryString:   aws.String(o.Query),
		StartTime:     aws.Int64(o.Start.Unix()),
		EndTime:       aws.Int64(end.Unix()),
	}
	if o.Limit > 0 {
		in.Limit = aws.Int32(int32(o.Limit))
	}
	started, err := retry(ctx, o.Backoff, func() (*cloudwatchlogs.StartQueryOutput, error) { return api.StartQuery(ctx, in) })
	if err != nil {
		return nil, fmt.Errorf("starting Logs Insights query: %w", err)
	}
	id := aws.ToString(started.QueryId)
	for {
		out, err := retry(ctx, o.Backoff, func() (*cloudwatchlogs.GetQueryResultsOutput, error) {
			return api.GetQueryResults(ctx, &cloudwatchlogs.GetQueryResultsInput{QueryId: aws.String(id)})
		})
		if err != nil {
			if ctx.Err() != nil {
				stopQuery(api, id)
				return nil, ctx.Err()
			}
			return nil, err
		}
		if o.OnStatus != nil {
			o.OnStatus(out.Status)
		}
		switch out.Status {
		case types.QueryStatusComplete:
			return result(id, out), nil
		case types.QueryStatusFailed, types.QueryStatusCancelled, types.QueryStatusTimeout, types.QueryStatusUnknown:
			return nil, &QueryFailedError{QueryID: id, Status: out.Status}
		}
		t := time.NewTimer(o.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			stopQuery(api, id)
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func stopQuery(api API, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = api.StopQuery(ctx, &cloudwatchlogs.StopQueryInput{QueryId: aws.String(id)})
}

func result(id string, out *cloudwatchlogs.GetQueryResultsOutput) *QueryResult {
	r := &QueryResult{QueryID: id, Status: string(out.Status), Fields: []string{}, Rows: []map[string]string{}}
	seen := map[string]bool{}
	for _, row := range out.Results {
		m := make(map[string]string, len(row))
		for _, f := range row {
			name := aws.ToString(f.Field)
			if name == "@ptr" {
				continue
			}
			if !seen[name] {
				seen[name] = true
				r.Fields = append(r.Fields, name)
			}
			m[name] = aws.ToString(f.Value)
		}
		r.Rows = append(r.Rows, m)
	}
	if s := out.Statistics; s != nil {
		r.Statistics = &QueryStatistics{RecordsMatched: s.RecordsMatched, RecordsScanned: s.RecordsScanned, BytesScanned: s.BytesScanned}
	}
	return r
}
