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

# The daemon verifies passkey enrollments with webauthn-rs, which links the system OpenSSL.
if [ "$(uname -s)" = Linux ] && ! { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openssl; }; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing the OpenSSL headers (libssl-dev, pkg-config)"
    as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libssl-dev pkg-config
  else
    echo "install.sh: the OpenSSL development files and pkg-config are required (libssl-dev / openssl-devel)" >&2
    exit 1
  fi
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
# A passkey needs a browser: a headless machine registers without one, and `agentkeys init`
# on a desktop session adds it later.
if [ "$(uname)" = Darwin ] || [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  "$ak" init
else
  "$ak" init --no-passkey
fi
printf 'agentkeys-selftest-value' | "$ak" store agentkeys-selftest
got="$("$ak" read agentkeys-selftest)"
"$ak" rm agentkeys-selftest >/dev/null
if [ "$got" != "agentkeys-selftest-value" ]; then
  echo "install.sh: self-test failed: stored and read values differ" >&2
  exit 1
fi
echo "self-test passed: a secret was stored, read back and removed"
# Which store holds the device key, and whether it survives a reboot (the kernel keyring does
# not: after one, commands answer device_key_lost until the key is restored).
"$ak" status | grep '^keychain:' || true
case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) echo "note: add $bin_dir to your PATH, e.g. export PATH=\"$bin_dir:\$PATH\"" ;;
esac
