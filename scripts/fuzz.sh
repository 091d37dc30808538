#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of untrusted input (fuzz/fuzz_targets, libFuzzer via
# cargo-fuzz, AddressSanitizer). Not part of scripts/test.sh: it runs for minutes.
#
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  how long each target runs (default 60)
#   TARGET              run only these (default: every target, `cargo fuzz list`)
#
# Each target starts from its committed seeds (fuzz/seeds/<target>) and keeps what it finds in
# fuzz/corpus/<target>; a crash is saved under fuzz/artifacts/<target>/ and can be replayed
# with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <artifact>` in fuzz/.
# Prints executions and the outcome per target; exits 1 if any target crashed.
#
# cargo-fuzz needs nightly flags (-Zsanitizer); RUSTC_BOOTSTRAP=1 allows them on the stable
# toolchain, whose sanitizer runtimes ship with rustc. CARGO_TARGET_DIR may point the large
# sanitizer build elsewhere.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

secs="${1:-60}"
shift || true
case "$secs" in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;;
esac

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
total=0
failed=0
printf '%-18s %14s  %s\n' target executions outcome
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  dirs=("corpus/$t")
  [ -d "seeds/$t" ] && dirs+=("seeds/$t")
  rc=0
  # `cargo fuzz run` builds the target first (release, AddressSanitizer); the build does not
  # count against its time.
  cargo fuzz run "$t" "${dirs[@]}" -- \
    -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
    >"$logs/$t.log" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -n 1)"
  execs="${execs:-0}"
  total=$((total + execs))
  if [ "$rc" -eq 0 ]; then
    outcome="ok, 0 crashes"
  else
    failed=$((failed + 1))
    artifact="$(sed -n 's/.*Test unit written to //p' "$logs/$t.log" | tail -n 1)"
    outcome="CRASH (exit $rc)${artifact:+: $artifact}"
    echo "---- $t ----" >&2
    grep -E -A 12 "panicked|ERROR: AddressSanitizer|ERROR: libFuzzer|deadly signal" \
      "$logs/$t.log" | head -n 40 >&2 || tail -n 40 "$logs/$t.log" >&2
  fi
  printf '%-18s %14s  %s\n' "$t" "$execs" "$outcome"
done
printf '%-18s %14s\n' total "$total"
if [ "$failed" -gt 0 ]; then
  echo "$failed target(s) crashed" >&2
  exit 1
fi
