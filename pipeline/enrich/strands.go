// Package enrich produces enriched control text, which retrieval prefers
// over title and statement: from the Strands agent service, whose six
// agents interpret a control for AWS, or from a Bedrock model in-process.
package enrich

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/internal/jsonhttp"
)

// StrandsOptions tune the Strands client: bearer token, per-attempt
// timeout (default 120 s, the seed's figure for agent processing), retries
// and backoff.
type StrandsOptions = jsonhttp.Options

// ServiceError is a failure the Strands service reported, with its HTTP
// status and message.
type ServiceError = jsonhttp.StatusError

// DefaultVersion is the version recorded on enrichments, as the seed's
// ENRICHMENT_VERSION defaults it.
const DefaultVersion = "v1"

// Strands enriches controls with /api/v1/enrich of the
// NexusStrandsAgentService.
type Strands struct {
	c *jsonhttp.Client
	// Version is recorded on each enrichment (default DefaultVersion).
	Version string
	// Profiles, when set, supplies the optional frameworkProfile for a
	// framework key (nil sends none).
	Profiles func(frameworkKey string) map[string]any
	now      func() time.Time
}

var _ pipeline.Enricher = (*Strands)(nil)

// NewStrands returns an enricher using the service at baseURL (the seed's
// STRANDS_SERVICE_ENDPOINT). A nil httpClient uses http.DefaultClient.
func NewStrands(baseURL string, httpClient *http.Client, opts StrandsOptions) (*Strands, error) {
	c, err := jsonhttp.New("strands", baseURL, httpClient, opts)
	if err != nil {
		return nil, err
	}
	return &Strands{c: c, Version: DefaultVersion, now: time.Now}, nil
}

type enrichMetadata struct {
	FrameworkName    string `json:"frameworkName"`
	FrameworkVersion string `json:"frameworkVersion"`
}

type enrichControl struct {
	ShortID     string `json:"shortId"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

type enrichRequest struct {
	Metadata         enrichMetadata `json:"metadata"`
	Control          enrichControl  `json:"control"`
	FrameworkProfile map[string]any `json:"frameworkProfile,omitempty"`
}

type enrichResponse struct {
	ControlID              string         `json:"controlId"`
	EnrichedInterpretation map[string]any `json:"enrichedInterpretation"`
	AgentOutputs           map[string]any `json:"agentOutputs"`
	Status                 string         `json:"status"`
}

// Enrich asks the service to interpret one control. The enrichment's Data
// keeps the whole interpretation and every agent's output, as the seed's
// enrichment_data does.
func (s *Strands) Enrich(ctx context.Context, c pipeline.Control) (pipeline.Enrichment, error) {
	name, version := frameworkParts(c)
	req := enrichRequest{
		Metadata: enrichMetadata{FrameworkName: name, FrameworkVersion: version},
		Control:  enrichControl{ShortID: c.ID, Title: c.Title, Description: c.Description},
	}
	if s.Profiles != nil {
		req.FrameworkProfile = s.Profiles(c.FrameworkKey)
	}
	var out enrichResponse
	if err := s.c.Post(ctx, "/api/v1/enrich", req, &out); err != nil {
		return pipeline.Enrichment{}, fmt.Errorf("enriching %s: %w", c.Key, err)
	}
	text, _ := out.EnrichedInterpretation["enrichedText"].(string)
	if strings.TrimSpace(text) == "" {
		return pipeline.Enrichment{}, fmt.Errorf("enriching %s: strands POST /api/v1/enrich answered without enrichedInterpretation.enrichedText", c.Key)
	}
	data := map[string]any{"enrichedInterpretation": out.EnrichedInterpretation}
	if out.AgentOutputs != nil {
		data["agentOutputs"] = out.AgentOutputs
	}
	return pipeline.Enrichment{
		ControlKey:   c.Key,
		OriginalText: originalText(c),
		EnrichedText: strings.TrimSpace(text),
		Data:         data,
		Version:      s.Version,
		CreatedAt:    s.now().UTC().Format(time.RFC3339),
	}, nil
}

// frameworkParts splits the framework key (NIST-SP-800-53#R5) into the name
// and version the service's metadata asks for.
func frameworkParts(c pipeline.Control) (name, version string) {
	fw := c.FrameworkKey
	if fw == "" {
		fw, _, _ = pipeline.SplitControlKey(c.Key)
	}
	name, version, _ = strings.Cut(fw, "#")
	return name, version
}

// originalText is the seed's original_text: the control's description, or
// its title when it has none.
func originalText(c pipeline.Control) string {
	if c.Description != "" {
		return c.Description
	}
	return c.Title
}
