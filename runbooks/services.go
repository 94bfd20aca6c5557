package runbooks

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/smithy-go"

	"github.com/nexus-compliance/nexus/aws/cw"
	"github.com/nexus-compliance/nexus/aws/ecsx"
	"github.com/nexus-compliance/nexus/aws/logs"
	"github.com/nexus-compliance/nexus/commands/settings"
	"github.com/nexus-compliance/nexus/pipeline/api/client"
)

// ECSAPI is the ECS calls the probes and actions make; *ecs.Client
// implements it.
type ECSAPI interface {
	ecsx.API
	ecsx.UpdateAPI
}

var _ ECSAPI = (*ecs.Client)(nil)

// nexusService is one of the two ECS services of Nexus.
type nexusService struct {
	key      string // "science" or "strands"
	name     string // the ECS service name
	url      string // its base URL ("" when not configured)
	logGroup string // the log_groups key of its logs
}

// nexusServices are the services of the environment that with.service
// selects ("all", "science" or "strands").
func (r *run) nexusServices(which string) []nexusService {
	env := r.deps.Env
	all := []nexusService{
		{key: "science", name: env.ScienceService, url: env.ScienceURL, logGroup: "ecs_service"},
		{key: "strands", name: env.StrandsService, url: env.StrandsURL, logGroup: "strands_service"},
	}
	var out []nexusService
	for _, s := range all {
		if which == "" || which == "all" || which == s.key {
			out = append(out, s)
		}
	}
	return out
}

// logGroup is the log group of a component (a key of settings.Components).
func (r *run) logGroup(key string) string {
	if g := r.deps.Env.LogGroups[key]; g != "" {
		return g
	}
	for _, c := range settings.Components {
		if c.Key == key {
			return c.DefaultGroup
		}
	}
	return ""
}

// describeServices reads the ECS state of the services which selects (all,
// science, strands), in the order of nexusServices.
func (r *run) describeServices(which string) ([]nexusService, []ecsx.Service, error) {
	env := r.deps.Env
	if env == nil || env.ECSCluster == "" {
		return nil, nil, errors.New("no ECS cluster configured (ecs_cluster)")
	}
	if r.deps.ECS == nil {
		return nil, nil, errors.New("no ECS client configured")
	}
	svcs := r.nexusServices(which)
	names := make([]string, len(svcs))
	for i, svc := range svcs {
		if svc.name == "" {
			return nil, nil, fmt.Errorf("no ECS service name configured for %s (%s_service)", svc.key, svc.key)
		}
		names[i] = svc.name
	}
	api, err := r.deps.ECS(r.ctx)
	if err != nil {
		return nil, nil, err
	}
	states, err := ecsx.DescribeServices(r.ctx, api, env.ECSCluster, names...)
	return svcs, states, err
}

// ecsServices checks each selected service (with.service) in ECS (ACTIVE,
// running = desired, no failed deployment) and, with.endpoints true (the
// default), GET /health and /ready of its URL. A service failing either is
// a problem.
func ecsServices(r *run, s Step, sr *StepResult) error {
	env := r.deps.Env
	svcs, states, err := r.describeServices(r.argString(s, "service", "all"))
	if err != nil {
		return err
	}
	endpoints := true
	if v, ok := r.arg(s, "endpoints"); ok {
		endpoints, _ = v.(bool)
	}
	timeout := r.argDuration(s, "http_timeout", 5*time.Second)
	bad := 0
	for i, svc := range svcs {
		st := states[i]
		var why []string
		switch {
		case st.Status != "ACTIVE":
			why = append(why, "service is "+st.Status)
		case st.Running < st.Desired:
			why = append(why, fmt.Sprintf("%d of %d task(s) running", st.Running, st.Desired))
		}
		if d, failed := st.FailedDeployment(); failed {
			w := "deployment " + d.ID + " failed"
			if d.Reason != "" {
				w += ": " + d.Reason
			}
			why = append(why, w)
		}
		line := fmt.Sprintf("%s (%s): %s, %d/%d running, %d pending, %d deployment(s)", svc.key, svc.name, st.Status, st.Running, st.Desired, st.Pending, len(st.Deployments))
		if st.Rolling() {
			line += ", rolling out"
		}
		if st.Desired == 0 && st.Status == "ACTIVE" {
			line += ", scaled to 0"
		}
		sr.Evidence = append(sr.Evidence, line)
		if endpoints {
			if svc.url == "" {
				sr.Evidence = append(sr.Evidence, fmt.Sprintf("%s: no URL configured (%s_url); /health and /ready not checked", svc.key, svc.key))
			} else {
				for _, path := range []string{"/health", "/ready"} {
					res, ok := probeHTTP(r, svc.url, path, timeout)
					sr.Evidence = append(sr.Evidence, fmt.Sprintf("%s: GET %s%s: %s", svc.key, strings.TrimRight(svc.url, "/"), path, res))
					if !ok {
						why = append(why, path+" "+res)
					}
				}
			}
		}
		it := Item{Resource: svc.name, Status: st.Status, Detail: strings.Join(why, "; ")}
		if len(why) > 0 {
			it.Problem = true
			bad++
			sr.Evidence = append(sr.Evidence, fmt.Sprintf("%s is unhealthy: %s", svc.name, it.Detail))
		}
		sr.Items = append(sr.Items, it)
	}
	sr.Summary = fmt.Sprintf("%d of %d service(s) in cluster %s unhealthy", bad, len(svcs), env.ECSCluster)
	return nil
}

