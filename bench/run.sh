#!/bin/sh
# Builds atrium and measures it against a bare net/http baseline in one run.
# Flags go to atrium-bench, for instance: bench/run.sh -n 10000 -c 32 -out bench/RESULTS.md
set -eu
cd "$(dirname "$0")/.."
go build -o /tmp/atrium-bench-bin ./cmd/atrium && go run ./bench/cmd/atrium-bench -bin /tmp/atrium-bench-bin "$@"
