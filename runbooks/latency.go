package runbooks

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nexus-compliance/nexus/aws/cw"
	"github.com/nexus-compliance/nexus/aws/logs"
	"github.com/nexus-compliance/nexus/aws/queue"
	logscmd "github.com/nexus-compliance/nexus/commands/logs"
)

// bedrockMetrics sums AWS/Bedrock InvocationThrottles,
// InvocationClientErrors and InvocationServerErrors over with.window for
// each model of with.model_id (comma-separated; empty: the account-level
// series, every model). A model throttled more than with.threshold times is
// a problem; errors are shown, and make the step a warning.
func bedrockMetrics(r *run, s Step, sr *StepResult) error {
	window := r.argDuration(s, "window", 15*time.Minute)
	threshold := r.argInt(s, "threshold", 0)
	var models []string
	for _, m := range strings.Split(r.argString(s, "model_id", ""), ",") {
		if m = strings.TrimSpace(m); m != "" {
			models = append(models, m)
		}
	}
	if len(models) == 0 {
		models = []string{""}
	}
	names := []string{"InvocationThrottles", "InvocationClientErrors", "InvocationServerErrors"}
	var ms []cw.Metric
	for _, m := range models {
		var dims map[string]string
		if m != "" {
			dims = map[string]string{"ModelId": m}
		}
		for _, n := range names {
			ms = append(ms, cw.Metric{Namespace: "AWS/Bedrock", Name: n, Dimensions: dims, Stat: "Sum", Period: time.Minute})
		}
	}
	api, err := r.cloudWatch()
	if err != nil {
		return err
	}
	sums, err := cw.Sums(r.ctx, api, ms, r.deps.Now(), window)
	if err != nil {
		return err
	}
	errs := 0.0
	for i, m := range models {
		name := m
		if name == "" {
			name = "all models"
		}
		thr, cli, srv := sums[3*i], sums[3*i+1], sums[3*i+2]
		errs += cli + srv
		line := fmt.Sprintf("%s: %g throttled, %g client error(s), %g server error(s) in the last %s", name, thr, cli, srv, window)
		sr.Evidence = append(sr.Evidence, line)
		if thr > float64(threshold) {
			sr.Items = append(sr.Items, Item{Resource: name, Problem: true, Detail: line})
		}
	}
	sr.Summary = fmt.Sprintf("%d of %d model series throttled more than %d time(s) in the last %s", len(sr.Items), len(models), threshold, window)
	if len(sr.Items) == 0 && errs > 0 {
		sr.Status = StatusWarn
		sr.Summary += fmt.Sprintf("; %g invocation error(s)", errs)
	}
	return nil
}

// stageStat is one row of the slow-mappings query.
type stageStat struct {
	stage                string
	n                    int
	avg, p95, max, limit time.Duration
}

// stageLatency runs the slow-mappings Logs Insights query over with.window
// and compares each stage's p95 with its threshold (with.thresholds,
// "stage=duration,…", else with.threshold); a slower stage is a problem.
func stageLatency(r *run, s Step, sr *StepResult) error {
	if r.deps.Logs == nil {
		return errors.New("no CloudWatch Logs client configured")
	}
	q, ok := logscmd.LookupQuery("slow-mappings")
	if !ok {
		return errors.New("the slow-mappings query is missing")
	}
	window := r.argDuration(s, "window", time.Hour)
	def := r.argDuration(s, "threshold", 10*time.Second)
	limits := map[string]time.Duration{}
	for _, kv := range strings.Split(r.argString(s, "thresholds", ""), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			continue
		}
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("thresholds: %s: %w", kv, err)
		}
		limits[strings.TrimSpace(k)] = d
	}
	var groups []string
	for _, k := range q.Components {
		groups = append(groups, r.logGroup(k))
	}
	api, err := r.deps.Logs(r.ctx)
	if err != nil {
		return err
	}
	now := r.deps.Now()
	start := now.Add(-window)
	if key := r.argString(s, "since_deployment", ""); key != "" {
		if start, err = r.sinceDeployment(key, start, sr); err != nil {
			return err
		}
	}
	res, err := logs.RunQuery(r.ctx, api, logs.QueryOptions{Groups: groups, Query: q.Query, Start: start, End: now, PollInterval: r.deps.QueryPoll})
	if err != nil {
		return err
	}
	ms := func(row map[string]string, k string) time.Duration {
		f, _ := strconv.ParseFloat(row[k], 64)
		return time.Duration(f * float64(time.Millisecond)).Round(time.Millisecond)
	}
	var stats []stageStat
	for _, row := range res.Rows {
		st := stageStat{stage: row["stage"], avg: ms(row, "avg_ms"), p95: ms(row, "p95_ms"), max: ms(row, "max_ms"), limit: def}
		st.n, _ = strconv.Atoi(row["n"])
		if l, ok := limits[st.stage]; ok {
			st.limit = l
		}
		if st.stage != "" {
			stats = append(stats, st)
		}
	}
	sort.SliceStable(stats, func(i, j int) bool { return stats[i].p95 > stats[j].p95 })
	for _, st := range stats {
		line := fmt.Sprintf("%s: p95 %s (threshold %s), avg %s, max %s over %d call(s)", st.stage, st.p95, st.limit, st.avg, st.max, st.n)
		sr.Evidence = append(sr.Evidence, line)
		sr.Items = append(sr.Items, Item{Resource: st.stage, Problem: st.p95 > st.limit, Age: st.p95.String(), Detail: line})
	}
	span := "in the last " + window.String()
	if got := now.Sub(start).Round(time.Second); got < window {
		span = fmt.Sprintf("since %s (%s ago)", start.UTC().Format(time.RFC3339), got)
	}
	if len(stats) == 0 {
		sr.Summary = "no stage timings logged " + span
		return nil
	}
	sr.Summary = fmt.Sprintf("slowest stage: %s (p95 %s, threshold %s); %d of %d stage(s) above their threshold %s",
		stats[0].stage, stats[0].p95, stats[0].limit, problems(sr), len(stats), span)
	return nil
}

