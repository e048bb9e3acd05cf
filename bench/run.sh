#!/bin/sh
# make bench: graphconn's load benchmark. Builds graphconn and the ceiling
# (bench/ceiling), installs wrk from Debian's packages when it is missing,
# and runs bench/driver, which prints a Markdown report on stdout (progress
# on stderr). SQLite always; PostgreSQL too when GRAPHCONN_TEST_POSTGRES
# names a database (each server gets a fresh schema in it, dropped after).
# Extra arguments go to the driver (e.g. -rounds 5 -duration 10s).
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}

if ! command -v wrk >/dev/null 2>&1; then
	echo "bench: installing wrk" >&2
	if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
	$SUDO apt-get update -qq >&2
	$SUDO apt-get install -y -qq wrk >&2
fi

$GO build -o bin/graphconn ./cmd/graphconn
$GO build -o bin/bench-ceiling ./bench/ceiling
$GO build -o bin/bench-driver ./bench/driver
# The validated PATCH is also measured with --sqlite-synchronous FULL (a
# sync to disk at every commit), to show what surviving a power loss costs.
exec bin/bench-driver -bin bin/graphconn -ceiling bin/bench-ceiling -lua bench/load.lua \
	-variant "synchronous FULL=bin/graphconn GRAPHCONN_SQLITE_SYNCHRONOUS=FULL" "$@"
