// Package shared holds what the `nexus dlq` verbs share: the dependencies
// they take from the Factory and the resolution of the two queues.
package shared

import (
	"context"
	"errors"
	"time"

	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
	"github.com/nexus-compliance/nexus/runbooks/audit"
)

// Deps are what a dlq verb needs from the Factory, as functions so a test
// can replace any of them (for instance wrap the SQS client).
type Deps struct {
	IO          *iostreams.IOStreams
	Environment func() (*settings.Environment, error)
	SQS         func(context.Context) (queue.API, error)
	Printer     func() (*printer.Printer, error)
	Context     func(parent context.Context) (context.Context, context.CancelFunc)
	Audit       func(audit.Record) audit.Record
	Now         func() time.Time
}

// NewDeps takes the dependencies from f.
func NewDeps(f *cmdutil.Factory) Deps {
	return Deps{
		IO:          f.IOStreams,
		Environment: f.Environment,
		SQS: func(ctx context.Context) (queue.API, error) {
			c, err := f.SQS(ctx)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		Printer: f.Printer,
		Context: f.Context,
		Audit:   f.Audit,
		Now:     f.Now,
	}
}

// Queues are the resolved main queue and DLQ of an environment.
type Queues struct {
	Env     *settings.Environment
	API     queue.API
	MainURL string
	DLQURL  string
}

// Resolve connects to SQS and finds the environment's two queues: a
// configured URL wins, else the name is looked up. A missing queue is a
// NotFoundError (exit 5) that says how to create it or point nexus at it.
func Resolve(ctx context.Context, d Deps) (*Queues, error) {
	env, err := d.Environment()
	if err != nil {
		return nil, err
	}
	api, err := d.SQS(ctx)
	if err != nil {
		return nil, err
	}
	q := &Queues{Env: env, API: api}
	if q.DLQURL, err = resolveOne(ctx, api, env.DLQURL, env.DLQName, "dlq_url", "DLQ_URL", env.Name); err != nil {
		return nil, err
	}
	if q.MainURL, err = resolveOne(ctx, api, env.QueueURL, env.QueueName, "queue_url", "MAIN_QUEUE_URL", env.Name); err != nil {
		return nil, err
	}
	return q, nil
}

func resolveOne(ctx context.Context, api queue.API, url, name, key, variable, envName string) (string, error) {
	u, err := queue.Resolve(ctx, api, url, name)
	var nf *queue.NotFoundError
	if errors.As(err, &nf) {
		envFlag := ""
		if envName != "" && envName != settings.DefaultEnvironment {
			envFlag = " --env " + envName
		}
		return "", &cmdutil.NotFoundError{What: "queue", Name: nf.Name,
			Hint: "Create the Nexus queues with `nexus db bootstrap" + envFlag + "`, or point nexus at the existing one: " +
				"`nexus config set " + key + " https://sqs.<region>.amazonaws.com/<account>/<name>` (or export " + variable + ")."}
	}
	return u, err
}
