#!/usr/bin/env bash
# The official MCP conformance suites against the hub, with the hub fronting the fixture upstream
# (tests/fixtures/everything_server.py, served over Streamable HTTP and mounted without a prefix: the
# suite asks for exact names). The suite's clients talk to the hub; the hub talks to the fixture as an
# MCP client of its own, so every scenario crosses the hub's whole request path.
# The suite sends no credentials, so this hub runs with an anonymous principal granted everything:
# a configuration for this local run only (the default grants anonymous callers nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=$(mktemp -d)
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
FIXTURE_PORT=$(free_port)
TOKEN=ci-admin-$(date +%s%N)
LOG=$DATA/hub.log

HUB_DATA_DIR=$DATA HUB_ADMIN_TOKEN=$TOKEN HUB_ANONYMOUS_SCOPES='["*"]' HUB_PACKS='[]' HUB_PORT=$PORT \
  $PY -m hub.cli serve >"$LOG" 2>&1 &
HUB_PID=$!
$PY -m tests.fixtures.everything_server --transport http --port "$FIXTURE_PORT" >"$DATA/fixture.log" 2>&1 &
FIXTURE_PID=$!
trap 'kill $HUB_PID $FIXTURE_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do
  (echo > "/dev/tcp/127.0.0.1/$FIXTURE_PORT") 2>/dev/null && break
  sleep 0.2
done

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$LOG"; exit 1; }
# Serving starts at once, while the search model loads in the background (18 s of both cores here). Let that
# settle first: the suite's timed scenarios (list_changed relayed within its window) should not share the
# machine with start-up work that a running hub has long finished.
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" | $PY -c 'import json,sys
state = (json.load(sys.stdin).get("search") or {}).get("state", "off")
sys.exit(0 if state in ("ready", "failed", "off") else 1)' && break
  sleep 0.5
done

BODY=$(printf '{"name":"fixture","transport":"http","prefix":"","auto_approve":true,"url":"http://127.0.0.1:%s/mcp"}' "$FIXTURE_PORT")
curl -sS --fail-with-body -X POST "http://127.0.0.1:$PORT/api/v1/upstreams" -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" -d "$BODY" || { echo "registering the fixture failed"; cat "$LOG"; exit 1; }
echo

status=0
bash .ci/conformance.sh "http://127.0.0.1:$PORT/mcp" "${CONFORMANCE_OUT:-$DATA/results}" || status=$?

# The authorization server: the suite's `authorization` mode, with a user who signs in on the consent
# page (.ci/conformance_authorize.py plays them) and a public client registered over RFC 7591.
CALLBACK_PORT=$(free_port)
export CONFORMANCE_USER=conformance-user CONFORMANCE_PASSWORD="pw-$(date +%s%N)"
USER_BODY=$(printf '{"id":"%s","name":"Conformance user","owner":"ci","purpose":"authorization suite","environment":"dev","kind":"user","password":"%s"}' \
  "$CONFORMANCE_USER" "$CONFORMANCE_PASSWORD")
curl -sS --fail-with-body -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v1/principals" \
  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d "$USER_BODY" \
  || { echo "creating the conformance user failed"; exit 1; }
CLIENT_BODY=$(printf '{"client_name":"conformance","redirect_uris":["http://127.0.0.1:%s/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}' "$CALLBACK_PORT")
CLIENT_ID=$(curl -sS --fail-with-body -X POST "http://127.0.0.1:$PORT/oauth/register" \
  -H "Content-Type: application/json" -d "$CLIENT_BODY" | $PY -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
CONFORMANCE_AUTHORIZE_CMD="$PY .ci/conformance_authorize.py" bash .ci/conformance-auth.sh \
  "http://127.0.0.1:$PORT" "$CLIENT_ID" - "http://127.0.0.1:$PORT/mcp" "$CALLBACK_PORT" \
  "${CONFORMANCE_OUT:-$DATA/results}/authorization" || status=$?
if [ $status -ne 0 ]; then
  echo "--- hub log (tail) ---"; tail -50 "$LOG"
fi
exit $status