// probeHTTP GETs /health or /ready once and says how it went.
func probeHTTP(r *run, base, path string, timeout time.Duration) (string, bool) {
	cl, err := client.New(base, client.Options{Timeout: timeout, MaxAttempts: 1, HTTPClient: r.deps.HTTPClient, UserAgent: "nexus-runbook"})
	if err != nil {
		return "bad URL: " + err.Error(), false
	}
	call := cl.Health
	if path == "/ready" {
		call = cl.Ready
	}
	start := time.Now()
	h, err := call(r.ctx)
	if err != nil {
		var apiErr *client.Error
		if errors.As(err, &apiErr) {
			res := fmt.Sprintf("HTTP %d", apiErr.StatusCode)
			if h.Status != "" {
				res += " " + h.Status
			}
			return res, false
		}
		return "down: " + cw.FirstLine(err.Error()), false
	}
	st := h.Status
	if st == "" {
		st = "ok"
	}
	return fmt.Sprintf("%s in %s", st, time.Since(start).Round(time.Millisecond)), true
}

// logErrors counts the events matching with.pattern (default ERROR) in the
// log groups of with.components (comma-separated log_groups keys) over
// with.window; a group with more than with.threshold is a problem.
func logErrors(r *run, s Step, sr *StepResult) error {
	if r.deps.Logs == nil {
		return errors.New("no CloudWatch Logs client configured")
	}
	window := r.argDuration(s, "window", 15*time.Minute)
	pattern := r.argString(s, "pattern", "ERROR")
	threshold := r.argInt(s, "threshold", 0)
	limit := r.argInt(s, "limit", 1000)
	api, err := r.deps.Logs(r.ctx)
	if err != nil {
		return err
	}
	now := r.deps.Now()
	var keys []string
	for _, k := range strings.Split(r.argString(s, "components", "ecs_service,strands_service"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	bad := 0
	for _, k := range keys {
		group := r.logGroup(k)
		if group == "" {
			return fmt.Errorf("unknown log component %q", k)
		}
		n := 0
		var last string
		err := logs.Filter(r.ctx, api, logs.FilterOptions{Groups: []string{group}, Start: now.Add(-window), End: now, Pattern: pattern, Limit: limit},
			func(ev logs.Event) error {
				n++
				last = ev.Message
				return nil
			})
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException" {
			sr.Evidence = append(sr.Evidence, group+": log group not found (not checked)")
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", group, err)
		}
		count := fmt.Sprint(n)
		if n >= limit {
			count = fmt.Sprintf("at least %d", n)
		}
		line := fmt.Sprintf("%s: %s event(s) matching %q in the last %s", group, count, pattern, window)
		if last != "" {
			line += "; latest: " + oneLine(last)
		}
		sr.Evidence = append(sr.Evidence, line)
		if n > threshold {
			bad++
			sr.Items = append(sr.Items, Item{Resource: group, Problem: true, Detail: line})
		}
	}
	sr.Summary = fmt.Sprintf("%d of %d log group(s) have more than %d event(s) matching %q in the last %s", bad, len(keys), threshold, pattern, window)
	return nil
}

// planForceDeployment plans a new deployment of each unhealthy service of
// with.from or, with with.services (all, science, strands), of those
// services whatever their health — for a service that is up but slow. A
// service already rolling out is left alone: a second deployment would
// only replace tasks that have not started yet.
func planForceDeployment(r *run, s Step) ([]planned, error) {
	env := r.deps.Env
	if which := r.argString(s, "services", ""); which != "" {
		svcs, states, err := r.describeServices(which)
		if err != nil {
			return nil, err
		}
		reason := r.argString(s, "reason", "")
		var out []planned
		for i, st := range states {
			p := planned{target: svcs[i].name, describe: fmt.Sprintf("force a new deployment of ECS service %s in cluster %s (%s)", svcs[i].name, env.ECSCluster, reason)}
			switch {
			case st.Status != "ACTIVE":
				p.skip = "the service is " + st.Status
			case st.Rolling():
				p.skip = "a deployment is already rolling out"
			}
			out = append(out, p)
		}
		return out, nil
	}
	ref, _ := s.With["from"].(string)
	var out []planned
	for _, it := range r.res[ref].Items {
		if !it.Problem || it.Resource == "" {
			continue
		}
		out = append(out, planned{target: it.Resource, item: it,
			describe: fmt.Sprintf("force a new deployment of ECS service %s in cluster %s (%s)", it.Resource, env.ECSCluster, it.Detail)})
	}
	return out, nil
}

func applyForceDeployment(r *run, s Step, plan []planned) []error {
	errsOut := make([]error, len(plan))
	api, err := r.deps.ECS(r.ctx)
	for i, p := range plan {
		if err != nil {
			errsOut[i] = err
			continue
		}
		_, errsOut[i] = ecsx.ForceNewDeployment(r.ctx, api, r.deps.Env.ECSCluster, p.target)
	}
	return errsOut
}
