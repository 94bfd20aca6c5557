// Package awsconfig builds the AWS SDK configuration every nexus client
// shares: the standard credential chain (env, profiles, SSO, IMDS), region,
// an optional endpoint for emulators, adaptive retries, and a --debug log that
// never records credentials or bodies.
package awsconfig

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Options are the settings nexus passes to the SDK.
type Options struct {
	Region  string
	Profile string
	// EndpointURL, when set, sends every service to one endpoint (an
	// emulator). When empty the SDK's own AWS_ENDPOINT_URL and
	// AWS_ENDPOINT_URL_<SERVICE> variables and profile settings apply.
	EndpointURL string
	// MaxAttempts bounds retries; 0 keeps the adaptive retryer's default.
	MaxAttempts int
	// Debug, when non-nil, receives one line per request attempt.
	Debug io.Writer
}

// Load builds the SDK configuration.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	loaders := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewAdaptiveMode(func(ao *retry.AdaptiveModeOptions) {
				ao.StandardOptions = append(ao.StandardOptions, func(so *retry.StandardOptions) {
					if o.MaxAttempts > 0 {
						so.MaxAttempts = o.MaxAttempts
					}
				})
			})
		}),
	}
	if o.Region != "" {
		loaders = append(loaders, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		loaders = append(loaders, config.WithSharedConfigProfile(o.Profile))
	}
	if o.EndpointURL != "" {
		loaders = append(loaders, config.WithBaseEndpoint(o.EndpointURL))
	}
	if o.Debug != nil {
		w := &lockedWriter{w: o.Debug}
		loaders = append(loaders,
			config.WithLogger(logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
				fmt.Fprintf(w, "[aws] %s\n", fmt.Sprintf(format, v...))
			})),
			// Retries only: request and response logging would dump headers
			// that carry the signature and session token.
			config.WithClientLogMode(aws.LogRetries),
			config.WithAPIOptions([]func(*middleware.Stack) error{debugMiddleware(w)}),
		)
	}
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		// Emulators ignore the region but the SDK insists on one.
		if o.EndpointURL != "" {
			cfg.Region = "us-east-1"
		} else {
			return aws.Config{}, fmt.Errorf("no AWS region: pass --region, set AWS_REGION, or set region in the environment (`nexus config set region us-east-1`)")
		}
	}
	return cfg, nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// debugMiddleware logs service, operation, method, host, path, status,
// duration and request id of every attempt. It deliberately logs no headers,
// query strings or bodies: those may carry credentials or job payloads.
func debugMiddleware(w io.Writer) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("NexusDebugLog",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleDeserialize(ctx, in)
				service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				target := ""
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					target = req.Method + " " + req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
				}
				status := "-"
				if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
					status = fmt.Sprint(resp.StatusCode)
				}
				reqID, _ := awsmiddleware.GetRequestIDMetadata(md)
				line := fmt.Sprintf("[aws] %s.%s %s -> %s in %s", service, op, target, status, time.Since(start).Round(time.Millisecond))
				if reqID != "" {
					line += " request-id=" + reqID
				}
				if err != nil {
					line += " error=" + firstLine(err.Error())
				}
				fmt.Fprintln(w, line)
				return out, md, err
			}), middleware.After)
	}
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
