#!/usr/bin/env bash
# Runs a command with what the neural tests need from outside the repository:
#
#   - libonnxruntime.so.1 (ONNX Runtime 1.24.1) from the npm package
#     onnxruntime-node@1.24.1, fetched with `npm pack` (no install scripts: the
#     package's postinstall would download CUDA libraries from NuGet), checked
#     by sha256 and cached in .cache/onnxruntime/;
#   - the real all-MiniLM-L6-v2 tokenizer.json, shipped as test data in the Go
#     module github.com/daulet/tokenizers@v1.24.0, downloaded into the module
#     cache (the module is not imported: it is a cgo binding to a Rust library
#     nexus does not link, so it stays out of go.mod).
#
# Exports NEXUS_ORT_LIB and NEXUS_MINILM_TOKENIZER, then runs "$@". Idempotent:
# a cached library with the right checksum is used as is.
#
#   .ci/onnxruntime.sh go test ./pipeline/onnx/...
#   .ci/onnxruntime.sh .ci/emulators.sh go test -race ./...
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/onnxruntime"
ORT_VERSION=1.24.1
TOKENIZERS_MODULE=github.com/daulet/tokenizers@v1.24.0

case "$(uname -s)/$(uname -m)" in
Linux/x86_64)
	arch=x64
	sha=53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4
	;;
Linux/aarch64 | Linux/arm64)
	arch=arm64
	sha=7954e8bdedb497f830c6a679e818d98399b7f4d81ade1126c3e0be74d28111ab
	;;
*)
	echo "onnxruntime: no libonnxruntime for $(uname -s)/$(uname -m) here; neural tests will skip" >&2
	exec "$@"
	;;
esac
lib="$cache/libonnxruntime.so.1"

fetch_ort() {
	if [ -f "$lib" ] && echo "$sha  $lib" | sha256sum -c --status; then
		return
	fi
	echo "onnxruntime: fetching onnxruntime-node@$ORT_VERSION with npm pack into $cache" >&2
	mkdir -p "$cache"
	local tmp member="package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
	tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
	if ! (cd "$tmp" && npm pack --silent --no-audit --no-fund "onnxruntime-node@$ORT_VERSION" >/dev/null) ||
		! tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" "$member"; then
		rm -rf "$tmp"
		echo "onnxruntime: could not fetch onnxruntime-node@$ORT_VERSION from the npm registry" >&2
		return 1
	fi
	if ! echo "$sha  $tmp/$member" | sha256sum -c --status; then
		echo "onnxruntime: checksum mismatch for $member of onnxruntime-node@$ORT_VERSION:" >&2
		sha256sum "$tmp/$member" >&2
		echo "expected $sha" >&2
		rm -rf "$tmp"
		return 1
	fi
	chmod 0644 "$tmp/$member"
	mv -f "$tmp/$member" "$lib"
	rm -rf "$tmp"
}

fetch_tokenizer() {
	local dir tmp
	# Outside any module, so go.mod and go.sum stay as they are.
	tmp=$(mktemp -d)
	dir=$(cd "$tmp" && GO111MODULE=on GOFLAGS=-mod=mod go mod download -json "$TOKENIZERS_MODULE" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	rmdir "$tmp"
	local file="$dir/test/data/all-minilm-l6-v2.json"
	if [ -z "$dir" ] || [ ! -f "$file" ]; then
		echo "onnxruntime: $TOKENIZERS_MODULE has no test/data/all-minilm-l6-v2.json (module dir: '$dir')" >&2
		return 1
	fi
	NEXUS_MINILM_TOKENIZER=$file
}

fetch_ort
fetch_tokenizer
export NEXUS_ORT_LIB="$lib" NEXUS_MINILM_TOKENIZER
echo "onnxruntime: NEXUS_ORT_LIB=$NEXUS_ORT_LIB" >&2
exec "$@"
