package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"plain", errors.New("boom"), ExitError},
		{"flag", FlagErrorf("bad --limit"), ExitUsage},
		{"wrapped flag", fmt.Errorf("ctx: %w", FlagErrorf("bad")), ExitUsage},
		{"problems", &ProblemsError{Msg: "2 stuck jobs"}, ExitProblems},
		{"not found", &NotFoundError{What: "job", Name: "x"}, ExitNotFound},
		{"cancel", CancelError, ExitInterrupted},
		{"context cancelled", fmt.Errorf("receive: %w", context.Canceled), ExitInterrupted},
		{"aws access denied", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}, ExitAuth},
		{"aws expired token", &smithy.GenericAPIError{Code: "ExpiredTokenException"}, ExitAuth},
		{"aws missing table", &smithy.GenericAPIError{Code: "ResourceNotFoundException"}, ExitNotFound},
		{"aws missing queue", &smithy.GenericAPIError{Code: "AWS.SimpleQueueService.NonExistentQueue"}, ExitNotFound},
		{"aws throttled", &smithy.GenericAPIError{Code: "ThrottlingException"}, ExitError},
		{"no credentials", errors.New("operation error DynamoDB: ListTables, failed to retrieve credentials"), ExitAuth},
		{"auth wrapper", &AuthError{Err: errors.New("token rejected")}, ExitAuth},
		{"http 400", httpStatus(400), ExitUsage},
		{"http 403", httpStatus(403), ExitAuth},
		{"http 404", fmt.Errorf("get: %w", httpStatus(404)), ExitNotFound},
		{"http 503", httpStatus(503), ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Fatalf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestDescribeSaysWhatToDo(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&smithy.GenericAPIError{Code: "ExpiredTokenException", Message: "expired"}, "aws sso login"},
		{&smithy.GenericAPIError{Code: "ThrottlingException"}, "throttling"},
		{errors.New("failed to retrieve credentials"), "AWS_PROFILE"},
		{fmt.Errorf("scan: %w", context.DeadlineExceeded), "--timeout"},
	} {
		if got := Describe(tt.err); !strings.Contains(got, tt.want) {
			t.Errorf("Describe(%v) = %q, want mention of %q", tt.err, got, tt.want)
		}
	}
}

type httpStatus int

func (h httpStatus) Error() string   { return fmt.Sprintf("HTTP %d", int(h)) }
func (h httpStatus) HTTPStatus() int { return int(h) }
