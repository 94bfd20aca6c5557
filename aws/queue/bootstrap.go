package queue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// The settings of the Nexus queues, as the architecture's "SQS
// Infrastructure" section fixes them.
const (
	MainVisibilityTimeout = 60      // seconds: time for the SQS trigger Lambda
	MainRetention         = 604800  // 7 days
	MainDelay             = 0       // no delivery delay
	MaxReceiveCount       = 3       // receives before a message moves to the DLQ
	DLQRetention          = 1209600 // 14 days
)

// Actions a Resource reports.
const (
	ActionCreated     = "created"
	ActionUnchanged   = "unchanged"
	ActionUpdated     = "updated"
	ActionWouldCreate = "would create"
	ActionWouldUpdate = "would update"
)

// Resource is one piece of infrastructure bootstrap looked at and what it
// did (or, from PlanQueues, would do) to it.
type Resource struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	URL    string `json:"url,omitempty"`
	Action string `json:"action"`
	Detail string `json:"detail,omitempty"`
}

// DLQAttributes are the attributes MappingRequestDLQ is created with.
func DLQAttributes() map[string]string {
	return map[string]string{
		string(types.QueueAttributeNameMessageRetentionPeriod): fmt.Sprint(DLQRetention),
		string(types.QueueAttributeNameSqsManagedSseEnabled):   "true",
	}
}

// MainAttributes are the attributes MappingRequestQueue is created with,
// redriving to the DLQ whose ARN is given.
func MainAttributes(dlqARN string) map[string]string {
	return map[string]string{
		string(types.QueueAttributeNameVisibilityTimeout):      fmt.Sprint(MainVisibilityTimeout),
		string(types.QueueAttributeNameMessageRetentionPeriod): fmt.Sprint(MainRetention),
		string(types.QueueAttributeNameDelaySeconds):           fmt.Sprint(MainDelay),
		string(types.QueueAttributeNameSqsManagedSseEnabled):   "true",
		string(types.QueueAttributeNameRedrivePolicy):          RedrivePolicy{DeadLetterTargetARN: dlqARN, MaxReceiveCount: MaxReceiveCount}.String(),
	}
}

// EnsureQueues creates the DLQ and then the main queue with the settings of
// the architecture, or, when they exist, sets back any attribute that has
// drifted. Running it again changes nothing and reports both unchanged.
func EnsureQueues(ctx context.Context, api API, mainName, dlqName string) ([]Resource, error) {
	return ensure(ctx, api, mainName, dlqName, false)
}

// PlanQueues reports what EnsureQueues would do, making only read calls.
func PlanQueues(ctx context.Context, api API, mainName, dlqName string) ([]Resource, error) {
	return ensure(ctx, api, mainName, dlqName, true)
}

func ensure(ctx context.Context, api API, mainName, dlqName string, plan bool) ([]Resource, error) {
	if mainName == "" || dlqName == "" {
		return nil, errors.New("both the queue and the DLQ need a name")
	}
	dlq, err := ensureQueue(ctx, api, dlqName, DLQAttributes(), plan)
	if err != nil {
		return nil, err
	}
	dlqARN := ""
	if dlq.URL != "" {
		if dlqARN, err = ARN(ctx, api, dlq.URL); err != nil {
			return []Resource{dlq}, err
		}
	} else {
		// Planning, and the DLQ does not exist yet: its ARN is not known,
		// so compare against a placeholder that never matches.
		dlqARN = "arn:aws:sqs:<region>:<account>:" + dlqName
	}
	main, err := ensureQueue(ctx, api, mainName, MainAttributes(dlqARN), plan)
	if err != nil {
		return []Resource{dlq}, err
	}
	return []Resource{dlq, main}, nil
}

func ensureQueue(ctx context.Context, api API, name string, want map[string]string, plan bool) (Resource, error) {
	r := Resource{Kind: "sqs-queue", Name: name}
	url, err := Resolve(ctx, api, "", name)
	switch {
	case IsNotExist(err):
		if plan {
			r.Action = ActionWouldCreate
			r.Detail = describeAttrs(want)
			return r, nil
		}
		out, err := api.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: want})
		if err == nil {
			r.URL = aws.ToString(out.QueueUrl)
			r.Action = ActionCreated
			r.Detail = describeAttrs(want)
			return r, nil
		}
		if !isQueueExists(err) {
			return r, fmt.Errorf("creating queue %s: %w", name, err)
		}
		// Someone created it between our look-up and CreateQueue, with other
		// attributes: reconcile it like any existing queue.
		if url, err = Resolve(ctx, api, "", name); err != nil {
			return r, err
		}
	case err != nil:
		return r, err
	}
	r.URL = url
	have, err := attributes(ctx, api, url)
	if err != nil {
		return r, err
	}
	drift, changes := diffAttrs(have, want)
	if len(drift) == 0 {
		r.Action = ActionUnchanged
		if have[string(types.QueueAttributeNameKmsMasterKeyId)] != "" {
			r.Detail = "encrypted with KMS key " + have[string(types.QueueAttributeNameKmsMasterKeyId)] + " (kept)"
		}
		return r, nil
	}
	r.Detail = strings.Join(changes, "; ")
	if plan {
		r.Action = ActionWouldUpdate
		return r, nil
	}
	if _, err := api.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: drift}); err != nil {
		return r, fmt.Errorf("updating queue %s (%s): %w", name, r.Detail, err)
	}
	r.Action = ActionUpdated
	return r, nil
}

// diffAttrs returns the attributes to set and a description of each change.
// A queue encrypted with a KMS key already meets "server-side encryption" and
// is not downgraded to SQS-managed keys.
func diffAttrs(have, want map[string]string) (map[string]string, []string) {
	drift := map[string]string{}
	var changes []string
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w, h := want[k], have[k]
		switch k {
		case string(types.QueueAttributeNameSqsManagedSseEnabled):
			if have[string(types.QueueAttributeNameKmsMasterKeyId)] != "" || strings.EqualFold(h, w) {
				continue
			}
		case string(types.QueueAttributeNameRedrivePolicy):
			hp, err := ParseRedrivePolicy(h)
			wp, _ := ParseRedrivePolicy(w)
			if err == nil && hp != nil && wp != nil && *hp == *wp {
				continue
			}
		default:
			if h == w {
				continue
			}
		}
		if h == "" {
			h = "unset"
		}
		drift[k] = w
		changes = append(changes, fmt.Sprintf("%s %s → %s", k, h, w))
	}
	return drift, changes
}

func describeAttrs(attrs map[string]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+attrs[k])
	}
	return strings.Join(parts, " ")
}

func isQueueExists(err error) bool {
	var exists *types.QueueNameExists
	if errors.As(err, &exists) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "QueueAlreadyExists", "QueueNameExists", "AWS.SimpleQueueService.QueueNameExists":
			return true
		}
	}
	return false
}
