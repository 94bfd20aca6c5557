// Package settings is nexus's configuration: a YAML file of named
// environments (dev, staging, prod, local…), each naming where one Nexus
// deployment lives, resolved together with the environment variables an
// operator may paste from a Lambda's configuration.
package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/viper"

	"github.com/nexus-compliance/nexus/aws/dynamo"
)

// DefaultEnvironment is the name used when no environment is configured.
const DefaultEnvironment = "default"

// Tables names the six Nexus DynamoDB tables. The type belongs to the
// DynamoDB layer, which must not import commands.
type Tables = dynamo.Tables

// Environment is one Nexus deployment.
type Environment struct {
	Name            string            `mapstructure:"-" json:"name" yaml:"name"`
	Region          string            `mapstructure:"region" json:"region,omitempty" yaml:"region,omitempty"`
	Profile         string            `mapstructure:"profile" json:"profile,omitempty" yaml:"profile,omitempty"`
	EndpointURL     string            `mapstructure:"endpoint_url" json:"endpoint_url,omitempty" yaml:"endpoint_url,omitempty"`
	APIURL          string            `mapstructure:"api_url" json:"api_url,omitempty" yaml:"api_url,omitempty"`
	APIToken        string            `mapstructure:"api_token" json:"api_token,omitempty" yaml:"api_token,omitempty"`
	TokenCommand    string            `mapstructure:"token_command" json:"token_command,omitempty" yaml:"token_command,omitempty"`
	Tables          Tables            `mapstructure:"tables" json:"tables" yaml:"tables"`
	QueueName       string            `mapstructure:"queue_name" json:"queue_name" yaml:"queue_name"`
	QueueURL        string            `mapstructure:"queue_url" json:"queue_url,omitempty" yaml:"queue_url,omitempty"`
	DLQName         string            `mapstructure:"dlq_name" json:"dlq_name" yaml:"dlq_name"`
	DLQURL          string            `mapstructure:"dlq_url" json:"dlq_url,omitempty" yaml:"dlq_url,omitempty"`
	StateMachineARN string            `mapstructure:"state_machine_arn" json:"state_machine_arn,omitempty" yaml:"state_machine_arn,omitempty"`
	ScienceURL      string            `mapstructure:"science_url" json:"science_url,omitempty" yaml:"science_url,omitempty"`
	StrandsURL      string            `mapstructure:"strands_url" json:"strands_url,omitempty" yaml:"strands_url,omitempty"`
	ModelVersion    string            `mapstructure:"model_version" json:"model_version" yaml:"model_version"`
	ECSCluster      string            `mapstructure:"ecs_cluster" json:"ecs_cluster" yaml:"ecs_cluster"`
	ScienceService  string            `mapstructure:"science_service" json:"science_service" yaml:"science_service"`
	StrandsService  string            `mapstructure:"strands_service" json:"strands_service" yaml:"strands_service"`
	LogGroups       map[string]string `mapstructure:"log_groups" json:"log_groups" yaml:"log_groups"`
}

// Components are the deployed parts of Nexus that write logs, in the order
// the request flows through them. The keys are those of log_groups.
var Components = []struct{ Key, Name, DefaultGroup string }{
	{"async_api", "NexusAsyncAPIHandlerLambda", "/aws/lambda/NexusAsyncAPIHandlerLambda"},
	{"sqs_trigger", "NexusSqsTriggerLambda", "/aws/lambda/NexusSqsTriggerLambda"},
	{"dlq_redrive", "NexusDlqRedriveLambda", "/aws/lambda/NexusDlqRedriveLambda"},
	{"status_api", "NexusStatusAPIHandlerLambda", "/aws/lambda/NexusStatusAPIHandlerLambda"},
	{"science_orchestrator", "NexusScienceOrchestratorLambda", "/aws/lambda/NexusScienceOrchestratorLambda"},
	{"enrichment_agent", "NexusEnrichmentAgentLambda", "/aws/lambda/NexusEnrichmentAgentLambda"},
	{"reasoning_agent", "NexusReasoningAgentLambda", "/aws/lambda/NexusReasoningAgentLambda"},
	{"job_updater", "NexusJobUpdaterLambda", "/aws/lambda/NexusJobUpdaterLambda"},
	{"mapping_api", "NexusMappingAPIHandlerLambda", "/aws/lambda/NexusMappingAPIHandlerLambda"},
	{"ecs_service", "NexusECSService", "/ecs/NexusECSService"},
	{"strands_service", "NexusStrandsAgentService", "/ecs/NexusStrandsAgentService"},
	{"state_machine", "NexusMappingWorkflow", "/aws/vendedlogs/states/NexusMappingWorkflow"},
}

