#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo fuzz + libFuzzer) for SECONDS each
# (default 600), on a corpus seeded from the repository's captures and test
# JPEGs (fuzz/seed.py), and prints one line per target: runs, executions
# per second, corpus size, and whether it found a crash. A crash input is
# left in fuzz/artifacts/<target>/; copy it into fuzz/regressions/<target>/
# so that tests/tests/fuzz_regressions.rs replays it for ever.
# SECONDS 0 (what CI runs) builds every target and runs each once over its
# seeds and saved regressions, without mutating: the targets keep building
# and the run is the same every time. It builds them without AddressSanitizer
# (a quarter less build time on two cores; the code fuzzed is safe Rust, and
# the regressions also run in the test suite); a timed run keeps it.
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (installed here if missing) and a nightly toolchain, or,
# without one, the stable toolchain told to accept nightly flags.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-600}
shift || true

if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    FUZZ=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    FUZZ=(cargo fuzz)
fi
python3 fuzz/seed.py
mapfile -t TARGETS < <(if [ $# -gt 0 ]; then printf '%s\n' "$@"; else (cd fuzz && "${FUZZ[@]}" list); fi)
if [ "$SECONDS_PER_TARGET" = 0 ]; then
    LIMIT=(-runs=0)
    BUILD=(-O --sanitizer none)
else
    LIMIT=(-max_total_time="$SECONDS_PER_TARGET")
    BUILD=(-O)
fi
(cd fuzz && "${FUZZ[@]}" build "${BUILD[@]}")

status=0
for t in "${TARGETS[@]}"; do
    log=fuzz/artifacts/$t.log
    mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t" "fuzz/regressions/$t"
    if (cd fuzz && "${FUZZ[@]}" run "${BUILD[@]}" "$t" "corpus/$t" "regressions/$t" -- \
        "${LIMIT[@]}" -max_len=8192 -rss_limit_mb=2048 \
        -print_final_stats=1 >"../$log" 2>&1); then
        found=none
    else
        found="CRASH: $(ls -t "fuzz/artifacts/$t" | head -n1)"
        status=1
    fi
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
    speed=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    printf '%-14s %6ss %12s runs %8s/s  corpus %5s  %s\n' "$t" "$SECONDS_PER_TARGET" "$runs" "$speed" "$corpus" "$found"
done
exit $status
