package shared

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	gpushared "github.com/nexus-compliance/nexus/commands/gpu/shared"
	"github.com/nexus-compliance/nexus/commands/settings"
	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
	"github.com/nexus-compliance/nexus/pipeline/api/auth"
	"github.com/nexus-compliance/nexus/pipeline/api/client"
	"github.com/nexus-compliance/nexus/pipeline/enrich"
	"github.com/nexus-compliance/nexus/pipeline/onnx"
	"github.com/nexus-compliance/nexus/pipeline/reason"
)

// Services are what the optional parts of a mapping take from the Factory:
// ONNX Runtime for --model-dir/--reranker-dir, the environment for the
// Strands endpoint, AWS configuration for Bedrock.
type Services struct {
	Runtime     func() (*gpu.Runtime, string, error)
	Environment func() (*settings.Environment, error)
	AWSConfig   func(context.Context) (aws.Config, error)
	HTTPClient  *http.Client
	// Authorizer gives the credentials for the science service at a URL
	// (the environment's API credentials); nil sends none.
	Authorizer func(url string) (auth.Authorizer, error)
}

// NewHooks are the default hooks with the Factory's services.
func NewHooks(f *cmdutil.Factory) Hooks {
	h := DefaultHooks()
	h.Services = &Services{
		Runtime:     gpushared.NewDeps(f).Runtime,
		Environment: f.Environment,
		AWSConfig:   f.AWSConfig,
		Authorizer: func(u string) (auth.Authorizer, error) {
			env, err := f.Environment()
			if err != nil {
				return nil, err
			}
			e := *env
			e.APIURL = u // SigV4 is chosen by the URL actually called
			return auth.FromEnvironment(&e, f.Getenv, f.AWSConfig)
		},
	}
	return h
}

func (s *Services) need(flag string) error {
	if s == nil {
		return fmt.Errorf("%s is not available in this context", flag)
	}
	return nil
}

// onnxOptions loads ONNX Runtime and reads --device for one model folder.
func (s *Services) onnxOptions(fl *Flags, dir, flag string) (onnx.Options, error) {
	if err := s.need(flag); err != nil {
		return onnx.Options{}, err
	}
	dev, err := gpu.ParseDevice(fl.Device)
	if err != nil {
		return onnx.Options{}, &cmdutil.FlagError{Err: err}
	}
	rt, path, err := s.Runtime()
	if err != nil {
		return onnx.Options{}, fmt.Errorf("%s needs ONNX Runtime (%v); `nexus gpu check` says what is missing", flag, orPath(err, path))
	}
	return onnx.Options{Runtime: rt, ModelDir: dir, Device: dev}, nil
}

func orPath(err error, path string) string {
	if path == "" {
		return err.Error()
	}
	return fmt.Sprintf("%s: %v", path, err)
}

// Embedder is the bi-encoder of --model-dir, nil without one.
func (s *Services) Embedder(fl *Flags, warn func(string)) (pipeline.Embedder, error) {
	if fl.ModelDir == "" {
		return nil, nil
	}
	o, err := s.onnxOptions(fl, fl.ModelDir, "--model-dir")
	if err != nil {
		return nil, err
	}
	e, err := onnx.NewEmbedder(o)
	if err != nil {
		return nil, fmt.Errorf("loading the bi-encoder from %s: %w", fl.ModelDir, err)
	}
	if note := e.Placement().Note; note != "" {
		warn("note: " + note)
	}
	return e, nil
}

// CrossEncoder is the reranker of --reranker-dir, nil without one.
func (s *Services) CrossEncoder(fl *Flags, warn func(string)) (pipeline.Reranker, error) {
	if fl.RerankerDir == "" {
		return nil, nil
	}
	o, err := s.onnxOptions(fl, fl.RerankerDir, "--reranker-dir")
	if err != nil {
		return nil, err
	}
	ce, err := onnx.NewCrossEncoder(o)
	if err != nil {
		return nil, fmt.Errorf("loading the cross-encoder from %s: %w", fl.RerankerDir, err)
	}
	if note := ce.Placement().Note; note != "" {
		warn("note: " + note)
	}
	return ce, nil
}

