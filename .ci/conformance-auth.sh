#!/usr/bin/env bash
# Run the official MCP conformance suite's authorization-server mode (@modelcontextprotocol/conformance
# 0.2.0-alpha.12, `conformance authorization`) against the hub's OAuth 2.1 authorization server.
#
#   bash .ci/conformance-auth.sh <issuer-url> <client-id> <client-secret|-> <resource-url> <callback-port> [outdir]
#
# e.g. bash .ci/conformance-auth.sh http://127.0.0.1:8765 conformance-client s3cret http://127.0.0.1:8765/mcp 3999
#
# The suite has exactly two authorization-server scenarios, run in this order in one process:
#   1. authorization-server-metadata-endpoint  GETs the RFC 8414 metadata built from <issuer-url>
#   2. authorization-code-grant                 authorization code + PKCE (S256) + token request
# Scenario 2 reads the metadata that scenario 1 fetched, so the two always run together (the suite's
# --scenario flag would run scenario 2 without that metadata and fail it).
#
# <issuer-url> is compared by the suite, as a plain string, with the metadata's "issuer": pass it exactly as
# the hub publishes it (no trailing slash unless the issuer has one). <client-id> must be pre-registered
# with redirect URI http://127.0.0.1:<callback-port>/callback. "-" (or "") as <client-secret> means a public
# client. The secret goes to the suite in a private settings file (--file), not on its command line.
#
# The authorization step. The suite opens no browser and has no hook: it starts a callback server on
# 127.0.0.1:<callback-port>, prints the authorization URL on stdout and waits up to 5 minutes for a GET on
# /callback. This script watches that output and, once the callback server is up, runs
#   $CONFORMANCE_AUTHORIZE_CMD <authorization-url>      (through bash -c, so the value may carry arguments;
#                                                        CONFORMANCE_CALLBACK_URL is exported to it)
# The command must make the authorization server redirect to the callback (drive a login/consent page,
# say). Unset, the default is a plain curl GET that follows redirects and must end on the callback: that
# works only when the hub auto-approves this pre-registered client (302 straight to the redirect URI).
# CONFORMANCE_AUTHORIZE_CMD=manual runs nothing: open the printed URL yourself within 5 minutes.
# If the command fails, this script answers the callback with error=conformance_authorize_failed so the
# suite fails the scenario at once instead of waiting out its 5-minute timeout.
#
# Scoring: the suite exits 1 when any check is FAILURE. This script also fails on a SKIPPED check (the
# code-grant scenario skips itself when the metadata offers none of client_secret_post,
# client_secret_basic, none for a confidential client) and on a missing result. WARNING checks (e.g.
# client_id_metadata_document_supported not true) are reported and never fail the run.
#
# Node 22 and the suite are installed once, idempotently, exactly as .ci/conformance.sh does, under
# ${CONFORMANCE_CACHE:-$HOME/.cache/hub-conformance} (node/ and suite-0.2.0-alpha.12/).
# Results: <outdir>/authorization.log and <outdir>/results/authorization-server-<scenario>-<time>/checks.json;
# outdir defaults to a fresh temporary directory. Exit status: 0 when every check passes, 1 otherwise,
# 2 on usage/setup errors.

set -euo pipefail

# shellcheck source=.ci/conformance-lib.sh
source "$(dirname "$0")/conformance-lib.sh"
SUITE_V="0.2.0-alpha.12"
SCENARIOS=(authorization-server-metadata-endpoint authorization-code-grant)

usage() {
  echo "usage: bash .ci/conformance-auth.sh <issuer-url> <client-id> <client-secret|-> <resource-url> <callback-port> [outdir]" >&2
  exit 2
}

