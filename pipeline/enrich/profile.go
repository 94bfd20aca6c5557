package enrich

import (
	"context"
	"errors"
	"fmt"

	"github.com/nexus-compliance/nexus/pipeline"
)

// Profile is a framework profile from /api/v1/profile/generate: the
// objectives, scope, key controls and terminology the Strands agents read
// as frameworkProfile when they enrich that framework's controls.
type Profile map[string]any

type profileRequest struct {
	FrameworkName  string          `json:"frameworkName"`
	SampleControls []enrichControl `json:"sampleControls"`
}

type profileResponse struct {
	FrameworkName string         `json:"frameworkName"`
	Profile       map[string]any `json:"profile"`
	Status        string         `json:"status"`
}

// MaxProfileSamples bounds the sample controls sent: the service reads them
// into one prompt, so a whole catalog would only slow it down.
const MaxProfileSamples = 25

// GenerateProfile asks the Strands service for a profile of the framework
// from a sample of its controls (the first MaxProfileSamples not withdrawn).
func (s *Strands) GenerateProfile(ctx context.Context, frameworkName string, controls []pipeline.Control) (Profile, error) {
	req := profileRequest{FrameworkName: frameworkName}
	for _, c := range controls {
		if c.Withdrawn {
			continue
		}
		req.SampleControls = append(req.SampleControls, enrichControl{ShortID: c.ID, Title: c.Title, Description: c.Description})
		if len(req.SampleControls) == MaxProfileSamples {
			break
		}
	}
	if len(req.SampleControls) == 0 {
		return nil, errors.New("profile: no live sample controls to describe the framework with")
	}
	var resp profileResponse
	if err := s.c.Post(ctx, "/api/v1/profile/generate", req, &resp); err != nil {
		return nil, err
	}
	if len(resp.Profile) == 0 {
		return nil, fmt.Errorf("profile of %s: the service returned an empty profile", frameworkName)
	}
	return Profile(resp.Profile), nil
}
