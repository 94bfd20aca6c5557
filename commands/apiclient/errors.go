package apiclient

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/pipeline/api/client"
)

// Err turns the API client's errors into the CLI's typed errors: 400 and
// 422 are usage errors (exit 2), 401 and 403 auth errors (4), 404 a
// not-found error (5) that shows the API's suggestions.
func Err(err error) error {
	var e *client.Error
	if err == nil || !errors.As(err, &e) {
		return err
	}
	switch {
	case e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity:
		return &cmdutil.FlagError{Err: err}
	case client.IsAuth(err):
		return &cmdutil.AuthError{Err: err}
	case client.IsNotFound(err):
		what := strings.ToLower(e.Body.Resource)
		if what == "" {
			what = "resource"
		}
		name := e.Body.Identifier
		if name == "" {
			name = e.Path
		}
		hint := ""
		if e.Body.Identifier == "" || !strings.Contains(e.Body.Error, e.Body.Identifier) {
			hint = e.Body.Error // says more than "<what> <name> not found"
		}
		if len(e.Body.Suggestions) > 0 {
			hint = "Did you mean: " + strings.Join(e.Body.Suggestions, ", ")
		}
		return &cmdutil.NotFoundError{What: what, Name: name, Hint: hint}
	}
	return err
}

// Throttled says whether err is the API's 429 (which the client has
// already retried, waiting out Retry-After).
func Throttled(err error) (bool, time.Duration) {
	var e *client.Error
	return errors.As(err, &e) && e.StatusCode == http.StatusTooManyRequests, 0
}
