package cmdutil

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nexus-compliance/nexus/aws/awsconfig"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
)

// BuildInfo is stamped into the binary by ldflags.
type BuildInfo struct {
	Version string
	Commit  string
	Date    string
}

// GlobalFlags are the persistent flags of the root command. They live in a
// value owned by one Factory, never in package globals, so tests can run
// commands side by side with different settings.
type GlobalFlags struct {
	Env         string
	Profile     string
	Region      string
	EndpointURL string
	Output      string
	Config      string
	NoColor     bool
	Debug       bool
	Timeout     time.Duration
}

// Factory hands each command what it needs, built lazily and once.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Flags     *GlobalFlags
	Build     BuildInfo
	Getenv    func(string) string
	Now       func() time.Time

	once struct {
		file, env, aws sync.Once
	}
	file    *settings.File
	fileErr error
	env     *settings.Environment
	envErr  error
	awsCfg  aws.Config
	awsErr  error
}

// New returns the Factory of a real process.
func New(build BuildInfo) *Factory {
	return &Factory{
		IOStreams: iostreams.System(),
		Flags:     &GlobalFlags{Output: string(printer.FormatTable)},
		Build:     build,
		Getenv:    os.Getenv,
		Now:       time.Now,
	}
}

// ConfigFile loads the configuration file named by --config, NEXUS_CONFIG or
// the XDG default.
func (f *Factory) ConfigFile() (*settings.File, error) {
	f.once.file.Do(func() {
		path := f.Flags.Config
		if path == "" {
			path = settings.DefaultPath(f.Getenv)
		}
		f.file, f.fileErr = settings.Load(path)
	})
	return f.file, f.fileErr
}

// Environment is the resolved deployment this invocation talks to, with the
// --profile, --region and --endpoint-url flags applied last.
func (f *Factory) Environment() (*settings.Environment, error) {
	f.once.env.Do(func() {
		file, err := f.ConfigFile()
		if err != nil {
			f.envErr = err
			return
		}
		env, err := file.Resolve(f.Flags.Env, f.Getenv)
		if err != nil {
			f.envErr = &FlagError{Err: err}
			return
		}
		if f.Flags.Profile != "" {
			env.Profile = f.Flags.Profile
		}
		if f.Flags.Region != "" {
			env.Region = f.Flags.Region
		}
		if f.Flags.EndpointURL != "" {
			env.EndpointURL = f.Flags.EndpointURL
		}
		f.env = env
	})
	return f.env, f.envErr
}

// AWSConfig is the SDK configuration for the resolved environment.
func (f *Factory) AWSConfig(ctx context.Context) (aws.Config, error) {
	f.once.aws.Do(func() {
		env, err := f.Environment()
		if err != nil {
			f.awsErr = err
			return
		}
		opts := awsconfig.Options{Region: env.Region, Profile: env.Profile, EndpointURL: env.EndpointURL}
		if f.Flags.Debug {
			opts.Debug = f.IOStreams.ErrOut
		}
		f.awsCfg, f.awsErr = awsconfig.Load(ctx, opts)
	})
	return f.awsCfg, f.awsErr
}

// DynamoDB returns a DynamoDB client for the environment.
func (f *Factory) DynamoDB(ctx context.Context) (*dynamodb.Client, error) {
	cfg, err := f.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return dynamodb.NewFromConfig(cfg), nil
}

// SQS returns an SQS client for the environment.
func (f *Factory) SQS(ctx context.Context) (*sqs.Client, error) {
	cfg, err := f.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(cfg), nil
}

// Printer returns the printer for -o.
func (f *Factory) Printer() (*printer.Printer, error) {
	format, err := printer.ParseFormat(f.Flags.Output)
	if err != nil {
		return nil, &FlagError{Err: err}
	}
	return printer.New(f.IOStreams, format), nil
}

// Context returns the context a command runs under, bounded by --timeout
// when one is given.
func (f *Factory) Context(parent context.Context) (context.Context, context.CancelFunc) {
	if f.Flags.Timeout > 0 {
		return context.WithTimeout(parent, f.Flags.Timeout)
	}
	return context.WithCancel(parent)
}
