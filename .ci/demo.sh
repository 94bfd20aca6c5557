#!/usr/bin/env bash
# A whole local Nexus on the emulators, driven by nexus: run under
# .ci/emulators.sh (make demo does). It bootstraps the tables and queues, plays
# the part of the deployed Lambdas by writing three jobs and parking their
# messages in the DLQ (as three failed deliveries would), and then shows what an
# operator does about it.
set -euo pipefail
cd "$(dirname "$0")/.."
nexus=./bin/nexus
export NEXUS_CONFIG=$(mktemp -d)/config.yaml NEXUS_AUDIT_LOG=$(mktemp -d)/audit.jsonl

step() { printf '\n\033[1m$ nexus %s\033[0m\n' "$*"; "$nexus" "$@"; }

# Writes to the emulators the way the async API Lambda would, with curl: the
# emulators accept any signature.
ddb() {
	curl -sf -X POST "$AWS_ENDPOINT_URL_DYNAMODB" -H "X-Amz-Target: DynamoDB_20120810.$1" \
		-H 'Content-Type: application/x-amz-json-1.0' \
		-H "X-Amz-Date: $(date -u +%Y%m%dT%H%M%SZ)" \
		-H 'Authorization: AWS4-HMAC-SHA256 Credential=demo/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=demo' \
		-d "$2" >/dev/null
}
sqs() {
	curl -sf -X POST "$AWS_ENDPOINT_URL_SQS" -H "X-Amz-Target: AmazonSQS.$1" \
		-H 'Content-Type: application/x-amz-json-1.0' -d "$2"
}

step db bootstrap --dry-run
step db bootstrap --yes
step db bootstrap --yes

created=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)
dlq=$(sqs GetQueueUrl '{"QueueName":"MappingRequestDLQ"}' | sed 's/.*"QueueUrl":"\([^"]*\)".*/\1/')
for i in 1 2 3; do
	id=$(printf '550e8400-e29b-41d4-a716-44665544000%d' "$i")
	ctl="AWS.ControlCatalog#1.0#DEMO_CONTROL_$i"
	ddb PutItem "{\"TableName\":\"MappingJobs\",\"Item\":{\"job_id\":{\"S\":\"$id\"},\"status\":{\"S\":\"PENDING\"},\"control_key\":{\"S\":\"$ctl\"},\"target_framework_key\":{\"S\":\"NIST-SP-800-53#R5\"},\"created_at\":{\"S\":\"$created\"},\"updated_at\":{\"S\":\"$created\"}}}"
	body="{\\\"job_id\\\":\\\"$id\\\",\\\"control_key\\\":\\\"$ctl\\\",\\\"target_framework_key\\\":\\\"NIST-SP-800-53#R5\\\"}"
	sqs SendMessage "{\"QueueUrl\":\"$dlq\",\"MessageBody\":\"$body\"}" >/dev/null
done

step db tables
step job list --status PENDING --older-than 30m
step dlq status
step dlq peek -n 3
step dlq redrive --dry-run
step dlq redrive --yes
step dlq status -o json