// sinceDeployment moves start up to when the primary deployment of the
// service key (science, strands) began, when that is later: timings from
// tasks a deployment replaced say nothing about the tasks serving now, so
// a run after a forced deployment judges the new tasks alone. Without ECS
// settings the whole window is used, and the evidence says so.
func (r *run) sinceDeployment(key string, start time.Time, sr *StepResult) (time.Time, error) {
	env := r.deps.Env
	svcs := r.nexusServices(key)
	if len(svcs) != 1 {
		return start, fmt.Errorf("since_deployment %q: want science or strands", key)
	}
	if env.ECSCluster == "" || svcs[0].name == "" || r.deps.ECS == nil {
		sr.Evidence = append(sr.Evidence, "ECS not configured (ecs_cluster, "+key+"_service): timings cover the whole window")
		return start, nil
	}
	_, states, err := r.describeServices(key)
	if err != nil {
		return start, err
	}
	for _, d := range states[0].Deployments {
		if d.Status != "PRIMARY" || !d.Created.After(start) {
			continue
		}
		sr.Evidence = append(sr.Evidence, fmt.Sprintf("timings since %s's deployment %s began at %s (%s); earlier ones came from replaced tasks",
			svcs[0].name, d.ID, d.Created.UTC().Format(time.RFC3339), d.RolloutState))
		return d.Created, nil
	}
	return start, nil
}

// slowStages counts the slow stages of with.from that are among with.stages
// (comma-separated). Not problems of their own (with.from has them): this
// step only lets notes depend on which stages are slow.
func slowStages(r *run, s Step, sr *StepResult) error {
	ref, _ := s.With["from"].(string)
	want := map[string]bool{}
	for _, st := range strings.Split(r.argString(s, "stages", ""), ",") {
		want[strings.TrimSpace(st)] = true
	}
	var names []string
	for _, it := range r.res[ref].Items {
		if it.Problem && want[it.Resource] {
			names = append(names, it.Resource)
		}
	}
	sr.Count = len(names)
	sr.Status = StatusOK
	sr.Summary = "none of them is slow"
	if len(names) > 0 {
		sr.Status, sr.Summary = StatusWarn, "slow: "+strings.Join(names, ", ")
	}
	return nil
}

// queueAge reads the main queue's ApproximateAgeOfOldestMessage (the
// newest value over with.window); older than with.max_age is a problem.
func queueAge(r *run, s Step, sr *StepResult) error {
	env := r.deps.Env
	name := env.QueueName
	if name == "" && env.QueueURL != "" {
		name = queue.NameFromURL(env.QueueURL)
	}
	if name == "" {
		return errors.New("no queue configured (queue_name / MAIN_QUEUE_URL)")
	}
	window := r.argDuration(s, "window", 15*time.Minute)
	maxAge := r.argDuration(s, "max_age", 15*time.Minute)
	dp, err := r.oldestMessageAge(name, window)
	if err != nil {
		return err
	}
	if dp == nil {
		sr.Summary = fmt.Sprintf("%s: no ApproximateAgeOfOldestMessage datapoint in the last %s (an idle queue)", name, window)
		return nil
	}
	age := time.Duration(dp.Value * float64(time.Second))
	line := fmt.Sprintf("%s: oldest message %s old at %s (threshold %s)", name, age, dp.Time.UTC().Format(time.RFC3339), maxAge)
	if age > maxAge {
		sr.Items = append(sr.Items, Item{Resource: name, Problem: true, Age: age.String(), Detail: line})
	}
	sr.Summary = line
	return nil
}

// oldestMessageAge is the newest ApproximateAgeOfOldestMessage CloudWatch
// holds for queue name within window (nil: none, an idle queue). SQS's own
// attributes do not carry the age.
func (r *run) oldestMessageAge(name string, window time.Duration) (*cw.Datapoint, error) {
	api, err := r.cloudWatch()
	if err != nil {
		return nil, err
	}
	return cw.Latest(r.ctx, api, cw.Metric{Namespace: "AWS/SQS", Name: "ApproximateAgeOfOldestMessage",
		Dimensions: map[string]string{"QueueName": name}, Stat: "Maximum", Period: time.Minute}, r.deps.Now(), window)
}
