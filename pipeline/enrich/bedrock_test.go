package enrich_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/nexus-compliance/nexus/pipeline/enrich"
)

// fakeBedrockConverse is a hand-written test double of the Converse call
// (no Bedrock runs here): it records the request and returns a canned
// answer or error.
type fakeBedrockConverse struct {
	in     *bedrockruntime.ConverseInput
	answer string
	err    error
}

func (f *fakeBedrockConverse) Converse(_ context.Context, in *bedrockruntime.ConverseInput, _ ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error) {
	f.in = in
	if f.err != nil {
		return nil, f.err
	}
	return &bedrockruntime.ConverseOutput{
		Output: &types.ConverseOutputMemberMessage{Value: types.Message{
			Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: f.answer}},
		}},
		StopReason: types.StopReasonEndTurn,
	}, nil
}

func TestBedrockEnrichRequest(t *testing.T) {
	t.Parallel()
	const model = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
	f := &fakeBedrockConverse{answer: "The control requires a documented access control policy, implemented with IAM and AWS Organizations SCPs.\n"}
	e, err := enrich.NewBedrock(f, model).Enrich(context.Background(), ac1)
	if err != nil {
		t.Fatal(err)
	}
	if e.ControlKey != ac1.Key || e.OriginalText != ac1.Description || e.Version != "v1" || e.Data["modelId"] != model ||
		e.EnrichedText != "The control requires a documented access control policy, implemented with IAM and AWS Organizations SCPs." {
		t.Fatalf("enrichment %+v", e)
	}
	if aws.ToString(f.in.ModelId) != model || aws.ToInt32(f.in.InferenceConfig.MaxTokens) != 700 || aws.ToFloat32(f.in.InferenceConfig.Temperature) != 0.2 {
		t.Fatalf("request model %s config %+v", aws.ToString(f.in.ModelId), f.in.InferenceConfig)
	}
	prompt := f.in.Messages[0].Content[0].(*types.ContentBlockMemberText).Value
	for _, want := range []string{`framework="NIST-SP-800-53" version="R5" id="AC-1"`, "Title: " + ac1.Title, "Statement: " + ac1.Description} {
		if !strings.Contains(prompt, want) {
			t.Errorf("prompt lacks %q:\n%s", want, prompt)
		}
	}

	f = &fakeBedrockConverse{err: &types.AccessDeniedException{Message: aws.String("denied")}}
	if _, err := enrich.NewBedrock(f, model).Enrich(context.Background(), ac1); err == nil || !strings.Contains(err.Error(), "enriching NIST-SP-800-53#R5#AC-1: Bedrock denied access to model "+model) {
		t.Fatalf("denied: %v", err)
	}
}
