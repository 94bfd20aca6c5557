package get

import (
	"context"
	"time"

	"github.com/nexus-compliance/nexus/aws/sfnx"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
)

// ExecutionLookup finds the Step Functions execution of a job and why it
// failed; nil, nil, nil when there is none.
type ExecutionLookup func(ctx context.Context, jobID string) (*sfnx.Execution, *sfnx.Failure, error)

// executionLookBack bounds the scan for an execution whose name is not the
// job id: jobs live seven days (their TTL).
const executionLookBack = 7 * 24 * time.Hour

// NewExecutionLookup returns the lookup of the environment's state machine,
// or nil when no state machine is configured (job get then shows the job
// alone).
func NewExecutionLookup(f *cmdutil.Factory) ExecutionLookup {
	return func(ctx context.Context, jobID string) (*sfnx.Execution, *sfnx.Failure, error) {
		env, err := f.Environment()
		if err != nil || env.StateMachineARN == "" {
			return nil, nil, err
		}
		api, err := f.SFN(ctx)
		if err != nil {
			return nil, nil, err
		}
		ex, err := sfnx.FindByJobID(ctx, api, env.StateMachineARN, jobID, f.Now().Add(-executionLookBack), sfnx.DefaultConcurrency)
		if err != nil || ex == nil {
			return nil, nil, err
		}
		if ex.Status == "SUCCEEDED" || ex.Status == "RUNNING" {
			return ex, nil, nil
		}
		fail, err := sfnx.FindFailure(ctx, api, ex.ARN)
		return ex, fail, err
	}
}
