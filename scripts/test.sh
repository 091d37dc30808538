#!/usr/bin/env bash
# Runs the whole AgentKeys test suite on a fresh Linux machine, installing what the tests need:
# keyutils (the kernel keychain the daemon's key lives in during tests), dbus and gnome-keyring
# (a real Secret Service for the keychain test that needs one), systemd-analyze (checks the
# service units), moto_server (an S3 endpoint for wire-compatibility tests), a pinned Hardhat
# node (an EVM JSON-RPC node for the rpc chain adapter tests) and Debian's chromium (headless,
# driven over the DevTools protocol with a virtual WebAuthn authenticator for the passkey
# ceremony tests), plus the OpenSSL headers the daemon builds against. Tests run inside a fresh session keyring and a private session bus, so they
# never touch the user's keychain.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v keyctl >/dev/null 2>&1 || missing+=(keyutils)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v dbus-run-session >/dev/null 2>&1 || missing+=(dbus)
command -v gnome-keyring-daemon >/dev/null 2>&1 || missing+=(gnome-keyring)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
# The second-uid tests run their attacker as nobody: it needs setpriv and a system-wide python3.
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
[ -x /usr/bin/python3 ] || missing+=(python3)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The daemon verifies passkey enrollments with webauthn-rs, which links the system OpenSSL.
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
if ! command -v aws >/dev/null 2>&1; then
  echo "installing the aws CLI (tests drive it through agentkeys aws exec)"
  python3 -m pip install --quiet 'awscli>=1.36,<2' || python3 -m pip install --quiet --break-system-packages 'awscli>=1.36,<2'
fi
if ! command -v moto_server >/dev/null 2>&1; then
  echo "installing moto_server"
  python3 -m pip install --quiet 'moto[server]>=5.1,<6' || python3 -m pip install --quiet --break-system-packages 'moto[server]>=5.1,<6'
fi

# Contracts: the pinned solc (npm lockfile) must reproduce the committed artifacts exactly.
command -v npm >/dev/null 2>&1 || { as_root apt-get update -qq; as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
contracts/check-artifacts.sh
# The rpc chain adapter tests run against a Hardhat node pinned by tests/hardhat/package-lock.json.
(cd tests/hardhat && npm ci --no-audit --no-fund)

# The end-to-end tests start the real binaries, so build them first.
cargo build --workspace --bins --locked
# No session bus: the daemons the tests start must not write to the desktop's Secret Service.
env -u DBUS_SESSION_BUS_ADDRESS keyctl session - cargo test --workspace --locked --no-fail-fast "$@"

# The Secret Service backend against a real gnome-keyring on a private bus, with its keyrings in
# a throwaway directory.
keyrings="$(mktemp -d)"
trap 'rm -rf "$keyrings"' EXIT
XDG_DATA_HOME="$keyrings" dbus-run-session -- sh -c '
  eval "$(printf "agentkeys-test\n" | gnome-keyring-daemon --unlock --components=secrets)"
  cargo test --locked -p agentkeys-daemon --lib -- --ignored --exact keychain::tests::linux::secret_service_roundtrip'

