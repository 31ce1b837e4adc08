#!/usr/bin/env bash
# Runs the whole test suite: unit and property tests, element Harness tests,
# and the end-to-end tests against real GStreamer peers. Installs what is
# missing first. Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
cargo test --workspace --locked "$@"
