#!/usr/bin/env bash
# Runs lifecycle.test.js against the real binary over HTTPS: starts
# `graphconn serve --tls` on a free loopback port with a fresh data
# directory, mints a token, and runs node's test runner with the server's
# development CA in NODE_EXTRA_CA_CERTS (node reads it only as it starts).
#
#   tests/clients/js/run.sh            # the binary: bin/graphconn (make build)
#   GRAPHCONN_BIN=/path/to/graphconn tests/clients/js/run.sh
#   GRAPHCONN_CLIENTS_SETTINGS=off ...  # create the connection without
#                                       # activitySettings and searchSettings
set -euo pipefail
cd "$(dirname "$0")"

bin="${GRAPHCONN_BIN:-../../../bin/graphconn}"
if [ ! -x "$bin" ]; then
  echo "run.sh: no graphconn binary at $bin: run 'make build', or set GRAPHCONN_BIN" >&2
  exit 1
fi

# The client, as pinned by package-lock.json.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

data="$(mktemp -d)"
log="$data/serve.log"
"$bin" serve --tls --addr 127.0.0.1:0 --data-dir "$data/data" --operation-delay 500ms >"$log" 2>&1 &
pid=$!
status=1
cleanup() {
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    echo "--- graphconn serve's log:" >&2
    cat "$log" >&2
  fi
  rm -rf "$data"
}
trap cleanup EXIT

# field MSG KEY: KEY of the first JSON log line whose msg is MSG.
field() {
  node -e '
    const [msg, key] = process.argv.slice(1);
    for (const line of require("fs").readFileSync(0, "utf8").split("\n")) {
      try { const l = JSON.parse(line); if (l.msg === msg) { console.log(l[key]); break; } } catch {}
    }' "$1" "$2" <"$log"
}

addr="" ca=""
for _ in $(seq 1 300); do
  addr="$(field listening addr)"
  ca="$(field tls NODE_EXTRA_CA_CERTS)"
  [ -n "$addr" ] && [ -n "$ca" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: graphconn serve stopped before listening" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$addr" ] || [ -z "$ca" ]; then
  echo "run.sh: graphconn serve logged no \"listening\" and \"tls\" lines within 30s" >&2
  exit 1
fi

token="$("$bin" token --data-dir "$data/data" --app-id 11111111-2222-3333-4444-555555555555 --roles ExternalConnection.ReadWrite.All,ExternalItem.ReadWrite.OwnedBy)"

set +e
GRAPHCONN_BASE_URL="https://$addr/" GRAPHCONN_TOKEN="$token" NODE_EXTRA_CA_CERTS="$ca" \
  node --test lifecycle.test.js
status=$?
set -e
exit "$status"
