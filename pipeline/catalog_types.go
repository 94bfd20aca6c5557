package pipeline

import "strings"

// Framework is one row of the Frameworks table.
type Framework struct {
	Key         string `json:"frameworkKey" dynamodbav:"frameworkKey"` // NIST-SP-800-53#R5
	Name        string `json:"name" dynamodbav:"name"`                 // NIST-SP-800-53
	Version     string `json:"version" dynamodbav:"version"`           // R5
	Title       string `json:"title,omitempty" dynamodbav:"title,omitempty"`
	Description string `json:"description,omitempty" dynamodbav:"description,omitempty"`
	Source      string `json:"source,omitempty" dynamodbav:"source,omitempty"` // where it was imported from
}

// Control is one row of the FrameworkControls table: a control of a target
// framework (NIST AC-2(1)) or a source control (an AWS Config rule).
type Control struct {
	Key          string `json:"controlKey" dynamodbav:"controlKey"`     // NIST-SP-800-53#R5#AC-2(1)
	FrameworkKey string `json:"frameworkKey" dynamodbav:"frameworkKey"` // NIST-SP-800-53#R5
	ID           string `json:"controlId" dynamodbav:"controlId"`       // AC-2(1): the label users type
	Title        string `json:"title" dynamodbav:"title"`
	Description  string `json:"description,omitempty" dynamodbav:"description,omitempty"` // the statement
	Guidance     string `json:"guidance,omitempty" dynamodbav:"guidance,omitempty"`
	Family       string `json:"family,omitempty" dynamodbav:"family,omitempty"`
	Parent       string `json:"parent,omitempty" dynamodbav:"parent,omitempty"` // parent control id of an enhancement
	Withdrawn    bool   `json:"withdrawn,omitempty" dynamodbav:"withdrawn,omitempty"`
}

// Text is the control's text for scoring when no enrichment exists: title
// and statement.
func (c Control) Text() string {
	return strings.TrimSpace(c.Title + ". " + c.Description)
}

// Enrichment is one row of the Enrichment table.
type Enrichment struct {
	ControlKey   string         `json:"control_id" dynamodbav:"control_id"`
	OriginalText string         `json:"original_text" dynamodbav:"original_text"`
	EnrichedText string         `json:"enriched_text" dynamodbav:"enriched_text"`
	Data         map[string]any `json:"enrichment_data,omitempty" dynamodbav:"enrichment_data,omitempty"`
	Version      string         `json:"version" dynamodbav:"version"`
	CreatedAt    string         `json:"created_at" dynamodbav:"created_at"`
}

// ResultMapping is one mapping of a completed job, with the fields of the
// seed's map_control output (snake_case, as stored in MappingJobs.mappings);
// the API's COMPLETED response renames them to camelCase.
type ResultMapping struct {
	TargetControlKey   string  `json:"target_control_key"`
	TargetControlID    string  `json:"target_control_id"`
	TargetFrameworkKey string  `json:"target_framework_key"`
	Title              string  `json:"title,omitempty"`
	Text               string  `json:"text,omitempty"`
	SimilarityScore    float64 `json:"similarity_score"`
	RerankScore        float64 `json:"rerank_score"`
	Reasoning          string  `json:"reasoning,omitempty"`
}
