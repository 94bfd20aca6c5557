#!/usr/bin/env bash
# Runs a command with the AWS emulators nexus is tested against started on free
# loopback ports: dynalite (DynamoDB) and local-aws-sqs (SQS). Installs them with
# npm into .cache/emulators on first use, exports AWS_ENDPOINT_URL_DYNAMODB,
# AWS_ENDPOINT_URL_SQS and dummy credentials, runs "$@", and stops exactly the
# processes it started.
#
#   .ci/emulators.sh go test -race ./...
#   .ci/emulators.sh bash          # a shell with the emulators up
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/emulators"
DYNALITE_VERSION=4.0.0
SQS_VERSION=2.0.2

install() {
	if [ -f "$cache/node_modules/dynalite/package.json" ] &&
		grep -q "\"version\": \"$DYNALITE_VERSION\"" "$cache/node_modules/dynalite/package.json" &&
		[ -f "$cache/node_modules/local-aws-sqs/package.json" ] &&
		grep -q "\"version\": \"$SQS_VERSION\"" "$cache/node_modules/local-aws-sqs/package.json"; then
		return
	fi
	echo "emulators: installing dynalite@$DYNALITE_VERSION and local-aws-sqs@$SQS_VERSION into $cache" >&2
	mkdir -p "$cache"
	[ -f "$cache/package.json" ] || echo '{"name":"nexus-emulators","private":true}' >"$cache/package.json"
	(cd "$cache" && npm install --no-audit --no-fund --loglevel=error \
		"dynalite@$DYNALITE_VERSION" "local-aws-sqs@$SQS_VERSION" >&2)
}

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_for() { # name port pid log
	for _ in $(seq 1 100); do
		if ! kill -0 "$3" 2>/dev/null; then
			echo "emulators: $1 exited during start-up:" >&2
			cat "$4" >&2
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "emulators: $1 did not listen on 127.0.0.1:$2 within 10s" >&2
	cat "$4" >&2
	return 1
}

install
logs=$(mktemp -d)
pids=()
stop() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$logs"
}
trap stop EXIT INT TERM

ddb_port=$(free_port)
node "$cache/node_modules/dynalite/cli.js" --host 127.0.0.1 --port "$ddb_port" \
	--createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$logs/dynalite.log" 2>&1 &
pids+=($!)
wait_for dynalite "$ddb_port" "${pids[-1]}" "$logs/dynalite.log"

sqs_port=$(free_port)
(cd "$cache" && exec node -e '
require("local-aws-sqs").createSqsServer({port: Number(process.argv[1]), hostname: "127.0.0.1"});
' "$sqs_port") >"$logs/sqs.log" 2>&1 &
pids+=($!)
wait_for local-aws-sqs "$sqs_port" "${pids[-1]}" "$logs/sqs.log"

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$ddb_port"
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$sqs_port"
export AWS_ACCESS_KEY_ID=nexus-test AWS_SECRET_ACCESS_KEY=nexus-test AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "emulators: dynamodb $AWS_ENDPOINT_URL_DYNAMODB, sqs $AWS_ENDPOINT_URL_SQS" >&2

set +e
"$@"
status=$?
set -e
exit "$status"
