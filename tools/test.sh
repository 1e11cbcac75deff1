#!/usr/bin/env bash
# Runs every test of semground: the native test suite, then the web page's build and its
# browser test in headless Chromium (both backends). tools/setup.sh installs what they need.
set -euo pipefail
cd "$(dirname "$0")/.."

# A build cache outside the clone, reused between runs and clones.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/semground-target}"

cargo fmt --check
cargo test --locked --no-fail-fast

trunk build --release --locked
SEMGROUND_BIN="$CARGO_TARGET_DIR/debug/semground" node tests/web/page.test.mjs
