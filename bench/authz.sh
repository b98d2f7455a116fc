#!/bin/sh
# Measures relationship checks on Atrium, OpenFGA and SpiceDB in one run.
#
# Builds atrium, installs OpenFGA and SpiceDB from the Go module proxy into a
# scratch folder outside the repository (once; nothing of theirs is kept in
# the repository), then runs authz-bench with your flags, for instance:
#
#   bench/authz.sh -n 1000 -c 16 -rounds 3 -warmup 20 -max 20s -out /tmp/authz-results.md
#
# AUTHZ_BENCH_BIN names the scratch folder (default /tmp/authzbench-bin).
set -eu
cd "$(dirname "$0")/.."
OPENFGA_VERSION=v1.22.1
SPICEDB_VERSION=v1.56.2
BIN=${AUTHZ_BENCH_BIN:-/tmp/authzbench-bin}
mkdir -p "$BIN"
if [ ! -x "$BIN/openfga" ]; then
	echo "installing openfga@$OPENFGA_VERSION into $BIN" >&2
	(cd "$BIN" && GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "github.com/openfga/openfga/cmd/openfga@$OPENFGA_VERSION")
fi
if [ ! -x "$BIN/spicedb" ]; then
	echo "installing spicedb@$SPICEDB_VERSION into $BIN" >&2
	(cd "$BIN" && GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "github.com/authzed/spicedb/cmd/spicedb@$SPICEDB_VERSION")
fi
go build -o "$BIN/atrium" ./cmd/atrium
exec go run ./bench/cmd/authz-bench -atrium "$BIN/atrium" -openfga "$BIN/openfga" -spicedb "$BIN/spicedb" "$@"