// Defaults returns an environment holding the seed's names.
func Defaults(name string) *Environment {
	e := &Environment{
		Name: name,
		Tables: Tables{
			Jobs:           "MappingJobs",
			Mappings:       "ControlMappings",
			Enrichment:     "Enrichment",
			EmbeddingCache: "EmbeddingCache",
			Frameworks:     "Frameworks",
			Controls:       "FrameworkControls",
		},
		QueueName:    "MappingRequestQueue",
		DLQName:      "MappingRequestDLQ",
		ModelVersion: "v1",
		// The ECS names the architecture gives its two GPU/agent services.
		ECSCluster:     "nexus",
		ScienceService: "NexusECSService",
		StrandsService: "NexusStrandsAgentService",
		LogGroups:      map[string]string{},
	}
	for _, c := range Components {
		e.LogGroups[c.Key] = c.DefaultGroup
	}
	return e
}

// TableNames lists the six table names in the seed's order.
func (e *Environment) TableNames() []string { return e.Tables.Names() }

// File is the whole configuration file.
type File struct {
	CurrentEnvironment string                  `mapstructure:"current_environment" json:"current_environment,omitempty" yaml:"current_environment,omitempty"`
	Environments       map[string]*Environment `mapstructure:"environments" json:"environments" yaml:"environments"`

	path string
	v    *viper.Viper
}

// DefaultPath is $XDG_CONFIG_HOME/nexus/config.yaml, falling back to
// ~/.config/nexus/config.yaml on every platform (as gh and kubectl users
// expect), unless NEXUS_CONFIG names another file.
func DefaultPath(getenv func(string) string) string {
	if p := getenv("NEXUS_CONFIG"); p != "" {
		return p
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "nexus", "config.yaml")
}

// Load reads the configuration file at path. A missing file is an empty
// configuration, not an error: nexus works with the seed's defaults.
func Load(path string) (*File, error) {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	f := &File{path: path, v: v, Environments: map[string]*Environment{}}
	if err := v.ReadInConfig(); err != nil {
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) && errors.Is(pathErr.Err, fs.ErrNotExist) {
			return f, nil
		}
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	if err := v.Unmarshal(f); err != nil {
		return nil, fmt.Errorf("config %s is not valid: %w", path, err)
	}
	if f.Environments == nil {
		f.Environments = map[string]*Environment{}
	}
	for name, e := range f.Environments {
		if e == nil {
			e = &Environment{}
			f.Environments[name] = e
		}
		e.Name = name
	}
	return f, nil
}

// Path is where the file lives (whether or not it exists yet).
func (f *File) Path() string { return f.path }

// Names lists the configured environments, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Environments))
	for n := range f.Environments {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// UnknownEnvironmentError names an environment the file does not hold.
type UnknownEnvironmentError struct {
	Name      string
	Available []string
}

func (e *UnknownEnvironmentError) Error() string {
	if len(e.Available) == 0 {
		return fmt.Sprintf("environment %q is not configured (no environments yet: run `nexus config init --env %s`)", e.Name, e.Name)
	}
	return fmt.Sprintf("environment %q is not configured; available: %s", e.Name, strings.Join(e.Available, ", "))
}

// Resolve returns the environment to use: the one named (from --env), else
// NEXUS_ENV, else the file's current environment, else the defaults. File
// values fill in the defaults; the seed's variables and then NEXUS_*
// variables override them.
func (f *File) Resolve(name string, getenv func(string) string) (*Environment, error) {
	if name == "" {
		name = getenv("NEXUS_ENV")
	}
	if name == "" {
		name = f.CurrentEnvironment
	}
	env := Defaults(DefaultEnvironment)
	if name != "" {
		configured, ok := f.Environments[name]
		if !ok && name != DefaultEnvironment {
			return nil, &UnknownEnvironmentError{Name: name, Available: f.Names()}
		}
		env.Name = name
		if ok {
			overlay(env, configured)
		}
	}
	applyVariables(env, getenv)
	return env, nil
}

// overlay copies every value set in src over dst.
func overlay(dst, src *Environment) {
	for _, fl := range Fields {
		if v := *fl.ref(src); v != "" {
			*fl.ref(dst) = v
		}
	}
	for k, v := range src.LogGroups {
		if v != "" {
			dst.LogGroups[k] = v
		}
	}
}

func applyVariables(env *Environment, getenv func(string) string) {
	for _, fl := range Fields {
		for _, name := range fl.Vars {
			if v := getenv(name); v != "" {
				*fl.ref(env) = v
			}
		}
		if v := getenv(fl.NexusVar()); v != "" {
			*fl.ref(env) = v
		}
	}
	for _, c := range Components {
		if v := getenv("NEXUS_LOG_GROUP_" + strings.ToUpper(c.Key)); v != "" {
			env.LogGroups[c.Key] = v
		}
	}
}
