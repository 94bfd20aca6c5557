// Package dynamo is nexus's DynamoDB layer: thin, typed, paginating and
// context-aware. It creates and checks the six Nexus tables, describes
// tables, reads items page by page (serially, with parallel scan segments,
// or by query) with exact limits and resumable cursors, and converts
// attribute values to and from plain JSON.
//
// It never prints and never reads flags: commands turn its values and errors
// into output and exit codes.
package dynamo

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// Item is one DynamoDB item.
type Item = map[string]types.AttributeValue

// PagerAPI is what Read and Count need: the two paginated reads.
type PagerAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// DescribeAPI is what Describe needs.
type DescribeAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
}

// ReadAPI is every read nexus makes of items and table descriptions.
type ReadAPI interface {
	PagerAPI
	DescribeAPI
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// ListTablesAPI is what TableNames needs.
type ListTablesAPI interface {
	ListTables(ctx context.Context, in *dynamodb.ListTablesInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ListTablesOutput, error)
}

// AdminAPI is what EnsureTables needs: describe, create and update tables
// and their time to live. It never deletes.
type AdminAPI interface {
	DescribeAPI
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	UpdateTable(ctx context.Context, in *dynamodb.UpdateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// API is every DynamoDB call nexus makes; *dynamodb.Client implements it.
type API interface {
	ReadAPI
	ListTablesAPI
	AdminAPI
}

var _ API = (*dynamodb.Client)(nil)

// IsNotFound reports whether err says the table (or index) does not exist.
func IsNotFound(err error) bool {
	var rnf *types.ResourceNotFoundException
	if errors.As(err, &rnf) {
		return true
	}
	return errorCode(err) == "ResourceNotFoundException"
}

// IsUnsupported reports whether the endpoint does not implement the
// operation at all (emulators such as dynalite answer
// UnknownOperationException for UpdateTimeToLive).
func IsUnsupported(err error) bool {
	switch errorCode(err) {
	case "UnknownOperationException", "UnknownOperation", "NotImplemented", "InvalidAction":
		return true
	}
	return false
}

func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
