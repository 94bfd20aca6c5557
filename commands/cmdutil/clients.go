package cmdutil

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// SFN returns a Step Functions client for the environment.
func (f *Factory) SFN(ctx context.Context) (*sfn.Client, error) {
	cfg, err := f.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return sfn.NewFromConfig(cfg), nil
}

// Logs returns a CloudWatch Logs client for the environment.
func (f *Factory) Logs(ctx context.Context) (*cloudwatchlogs.Client, error) {
	cfg, err := f.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return cloudwatchlogs.NewFromConfig(cfg), nil
}

// CloudWatch returns a CloudWatch (metrics and alarms) client.
func (f *Factory) CloudWatch(ctx context.Context) (*cloudwatch.Client, error) {
	cfg, err := f.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return cloudwatch.NewFromConfig(cfg), nil
}

// ECS returns an ECS client for the environment.
func (f *Factory) ECS(ctx context.Context) (*ecs.Client, error) {
	cfg, err := f.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return ecs.NewFromConfig(cfg), nil
}
