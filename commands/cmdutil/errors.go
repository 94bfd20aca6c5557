// Package cmdutil is the plumbing every nexus command gets: the Factory that
// hands out IO streams, configuration, printers and lazily built clients, and
// the typed errors that become exit codes in one place.
package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// Exit codes, as ARCHITECTURE.md fixes them.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitProblems    = 3
	ExitAuth        = 4
	ExitNotFound    = 5
	ExitInterrupted = 130
)

// FlagError is a usage mistake: a bad flag, argument or key.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf builds a FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// NotFoundError says a named thing does not exist.
type NotFoundError struct {
	What string // "table", "job", "queue"
	Name string
	Hint string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("%s %q not found", e.What, e.Name)
	if e.Hint != "" {
		msg += "\n" + e.Hint
	}
	return msg
}

// ProblemsError means the command worked and found trouble (exit 3). Its
// message has usually been printed already as part of the report.
type ProblemsError struct{ Msg string }

func (e *ProblemsError) Error() string { return e.Msg }

// AuthError wraps a failure to authenticate or to be authorised.
type AuthError struct{ Err error }

func (e *AuthError) Error() string { return e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// SilentError exits 1 without printing anything more: the command already
// said what went wrong.
var SilentError = errors.New("SilentError")

// CancelError is returned when the user declines a prompt or interrupts.
var CancelError = errors.New("cancelled")

// The AWS error codes that mean "who you are" rather than "what you asked".
var authCodes = map[string]bool{
	"AccessDenied": true, "AccessDeniedException": true, "UnauthorizedOperation": true,
	"UnrecognizedClientException": true, "InvalidClientTokenId": true, "ExpiredToken": true,
	"ExpiredTokenException": true, "InvalidSignatureException": true, "SignatureDoesNotMatch": true,
	"MissingAuthenticationToken": true, "MissingAuthenticationTokenException": true,
	"IncompleteSignature": true, "AuthFailure": true, "RequestExpired": true,
	"KMS.AccessDeniedException": true, "NotAuthorized": true,
}

var notFoundCodes = map[string]bool{
	"ResourceNotFoundException": true, "AWS.SimpleQueueService.NonExistentQueue": true,
	"QueueDoesNotExist": true, "ExecutionDoesNotExist": true, "StateMachineDoesNotExist": true,
	"NotFoundException": true,
}

// ExitCode maps any error to the process exit code. It is the only place
// that does.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var (
		flagErr     *FlagError
		notFound    *NotFoundError
		problems    *ProblemsError
		authErr     *AuthError
		apiErr      smithy.APIError
		credentials interface{ CredentialsError() }
		httpErr     interface{ HTTPStatus() int }
	)
	switch {
	case errors.Is(err, CancelError), errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &flagErr):
		return ExitUsage
	case errors.As(err, &problems):
		return ExitProblems
	case errors.As(err, &authErr), errors.As(err, &credentials):
		return ExitAuth
	case errors.As(err, &notFound):
		return ExitNotFound
	case errors.As(err, &httpErr):
		switch code := httpErr.HTTPStatus(); {
		case code == 400 || code == 422:
			return ExitUsage
		case code == 401 || code == 403:
			return ExitAuth
		case code == 404:
			return ExitNotFound
		}
	case errors.As(err, &apiErr):
		if authCodes[apiErr.ErrorCode()] {
			return ExitAuth
		}
		if notFoundCodes[apiErr.ErrorCode()] {
			return ExitNotFound
		}
	}
	if isMissingCredentials(err) {
		return ExitAuth
	}
	return ExitError
}

// isMissingCredentials recognises the SDK's credential-chain failures, which
// are plain errors rather than API errors.
func isMissingCredentials(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "failed to retrieve credentials") ||
		strings.Contains(msg, "no EC2 IMDS role found") ||
		strings.Contains(msg, "token has expired") ||
		strings.Contains(msg, "the SSO session has expired")
}

// Describe turns an error into the message shown to the user: what went
// wrong and what to do next, never a stack trace or a secret.
func Describe(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		switch {
		case authCodes[code]:
			return fmt.Sprintf("%s\nCheck your credentials: `aws sts get-caller-identity --profile <profile>`, or `aws sso login` if the session expired.", err)
		case code == "ThrottlingException" || code == "ProvisionedThroughputExceededException" ||
			code == "RequestLimitExceeded" || code == "AWS.SimpleQueueService.RequestThrottled":
			return fmt.Sprintf("%s\nAWS is throttling these calls even after retries; try again shortly or lower --concurrency.", err)
		}
	}
	if isMissingCredentials(err) {
		return fmt.Sprintf("%s\nNo usable AWS credentials: set AWS_PROFILE or --profile, run `aws sso login`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("%s\nThe operation ran past --timeout; raise it or narrow the request.", err)
	}
	return err.Error()
}