[[ $# -ge 5 && $# -le 6 ]] || usage
ISSUER="$1"
CLIENT_ID="$2"
CLIENT_SECRET="$3"
RESOURCE="$4"
PORT="$5"
[[ "$CLIENT_SECRET" == "-" ]] && CLIENT_SECRET=""
[[ -n "$ISSUER" && -n "$CLIENT_ID" && -n "$RESOURCE" ]] || usage
[[ "$PORT" =~ ^[0-9]+$ ]] && ((PORT >= 1 && PORT <= 65535)) || { echo "conformance-auth: bad callback port: $PORT" >&2; exit 2; }
OUT="${6:-$(mktemp -d "${TMPDIR:-/tmp}/mcp-conformance-auth.XXXXXX")}"
AUTHORIZE_CMD="${CONFORMANCE_AUTHORIZE_CMD:-}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
CALLBACK="http://127.0.0.1:$PORT/callback"

if [[ -z "$AUTHORIZE_CMD" ]]; then
  command -v curl >/dev/null 2>&1 || { echo "conformance-auth: curl is required (or set CONFORMANCE_AUTHORIZE_CMD)" >&2; exit 2; }
fi

conformance_setup conformance-auth "$SUITE_V"
CLI="$(suite_cli "$SUITE_V")"

# Settings file (the suite's --file, schema: url, clientId, clientSecret, resource, port): keeps the secret
# off the process list. JSON-encoded by Node from the environment so no value needs escaping here.
umask_saved="$(umask)"
umask 077
SETTINGS="$(mktemp "${TMPDIR:-/tmp}/conformance-auth-settings.XXXXXX")"
umask "$umask_saved"
SUITE_PID=""
cleanup() {
  rm -f "$SETTINGS"
  if [[ -n "$SUITE_PID" ]] && kill -0 "$SUITE_PID" 2>/dev/null; then kill "$SUITE_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
S_URL="$ISSUER" S_ID="$CLIENT_ID" S_SECRET="$CLIENT_SECRET" S_RES="$RESOURCE" S_PORT="$PORT" "$NODE" -e '
  const e = process.env, s = { url: e.S_URL, clientId: e.S_ID, resource: e.S_RES, port: Number(e.S_PORT) };
  if (e.S_SECRET) s.clientSecret = e.S_SECRET;
  require("fs").writeFileSync(process.argv[1], JSON.stringify(s));' "$SETTINGS"

strip() { sed -e 's/\x1b\[[0-9;]*m//g' "$1"; }

# authorize <url>: get the authorization server to redirect to the suite's callback.
authorize() {
  local url="$1"
  if [[ -n "$AUTHORIZE_CMD" ]]; then
    CONFORMANCE_CALLBACK_URL="$CALLBACK" bash -c "$AUTHORIZE_CMD \"\$1\"" conformance-authorize "$url"
    return
  fi
  # Default: auto-approval. Follow the redirects; the last URL must be the callback (which answers 200).
  local result code final
  result="$(curl -sS -o /dev/null -L --max-redirs 10 --max-time 60 -w '%{http_code} %{url_effective}' "$url")" || return 1
  code="${result%% *}"
  final="${result#* }"
  if [[ "$final" != "$CALLBACK"* || "$code" != 200 ]]; then
    echo "conformance-auth: the authorization endpoint did not redirect to $CALLBACK (ended on HTTP $code at $final);" \
      "auto-approval of client '$CLIENT_ID' is needed, or set CONFORMANCE_AUTHORIZE_CMD" >&2
    return 1
  fi
}

LOG="$OUT/authorization.log"
: >"$LOG"
echo "conformance-auth: authorization -> $ISSUER (client '$CLIENT_ID', callback $CALLBACK)" >&2
start=$SECONDS
# -p must be on the command line: the CLI's default (3000) overrides a "port" in the settings file.
"$NODE" "$CLI" authorization --file "$SETTINGS" -p "$PORT" -o "$OUT/results" >"$LOG" 2>&1 &
SUITE_PID=$!

authorized=0
while kill -0 "$SUITE_PID" 2>/dev/null; do
  if [[ $authorized -eq 0 ]] && strip "$LOG" | grep -qF "Callback server started: http://127.0.0.1:$PORT"; then
    auth_url="$(strip "$LOG" | awk '/^Access the following URL in your browser/ { getline; print; exit }')"
    if [[ -n "$auth_url" ]]; then
      authorized=1
      echo "conformance-auth: authorization URL: $auth_url" >&2
      if [[ "$AUTHORIZE_CMD" == "manual" ]]; then
        echo "conformance-auth: open it in a browser within 5 minutes" >&2
      elif ! authorize "$auth_url"; then
        echo "conformance-auth: authorize step failed; failing the code-grant scenario" >&2
        curl -sS -o /dev/null --max-time 10 \
          "$CALLBACK?error=conformance_authorize_failed&error_description=authorize+hook+failed" 2>/dev/null || true
      fi
    fi
  fi
  sleep 0.2
done
rc=0
wait "$SUITE_PID" || rc=$?
SUITE_PID=""
secs=$((SECONDS - start))

# Tally every checks.json: FAILURE or SKIPPED fails the run, WARNING is reported only.
tally="$("$NODE" -e '
  const fs = require("fs"), path = require("path");
  const dir = process.argv[1], wanted = process.argv.slice(2);
  const dirs = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  let bad = 0;
  for (const sc of wanted) {
    const d = dirs.filter(x => x.startsWith(`authorization-server-${sc}-`)).sort().pop();
    if (!d) { console.log(`  ${sc}: no checks.json`); bad++; continue; }
    const checks = JSON.parse(fs.readFileSync(path.join(dir, d, "checks.json"), "utf8"));
    const n = s => checks.filter(c => c.status === s).length;
    const line = `  ${sc}: ${n("SUCCESS")} passed, ${n("FAILURE")} failed, ${n("SKIPPED")} skipped, ${n("WARNING")} warnings`;
    console.log(line);
    for (const c of checks) if (c.status !== "SUCCESS")
      console.log(`    ${c.status} ${c.id}${c.errorMessage ? ": " + c.errorMessage : ""}`);
    if (n("FAILURE") || n("SKIPPED") || checks.length === 0) bad++;
  }
  console.log(`BAD=${bad}`);' "$OUT/results" "${SCENARIOS[@]}" 2>&1)" || tally="BAD=1"

echo
echo "MCP authorization-server conformance against $ISSUER (log and checks.json under $OUT):"
grep -v '^BAD=' <<<"$tally" || true
echo "suite exit $rc; ${secs}s"
if [[ $rc -ne 0 ]] || ! grep -qx 'BAD=0' <<<"$tally"; then
  exit 1
fi
exit 0
