package apiclient

import (
	"context"
	"fmt"
	"time"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/pipeline/api/auth"
	"github.com/nexus-compliance/nexus/pipeline/api/client"
)

// Connect builds the client of the API at baseURL: credentials chosen by
// auth.FromEnvironment from the resolved environment, a User-Agent with
// the build's version, and with --debug one line per call and per retry
// on stderr.
func Connect(_ context.Context, f *cmdutil.Factory, baseURL string) (*client.Client, error) {
	env, err := f.Environment()
	if err != nil {
		return nil, err
	}
	e := *env
	e.APIURL = baseURL // auth decides SigV4 by the URL actually called
	authz, err := auth.FromEnvironment(&e, f.Getenv, f.AWSConfig)
	if err != nil {
		return nil, &cmdutil.FlagError{Err: err}
	}
	opts := client.Options{Authorizer: authz, UserAgent: "nexus/" + f.Build.Version}
	if f.Flags.Debug {
		w := f.IOStreams.ErrOut
		opts.Debug = w
		opts.OnRetry = func(attempt int, wait time.Duration, err error) {
			fmt.Fprintf(w, "debug: retry %d in %s: %v\n", attempt, wait.Round(time.Millisecond), err)
		}
	}
	c, err := client.New(baseURL, opts)
	if err != nil {
		return nil, cmdutil.FlagErrorf("invalid API URL %q: %v", baseURL, err)
	}
	return c, nil
}
