package reason_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/nexus-compliance/nexus/pipeline/reason"
)

// fakeBedrockConverse is a hand-written test double of the Converse call
// (no Bedrock runs here): it records the request and returns a canned
// answer or error. It reports a region as *bedrockruntime.Client does.
type fakeBedrockConverse struct {
	in     *bedrockruntime.ConverseInput
	answer string
	stop   types.StopReason
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
		StopReason: f.stop,
	}, nil
}

func (f *fakeBedrockConverse) Options() bedrockruntime.Options {
	return bedrockruntime.Options{Region: "eu-west-1"}
}

const modelID = "anthropic.claude-3-5-haiku-20241022-v1:0"

func TestBedrockReasonRequest(t *testing.T) {
	t.Parallel()
	f := &fakeBedrockConverse{answer: "  Both controls restrict who may change access policies. The target adds documentation.\n", stop: types.StopReasonEndTurn}
	c := candidate("AC-1")
	got, err := reason.NewBedrock(f, modelID).Reason(context.Background(), src, c)
	if err != nil || got != "Both controls restrict who may change access policies. The target adds documentation." {
		t.Fatalf("Reason = %q, %v", got, err)
	}
	if aws.ToString(f.in.ModelId) != modelID {
		t.Fatalf("model %q", aws.ToString(f.in.ModelId))
	}
	if ic := f.in.InferenceConfig; aws.ToInt32(ic.MaxTokens) != 400 || aws.ToFloat32(ic.Temperature) != 0.2 {
		t.Fatalf("inference config %+v", ic)
	}
	system := f.in.System[0].(*types.SystemContentBlockMemberText).Value
	prompt := f.in.Messages[0].Content[0].(*types.ContentBlockMemberText).Value
	for _, want := range []string{"2 to 4 sentences", "plain prose", "never instructions"} {
		if !strings.Contains(system, want) {
			t.Errorf("system prompt lacks %q", want)
		}
	}
	for _, want := range []string{src.Text, c.Target.Text(), `id="NIST-SP-800-53#R5#AC-1"`, `framework="NIST-SP-800-53"`, "similarity 0.85, rerank 0.92"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("prompt lacks %q:\n%s", want, prompt)
		}
	}
	if f.in.Messages[0].Role != types.ConversationRoleUser || len(f.in.Messages) != 1 {
		t.Fatalf("messages %+v", f.in.Messages)
	}

	// An answer cut off by the token limit ends at its last sentence.
	f = &fakeBedrockConverse{answer: "Both restrict access. The target also", stop: types.StopReasonMaxTokens}
	if got, _ := reason.NewBedrock(f, modelID).Reason(context.Background(), src, c); got != "Both restrict access." {
		t.Fatalf("cut answer %q", got)
	}
}

func TestBedrockReasonErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want string
	}{
		{&types.AccessDeniedException{Message: aws.String("You don't have access to the model")}, "model access is not enabled for it in this region"},
		{&types.ValidationException{Message: aws.String("The provided model identifier is invalid.")}, "check the model id"},
		{&types.ThrottlingException{Message: aws.String("Too many requests")}, "kept throttling model " + modelID + " in eu-west-1 after retries"},
		{&types.ResourceNotFoundException{Message: aws.String("no such model")}, "Bedrock has no model"},
	}
	for _, tc := range cases {
		_, err := reason.NewBedrock(&fakeBedrockConverse{err: tc.err}, modelID).Reason(context.Background(), src, candidate("AC-1"))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "eu-west-1") || !errors.Is(err, tc.err) {
			t.Errorf("%T: %v, want %q", tc.err, err, tc.want)
		}
	}
	f := &fakeBedrockConverse{answer: "", stop: types.StopReasonContentFiltered}
	if _, err := reason.NewBedrock(f, modelID).Reason(context.Background(), src, candidate("AC-1")); err == nil || !strings.Contains(err.Error(), "withheld its answer (content_filtered)") {
		t.Errorf("filtered: %v", err)
	}
}
