// Package apiclient is how commands reach the Nexus API: the API URL from
// --api-url, NEXUS_API_URL or the environment's api_url; a client of
// pipeline/api/client with the environment's auth; the errors of the API
// as the CLI's typed errors; polling a job to its end; and a back-off
// that all workers of a batch share when the API answers 429.
package apiclient

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/pipeline/api"
)

// EnvAPIURL names the variable that gives the API URL.
const EnvAPIURL = "NEXUS_API_URL"

// Source is how one command reaches the API. Commands keep one in their
// options; tests replace its functions.
type Source struct {
	// Flag is --api-url.
	Flag string
	// URL is the API URL in force, "" when none is known.
	URL func() (string, error)
	// Mapping builds the mapping API client; it is a usage error when no
	// API URL is known.
	Mapping func(ctx context.Context) (api.MappingAPI, error)
}

// AddFlag adds --api-url to cmd.
func AddFlag(cmd *cobra.Command, s *Source) {
	cmd.Flags().StringVar(&s.Flag, "api-url", "", "base URL of the Nexus API (default: $"+EnvAPIURL+", else the environment's api_url)")
}

// ResolveURL is the API URL: flag, else NEXUS_API_URL, else the
// environment's api_url; "" when none is set. A broken configuration
// matters only when neither the flag nor the variable gives a URL.
func ResolveURL(f *cmdutil.Factory, flag string) (string, error) {
	if u := strings.TrimSpace(flag); u != "" {
		return u, nil
	}
	if u := strings.TrimSpace(f.Getenv(EnvAPIURL)); u != "" {
		return u, nil
	}
	env, err := f.Environment()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(env.APIURL), nil
}

// NoURLError is the usage error of a command that needs the API when no
// URL is known.
func NoURLError(what string) error {
	return cmdutil.FlagErrorf("%s needs the Nexus API and no API URL is set: pass --api-url URL, export %s=URL, or `nexus config set api_url URL` (a local API: `nexus serve`)", what, EnvAPIURL)
}

// Known says whether an API URL is known, reading a broken configuration
// as none (for the commands that fall back to a store).
func (s *Source) Known() bool {
	if s == nil || s.URL == nil {
		return false
	}
	u, err := s.URL()
	return err == nil && u != ""
}

// NewSource is the Source of a command run by the Factory: the URL from
// its --api-url, NEXUS_API_URL or the environment, and a client built
// with the environment's auth.
func NewSource(f *cmdutil.Factory) *Source {
	s := &Source{}
	s.URL = func() (string, error) { return ResolveURL(f, s.Flag) }
	s.Mapping = func(ctx context.Context) (api.MappingAPI, error) {
		u, err := s.URL()
		if err != nil {
			return nil, err
		}
		if u == "" {
			return nil, NoURLError("this command")
		}
		c, err := Connect(ctx, f, u)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return s
}
