#!/usr/bin/env bash
# Installs AgentKeys from this checkout and starts it with embedded defaults: builds the three
# binaries, copies them to $AGENTKEYS_INSTALL_DIR (default ~/.local/bin), starts the embedded
# relay and the daemon, creates this device's identity, then stores, reads and removes a test
# secret to prove the whole path works.
set -euo pipefail
cd "$(dirname "$0")"

bin_dir="${AGENTKEYS_INSTALL_DIR:-$HOME/.local/bin}"
if ! command -v cargo >/dev/null 2>&1; then
  echo "install.sh: cargo is required (https://rustup.rs)" >&2
  exit 1
fi

echo "building (release)…"
cargo build --release --locked --bins
target="${CARGO_TARGET_DIR:-target}/release"
mkdir -p "$bin_dir"
for b in agentkeys agentkeys-daemon agentkeys-relay; do
  install -m 0755 "$target/$b" "$bin_dir/$b"
done
echo "installed agentkeys, agentkeys-daemon and agentkeys-relay in $bin_dir"

ak="$bin_dir/agentkeys"
"$ak" up
"$ak" init
printf 'agentkeys-selftest-value' | "$ak" store agentkeys-selftest
got="$("$ak" read agentkeys-selftest)"
"$ak" rm agentkeys-selftest >/dev/null
if [ "$got" != "agentkeys-selftest-value" ]; then
  echo "install.sh: self-test failed: stored and read values differ" >&2
  exit 1
fi
echo "self-test passed: a secret was stored, read back and removed"
case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) echo "note: add $bin_dir to your PATH, e.g. export PATH=\"$bin_dir:\$PATH\"" ;;
esac
