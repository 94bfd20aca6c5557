package logs

import "strings"

// SavedQuery is a Logs Insights query the Support Guide relies on.
type SavedQuery struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Components  []string `json:"components"` // default groups, as component keys; empty: every component
	NeedsJob    bool     `json:"needs_job,omitempty"`
	Query       string   `json:"query"` // JOB_ID is replaced by --job
}

var lambdas = []string{"async_api", "sqs_trigger", "dlq_redrive", "status_api", "science_orchestrator",
	"enrichment_agent", "reasoning_agent", "job_updater", "mapping_api"}

// SavedQueries are the queries `nexus logs query NAME` runs.
var SavedQueries = []SavedQuery{
	{
		Name: "errors-by-component", Description: "count of error lines per component",
		Query: `filter @message like /(?i)(error|exception|traceback)/
| stats count(*) as errors by @log
| sort errors desc`,
	},
	{
		Name: "lambda-timeouts", Description: "Lambda invocations that hit their timeout", Components: lambdas,
		Query: `filter @message like /Task timed out/
| parse @message "Task timed out after * seconds" as timeout_s
| stats count(*) as timeouts, max(timeout_s) as timeout_s, latest(@requestId) as last_request by @log
| sort timeouts desc`,
	},
	{
		Name: "cold-starts", Description: "Lambda cold starts and their init duration", Components: lambdas,
		Query: `filter @type = "REPORT" and ispresent(@initDuration)
| stats count(*) as cold_starts, avg(@initDuration) as avg_init_ms, max(@initDuration) as max_init_ms by @log
| sort cold_starts desc`,
	},
	{
		Name: "throttling", Description: "throttling (DynamoDB, Bedrock, SQS, Step Functions) per component and 5 minutes",
		Query: `filter @message like /(?i)(throttl|TooManyRequests|ProvisionedThroughputExceeded|Rate exceeded|SlowDown)/
| stats count(*) as throttled by @log, bin(5m) as window
| sort window desc`,
	},
	{
		Name: "bedrock-errors", Description: "Bedrock/Claude errors of the Strands service and the agent Lambdas",
		Components: []string{"strands_service", "enrichment_agent", "reasoning_agent"},
		Query: `filter @message like /(?i)(bedrock|anthropic|claude)/ and @message like /(?i)(error|exception|throttl|timed? ?out|AccessDenied|ValidationException)/
| fields @timestamp, @log, @message
| sort @timestamp desc`,
	},
	{
		Name: "slow-mappings", Description: "latency of mapping stages (validate, enrich, embed, retrieve, rerank, reason), slowest p95 first",
		Components: []string{"science_orchestrator", "ecs_service", "enrichment_agent", "reasoning_agent", "strands_service"},
		Query: `parse @message /"?stage"?\s*[:=]\s*"?(?<stage>[A-Za-z_]+)/
| parse @message /"?duration_ms"?\s*[:=]\s*(?<duration_ms>[0-9.]+)/
| filter ispresent(stage) and ispresent(duration_ms)
| stats count(*) as n, avg(duration_ms) as avg_ms, pct(duration_ms, 95) as p95_ms, max(duration_ms) as max_ms by stage
| sort p95_ms desc`,
	},
	{
		Name: "job-trail", Description: "one job's whole trail across every component, oldest first (needs --job)", NeedsJob: true,
		Query: `fields @timestamp, @log, @message
| filter @message like "JOB_ID"
| sort @timestamp asc
| limit 10000`,
	},
}

// LookupQuery finds a saved query by name.
func LookupQuery(name string) (SavedQuery, bool) {
	for _, q := range SavedQueries {
		if q.Name == name {
			return q, true
		}
	}
	return SavedQuery{}, false
}

func queryNames() string {
	names := make([]string, 0, len(SavedQueries))
	for _, q := range SavedQueries {
		names = append(names, q.Name)
	}
	return strings.Join(names, ", ")
}
