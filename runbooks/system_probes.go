package runbooks

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/nexus-compliance/nexus/aws/cw"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/aws/sfnx"
)

// alarms lists the CloudWatch alarms in ALARM whose names start with
// with.prefix (all when empty); each is a problem.
func alarms(r *run, s Step, sr *StepResult) error {
	api, err := r.cloudWatch()
	if err != nil {
		return err
	}
	prefix := r.argString(s, "prefix", "")
	list, err := cw.ListAlarms(r.ctx, api, cw.Filter{State: cw.StateAlarm, Prefix: prefix})
	if err != nil {
		return err
	}
	now := r.deps.Now()
	for _, a := range list {
		line := fmt.Sprintf("%s (%s): %s", a.Name, a.Condition, a.Reason)
		if !a.Since.IsZero() {
			line = fmt.Sprintf("%s in ALARM for %s (%s): %s", a.Name, now.Sub(a.Since).Round(time.Second), a.Condition, a.Reason)
		}
		sr.Evidence = append(sr.Evidence, line)
		sr.Items = append(sr.Items, Item{Resource: a.Name, Status: a.State, Problem: true, Detail: line})
	}
	scope := "the account"
	if prefix != "" {
		scope = fmt.Sprintf("alarms named %s*", prefix)
	}
	sr.Summary = fmt.Sprintf("%d alarm(s) in ALARM among %s", len(list), scope)
	return nil
}

// maxFailedExecutions bounds the executions one check describes.
const maxFailedExecutions = 200

// failedExecutions finds the executions of the state machine that FAILED,
// TIMED_OUT or were ABORTED within with.window, reads why from each
// history, and keeps those whose error or cause matches with.pattern (a
// case-insensitive regexp; all when empty). Each is a problem that
// redrive-execution can act on.
func failedExecutions(r *run, s Step, sr *StepResult) error {
	arn := r.deps.Env.StateMachineARN
	if arn == "" {
		sr.Status, sr.Summary = StatusOK, "skipped: no state machine configured (state_machine_arn / STATE_MACHINE_ARN)"
		return nil
	}
	window := r.argDuration(s, "window", 6*time.Hour)
	var re *regexp.Regexp
	if p := r.argString(s, "pattern", ""); p != "" {
		var err error
		if re, err = regexp.Compile("(?i)" + p); err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	limit := min(r.argInt(s, "limit", 50), maxFailedExecutions)
	api, err := r.deps.SFN(r.ctx)
	if err != nil {
		return err
	}
	list, err := sfnx.List(r.ctx, api, sfnx.ListOptions{StateMachineARN: arn, Since: r.deps.Now().Add(-window), Limit: limit,
		Statuses: []sfntypes.ExecutionStatus{sfntypes.ExecutionStatusFailed, sfntypes.ExecutionStatusTimedOut, sfntypes.ExecutionStatusAborted}})
	if err != nil {
		return err
	}
	arns := make([]string, len(list))
	for i, x := range list {
		arns[i] = x.ARN
	}
	execs, errs := sfnx.DescribeAll(r.ctx, api, arns, sfnx.DefaultConcurrency)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	failures := make([]*sfnx.Failure, len(execs))
	ferrs := make([]error, len(execs))
	sfnx.ForEach(r.ctx, len(execs), sfnx.DefaultConcurrency, func(i int) { failures[i], ferrs[i] = sfnx.FindFailure(r.ctx, api, execs[i].ARN) })
	if err := errors.Join(ferrs...); err != nil {
		return err
	}
	for i, e := range execs {
		why := e.Status
		text := e.Error + " " + e.Cause
		if f := failures[i]; f != nil {
			why = f.Summary()
			text += " " + f.Error + " " + f.Cause + " " + f.ErrorType + " " + f.ErrorMessage
		} else if e.Error != "" {
			why = e.Status + ": " + e.Error
		}
		if re != nil && !re.MatchString(text) {
			continue
		}
		detail := fmt.Sprintf("%s %s", e.Status, oneLine(why))
		if e.RedriveStatus != "" {
			detail += fmt.Sprintf(" (redrive status %s)", e.RedriveStatus)
		}
		sr.Items = append(sr.Items, Item{JobID: e.JobID, ExecutionARN: e.ARN, Status: e.Status, Problem: true, Detail: detail, exec: e})
		sr.Evidence = append(sr.Evidence, fmt.Sprintf("%s  job %s  %s", e.Name, orDash(e.JobID), detail))
	}
	sr.Summary = fmt.Sprintf("%d execution(s) failed, timed out or were aborted in the last %s", len(sr.Items), window)
	if re != nil {
		sr.Summary += fmt.Sprintf(" with an error matching %q (of %d)", re.String()[4:], len(execs))
	}
	if len(list) == limit {
		sr.Summary += fmt.Sprintf("; stopped at limit %d", limit)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// queueDepth reads the depth of with.queue (main or dlq): more than
// with.max messages (visible, in flight and delayed) is a problem, and so,
// with.max_age set, is an oldest message older than that, read from
// CloudWatch's ApproximateAgeOfOldestMessage.
func queueDepth(r *run, s Step, sr *StepResult) error {
	which := r.argString(s, "queue", "main")
	if which != "main" && which != "dlq" {
		return fmt.Errorf("with.queue %q: want main or dlq", which)
	}
	api, mainURL, dlqURL, err := r.queues()
	if err != nil {
		return err
	}
	url := mainURL
	if which == "dlq" {
		url = dlqURL
	}
	st, err := queue.GetStats(r.ctx, api, url)
	if err != nil {
		return err
	}
	limit := r.argInt(s, "max", 0)
	line := fmt.Sprintf("%s: %d visible, %d in flight, %d delayed (at most %d)", st.Name, st.Visible, st.InFlight, st.Delayed, limit)
	var why []string
	if st.Total() > limit {
		why = append(why, fmt.Sprintf("%d message(s), more than %d", st.Total(), limit))
	}
	if maxAge := r.argDuration(s, "max_age", 0); maxAge > 0 && st.Total() > 0 {
		dp, err := r.oldestMessageAge(st.Name, 15*time.Minute)
		if err != nil {
			return err
		}
		if dp != nil {
			age := time.Duration(dp.Value * float64(time.Second))
			line += fmt.Sprintf("; oldest message %s old (at most %s)", age, maxAge)
			if age > maxAge {
				why = append(why, fmt.Sprintf("oldest message %s old", age))
			}
		}
	}
	sr.Evidence = append(sr.Evidence, line)
	if len(why) > 0 {
		sr.Items = append(sr.Items, Item{Resource: st.Name, Problem: true, Detail: strings.Join(why, "; ")})
	}
	sr.Summary = line
	return nil
}
