package settings

import (
	"fmt"
	"sort"
	"strings"
)

// Field is one settable key of an environment.
type Field struct {
	Key    string   // as written in the file and to `nexus config set`
	Help   string   // one line for `nexus config set --help`
	Secret bool     // never printed
	Vars   []string // the seed's environment variables that override it, lowest precedence first
	ref    func(*Environment) *string
}

// NexusVar is the NEXUS_-prefixed variable that overrides the field.
func (f Field) NexusVar() string {
	return "NEXUS_" + strings.ToUpper(strings.ReplaceAll(f.Key, ".", "_"))
}

// Fields lists every string setting of an environment. Log groups are set as
// log_groups.<component>.
var Fields = []Field{
	{Key: "region", Help: "AWS region of the deployment", ref: func(e *Environment) *string { return &e.Region }},
	{Key: "profile", Help: "AWS shared-config profile to use", ref: func(e *Environment) *string { return &e.Profile }},
	{Key: "endpoint_url", Help: "endpoint for every AWS service (local emulators)", ref: func(e *Environment) *string { return &e.EndpointURL }},
	{Key: "api_url", Help: "base URL of the Nexus API Gateway stage", ref: func(e *Environment) *string { return &e.APIURL }},
	{Key: "api_token", Help: "bearer token for the Nexus API", Secret: true, ref: func(e *Environment) *string { return &e.APIToken }},
	{Key: "token_command", Help: "command printing a bearer token, run on demand", ref: func(e *Environment) *string { return &e.TokenCommand }},
	{Key: "tables.jobs", Help: "MappingJobs table", Vars: []string{"JOB_TABLE_NAME"}, ref: func(e *Environment) *string { return &e.Tables.Jobs }},
	{Key: "tables.mappings", Help: "ControlMappings table", Vars: []string{"MAPPINGS_TABLE_NAME"}, ref: func(e *Environment) *string { return &e.Tables.Mappings }},
	{Key: "tables.enrichment", Help: "Enrichment table", Vars: []string{"ENRICHMENT_TABLE_NAME"}, ref: func(e *Environment) *string { return &e.Tables.Enrichment }},
	{Key: "tables.embedding_cache", Help: "EmbeddingCache table", Vars: []string{"EMBEDDING_CACHE_TABLE_NAME"}, ref: func(e *Environment) *string { return &e.Tables.EmbeddingCache }},
	{Key: "tables.frameworks", Help: "Frameworks table", Vars: []string{"FRAMEWORKS_TABLE_NAME"}, ref: func(e *Environment) *string { return &e.Tables.Frameworks }},
	{Key: "tables.controls", Help: "FrameworkControls table", Vars: []string{"CONTROLS_TABLE_NAME"}, ref: func(e *Environment) *string { return &e.Tables.Controls }},
	{Key: "queue_name", Help: "name of MappingRequestQueue (used when queue_url is empty)", ref: func(e *Environment) *string { return &e.QueueName }},
	{Key: "queue_url", Help: "URL of MappingRequestQueue", Vars: []string{"MAIN_QUEUE_URL", "MAPPING_REQUEST_QUEUE_URL"}, ref: func(e *Environment) *string { return &e.QueueURL }},
	{Key: "dlq_name", Help: "name of MappingRequestDLQ (used when dlq_url is empty)", ref: func(e *Environment) *string { return &e.DLQName }},
	{Key: "dlq_url", Help: "URL of MappingRequestDLQ", Vars: []string{"DLQ_URL"}, ref: func(e *Environment) *string { return &e.DLQURL }},
	{Key: "state_machine_arn", Help: "ARN of the mapping state machine", Vars: []string{"STATE_MACHINE_ARN"}, ref: func(e *Environment) *string { return &e.StateMachineARN }},
	{Key: "science_url", Help: "NexusECSService base URL", Vars: []string{"SCIENCE_API_ENDPOINT"}, ref: func(e *Environment) *string { return &e.ScienceURL }},
	{Key: "strands_url", Help: "NexusStrandsAgentService base URL", Vars: []string{"STRANDS_SERVICE_ENDPOINT"}, ref: func(e *Environment) *string { return &e.StrandsURL }},
	{Key: "ecs_cluster", Help: "ECS cluster running the science and Strands services", ref: func(e *Environment) *string { return &e.ECSCluster }},
	{Key: "science_service", Help: "ECS service name of NexusECSService", ref: func(e *Environment) *string { return &e.ScienceService }},
	{Key: "strands_service", Help: "ECS service name of NexusStrandsAgentService", ref: func(e *Environment) *string { return &e.StrandsService }},
	{Key: "model_version", Help: "embedding model version (EmbeddingCache sort key)", Vars: []string{"MODEL_VERSION"}, ref: func(e *Environment) *string { return &e.ModelVersion }},
}

// LookupField finds a settable key, including log_groups.<component>.
func LookupField(key string) (Field, error) {
	key = strings.ToLower(strings.TrimSpace(key))
	for _, f := range Fields {
		if f.Key == key {
			return f, nil
		}
	}
	if comp, ok := strings.CutPrefix(key, "log_groups."); ok {
		for _, c := range Components {
			if c.Key == comp {
				return Field{Key: key, Help: "log group of " + c.Name, ref: func(e *Environment) *string {
					v := e.LogGroups[comp]
					return &v
				}}, nil
			}
		}
	}
	return Field{}, fmt.Errorf("unknown setting %q; settable keys: %s", key, strings.Join(Keys(), ", "))
}

// Keys lists every settable key, for errors and completion.
func Keys() []string {
	keys := make([]string, 0, len(Fields)+len(Components))
	for _, f := range Fields {
		keys = append(keys, f.Key)
	}
	for _, c := range Components {
		keys = append(keys, "log_groups."+c.Key)
	}
	sort.Strings(keys)
	return keys
}

// Redacted returns a copy of e safe to print: secrets show only that they
// are set.
func (e *Environment) Redacted() *Environment {
	c := *e
	c.LogGroups = make(map[string]string, len(e.LogGroups))
	for k, v := range e.LogGroups {
		c.LogGroups[k] = v
	}
	for _, f := range Fields {
		if f.Secret && *f.ref(&c) != "" {
			*f.ref(&c) = "(set, hidden)"
		}
	}
	return &c
}
