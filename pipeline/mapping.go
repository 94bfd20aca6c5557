package pipeline

import (
	"fmt"
	"strings"
)

// MappingStatus is the review state of a control mapping.
type MappingStatus string

// The mapping statuses.
const (
	MappingApproved      MappingStatus = "APPROVED"
	MappingPendingReview MappingStatus = "PENDING_REVIEW"
	MappingRejected      MappingStatus = "REJECTED"
	MappingArchived      MappingStatus = "ARCHIVED"
)

// MappingStatuses lists every status.
var MappingStatuses = []MappingStatus{MappingApproved, MappingPendingReview, MappingRejected, MappingArchived}

// ParseMappingStatus accepts any case.
func ParseMappingStatus(s string) (MappingStatus, error) {
	up := MappingStatus(strings.ToUpper(strings.TrimSpace(s)))
	for _, st := range MappingStatuses {
		if st == up {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown mapping status %q: use one of APPROVED, PENDING_REVIEW, REJECTED, ARCHIVED", s)
}

// Mapping is one record of the ControlMappings table.
type Mapping struct {
	ControlKey       string         `json:"controlKey" dynamodbav:"controlKey"`
	MappedControlKey string         `json:"mappedControlKey" dynamodbav:"mappedControlKey"`
	MappingKey       string         `json:"mappingKey" dynamodbav:"mappingKey"`
	ARN              string         `json:"arn,omitempty" dynamodbav:"arn,omitempty"`
	Status           MappingStatus  `json:"status" dynamodbav:"status"`
	SimilarityScore  *float64       `json:"similarity_score,omitempty" dynamodbav:"similarity_score,omitempty"`
	RerankScore      *float64       `json:"rerank_score,omitempty" dynamodbav:"rerank_score,omitempty"`
	Reasoning        string         `json:"reasoning,omitempty" dynamodbav:"reasoning,omitempty"`
	CreatedBy        map[string]any `json:"created_by,omitempty" dynamodbav:"created_by,omitempty"`
	Timestamp        string         `json:"timestamp,omitempty" dynamodbav:"timestamp,omitempty"`
}
