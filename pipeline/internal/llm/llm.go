// Package llm asks a Bedrock model for plain text through the Converse API,
// which speaks one request shape for every model family, and turns
// Bedrock's errors into ones that say what to fix.
package llm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// ConverseAPI is the one Bedrock call nexus makes; *bedrockruntime.Client
// implements it.
type ConverseAPI interface {
	Converse(ctx context.Context, in *bedrockruntime.ConverseInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error)
}

var _ ConverseAPI = (*bedrockruntime.Client)(nil)

// Request is one single-turn question.
type Request struct {
	ModelID     string
	System      string
	Prompt      string
	MaxTokens   int32
	Temperature float32
}

// Input builds the Converse request.
func Input(r Request) *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{
		ModelId: aws.String(r.ModelID),
		System:  []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: r.System}},
		Messages: []types.Message{{
			Role:    types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: r.Prompt}},
		}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(r.MaxTokens), Temperature: aws.Float32(r.Temperature)},
	}
}

// Text asks the model and returns its answer, trimmed. An answer cut off by
// the token limit is cut back to its last whole sentence, since half a
// sentence of justification reads as an error.
func Text(ctx context.Context, api ConverseAPI, r Request) (string, error) {
	out, err := api.Converse(ctx, Input(r))
	if err != nil {
		return "", Explain(err, r.ModelID, region(api))
	}
	msg, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		return "", fmt.Errorf("Bedrock model %s returned no message", r.ModelID)
	}
	var b strings.Builder
	for _, c := range msg.Value.Content {
		if t, ok := c.(*types.ContentBlockMemberText); ok {
			b.WriteString(t.Value)
		}
	}
	text := strings.TrimSpace(b.String())
	switch out.StopReason {
	case types.StopReasonGuardrailIntervened, types.StopReasonContentFiltered:
		return "", fmt.Errorf("Bedrock model %s withheld its answer (%s)", r.ModelID, out.StopReason)
	case types.StopReasonMaxTokens:
		if i := strings.LastIndexAny(text, ".!?"); i > 0 {
			text = text[:i+1]
		}
	}
	if text == "" {
		return "", fmt.Errorf("Bedrock model %s returned an empty answer (stop reason %s)", r.ModelID, out.StopReason)
	}
	return text, nil
}

// Explain turns a Converse error into one that says what to do. Throttling
// reaches here only after the SDK's retryer gave up.
func Explain(err error, modelID, region string) error {
	in := ""
	if region != "" {
		in = " in " + region
	}
	var (
		denied   *types.AccessDeniedException
		invalid  *types.ValidationException
		notFound *types.ResourceNotFoundException
		throttle *types.ThrottlingException
		quota    *types.ServiceQuotaExceededException
		notReady *types.ModelNotReadyException
		timeout  *types.ModelTimeoutException
	)
	switch {
	case errors.As(err, &denied):
		return fmt.Errorf("Bedrock denied access to model %s%s: model access is not enabled for it in this region (enable it under Model access in the Bedrock console), or your role lacks bedrock:InvokeModel: %w", modelID, in, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("Bedrock rejected the request for model %s%s; check the model id (a model such as anthropic.claude-3-5-haiku-20241022-v1:0, or an inference profile such as us.anthropic.claude-3-5-haiku-20241022-v1:0 where the model needs one): %w", modelID, in, err)
	case errors.As(err, &notFound):
		return fmt.Errorf("Bedrock has no model %s%s; check the model id and region: %w", modelID, in, err)
	case errors.As(err, &throttle), errors.As(err, &quota):
		return fmt.Errorf("Bedrock kept throttling model %s%s after retries; lower the concurrency or request a higher quota: %w", modelID, in, err)
	case errors.As(err, &notReady), errors.As(err, &timeout):
		return fmt.Errorf("Bedrock model %s%s is not answering now; try again shortly: %w", modelID, in, err)
	}
	return fmt.Errorf("Bedrock Converse with model %s%s: %w", modelID, in, err)
}

// region finds the client's region for messages, when the client says.
func region(api ConverseAPI) string {
	if c, ok := api.(interface{ Options() bedrockruntime.Options }); ok {
		return c.Options().Region
	}
	return ""
}
