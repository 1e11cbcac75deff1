#!/usr/bin/env bash
# Runs every test of semground: the native test suite, then a check that the library builds
# for wasm32 (the browser target).
set -euo pipefail
cd "$(dirname "$0")/.."

# A build cache outside the clone, reused between runs and clones.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/semground-target}"

cargo fmt --check
cargo test --locked --no-fail-fast
cargo build --locked --target wasm32-unknown-unknown --lib
echo "wasm32 library build: ok"
