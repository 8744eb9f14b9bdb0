#!/usr/bin/env bash
# Fuzz smoke run: every cargo-fuzz target in fuzz/ for FUZZ_SECONDS (default 60) each,
# starting from fuzz/seeds/<target> and the corpus kept in fuzz/corpus/<target>.
# Not part of the test suite (.ci/run does not call it): it needs the nightly toolchain and
# cargo-fuzz (`cargo install cargo-fuzz`), and says "skipped: …" and exits 0 without them.
# A crash fails the run; libFuzzer leaves the input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "skipped: nightly toolchain not installed"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "skipped: cargo-fuzz not installed (cargo install cargo-fuzz)"
  exit 0
fi

targets=$(cargo +nightly fuzz list)
count=0
for target in $targets; do
  echo "fuzzing $target for ${seconds}s"
  mkdir -p "fuzz/corpus/$target"
  seeds=()
  [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" ${seeds[@]+"${seeds[@]}"} -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10
  count=$((count + 1))
done
echo "fuzz smoke: $count targets, ${seconds}s each, no crash"
