package pipeline

import (
	"fmt"
	"strings"
)

// JobStatus is the lifecycle of a mapping job. The data model's four values
// are authoritative; the SQS trigger's older IN_PROGRESS is read as RUNNING.
type JobStatus string

// The job statuses.
const (
	JobPending   JobStatus = "PENDING"
	JobRunning   JobStatus = "RUNNING"
	JobCompleted JobStatus = "COMPLETED"
	JobFailed    JobStatus = "FAILED"
)

// JobStatuses lists every status in lifecycle order.
var JobStatuses = []JobStatus{JobPending, JobRunning, JobCompleted, JobFailed}

// ParseJobStatus accepts any case and the legacy IN_PROGRESS.
func ParseJobStatus(s string) (JobStatus, error) {
	up := JobStatus(strings.ToUpper(strings.TrimSpace(s)))
	if up == "IN_PROGRESS" {
		return JobRunning, nil
	}
	for _, st := range JobStatuses {
		if st == up {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown job status %q: use one of PENDING, RUNNING, COMPLETED, FAILED", s)
}

// Terminal reports whether a job in this status will not change again.
func (s JobStatus) Terminal() bool { return s == JobCompleted || s == JobFailed }

// Job is one record of the MappingJobs table.
type Job struct {
	JobID              string           `json:"job_id" dynamodbav:"job_id"`
	Status             JobStatus        `json:"status" dynamodbav:"status"`
	ControlKey         string           `json:"control_key" dynamodbav:"control_key"`
	TargetFrameworkKey string           `json:"target_framework_key" dynamodbav:"target_framework_key"`
	TargetControlIDs   []string         `json:"target_control_ids,omitempty" dynamodbav:"target_control_ids,omitempty"`
	CreatedAt          string           `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt          string           `json:"updated_at,omitempty" dynamodbav:"updated_at,omitempty"`
	CompletedAt        string           `json:"completed_at,omitempty" dynamodbav:"completed_at,omitempty"`
	FailedAt           string           `json:"failed_at,omitempty" dynamodbav:"failed_at,omitempty"`
	Mappings           []map[string]any `json:"mappings,omitempty" dynamodbav:"mappings,omitempty"`
	ErrorMessage       string           `json:"error_message,omitempty" dynamodbav:"error_message,omitempty"`
	Error              map[string]any   `json:"error,omitempty" dynamodbav:"error,omitempty"`
	TTL                int64            `json:"ttl,omitempty" dynamodbav:"ttl,omitempty"`
	ExecutionARN       string           `json:"execution_arn,omitempty" dynamodbav:"execution_arn,omitempty"`
}

// JobMessage is the body of a MappingRequestQueue message, as the async API
// handler publishes it and the SQS trigger consumes it.
type JobMessage struct {
	JobID              string   `json:"job_id"`
	ControlKey         string   `json:"control_key"`
	TargetFrameworkKey string   `json:"target_framework_key"`
	TargetControlIDs   []string `json:"target_control_ids,omitempty"`
}
