#!/usr/bin/env bash
# Fails when contracts/artifacts/ is not exactly what the pinned solc makes from contracts/src/,
# so the bytecode the Rust crate embeds can never drift from the Solidity it claims to be.
set -euo pipefail
cd "$(dirname "$0")"

# The lockfile is the pin; reinstall when node_modules is missing or older than the lockfile.
if [ ! -d node_modules/solc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
node build.mjs "$fresh" >/dev/null

if ! diff -r artifacts "$fresh" >/dev/null; then
  echo "check-artifacts: contracts/artifacts/ is stale; these differ from a fresh build:" >&2
  diff -rq artifacts "$fresh" | sed "s|$fresh|<fresh build>|" >&2 || true
  echo "check-artifacts: run 'cd contracts && npm ci && node build.mjs' and commit the result" >&2
  exit 1
fi
echo "check-artifacts: artifacts match a fresh build"