// strandsURL is --strands-endpoint, else the environment's Strands URL
// (STRANDS_SERVICE_ENDPOINT).
func (s *Services) strandsURL(fl *Flags, flag string) (string, error) {
	if fl.StrandsURL != "" {
		return fl.StrandsURL, nil
	}
	if err := s.need(flag); err != nil {
		return "", err
	}
	env, err := s.Environment()
	if err != nil {
		return "", err
	}
	if env.StrandsURL == "" {
		return "", cmdutil.FlagErrorf("%s needs the Strands service: pass --strands-endpoint URL, set STRANDS_SERVICE_ENDPOINT, or `nexus config set strands_url URL`", flag)
	}
	return env.StrandsURL, nil
}

func (s *Services) bedrock(ctx context.Context, fl *Flags, flag string) (*bedrockruntime.Client, error) {
	if fl.BedrockModel == "" {
		return nil, cmdutil.FlagErrorf("%s needs --bedrock-model, e.g. anthropic.claude-3-5-sonnet-20240620-v1:0", flag)
	}
	if err := s.need(flag); err != nil {
		return nil, err
	}
	cfg, err := s.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return bedrockruntime.NewFromConfig(cfg), nil
}

// Reasoner is the reasoner of --reasoning strands|bedrock.
func (s *Services) Reasoner(ctx context.Context, fl *Flags) (pipeline.Reasoner, error) {
	switch fl.Reasoning {
	case "strands":
		url, err := s.strandsURL(fl, "--reasoning strands")
		if err != nil {
			return nil, err
		}
		return reason.NewStrands(url, s.httpClient(), reason.StrandsOptions{})
	case "bedrock":
		c, err := s.bedrock(ctx, fl, "--reasoning bedrock")
		if err != nil {
			return nil, err
		}
		return reason.NewBedrock(c, fl.BedrockModel), nil
	}
	return nil, nil
}

// Enricher is the enricher of --enrich strands|bedrock, nil for none.
func (s *Services) Enricher(ctx context.Context, fl *Flags) (pipeline.Enricher, error) {
	switch fl.Enrich {
	case "strands":
		url, err := s.strandsURL(fl, "--enrich strands")
		if err != nil {
			return nil, err
		}
		return enrich.NewStrands(url, s.httpClient(), enrich.StrandsOptions{})
	case "bedrock":
		c, err := s.bedrock(ctx, fl, "--enrich bedrock")
		if err != nil {
			return nil, err
		}
		return enrich.NewBedrock(c, fl.BedrockModel), nil
	}
	return nil, nil
}

func (s *Services) httpClient() *http.Client {
	if s != nil && s.HTTPClient != nil {
		return s.HTTPClient
	}
	return nil
}

// scienceURL is --science-endpoint, else the environment's science URL
// (SCIENCE_API_ENDPOINT).
func (s *Services) scienceURL(fl *Flags) (string, error) {
	if fl.ScienceURL != "" {
		return fl.ScienceURL, nil
	}
	if err := s.need("--retriever science"); err != nil {
		return "", err
	}
	env, err := s.Environment()
	if err != nil {
		return "", err
	}
	if env.ScienceURL == "" {
		return "", cmdutil.FlagErrorf("--retriever science needs the science service: pass --science-endpoint URL, set SCIENCE_API_ENDPOINT, or `nexus config set science_url URL`")
	}
	return env.ScienceURL, nil
}

// Science is the client of the science service (NexusECSService) of
// --science-endpoint or --retriever science.
func (s *Services) Science(fl *Flags) (api.ScienceAPI, error) {
	u, err := s.scienceURL(fl)
	if err != nil {
		return nil, err
	}
	opts := client.Options{HTTPClient: s.httpClient(), UserAgent: "nexus"}
	if s != nil && s.Authorizer != nil {
		a, err := s.Authorizer(u)
		if err != nil {
			return nil, &cmdutil.FlagError{Err: err}
		}
		opts.Authorizer = a
	}
	c, err := client.New(u, opts)
	if err != nil {
		return nil, cmdutil.FlagErrorf("invalid science service URL %q: %v", u, err)
	}
	return c, nil
}
