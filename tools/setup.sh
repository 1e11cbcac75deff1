#!/usr/bin/env bash
# Installs what semground's build and tests need on a fresh Debian machine with rustup and
# Node 20: the wasm32 target, trunk and wasm-bindgen-cli (the page's build), Chromium (the
# browser test) and the test's Playwright driver. Safe to run again; it skips what is present.
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
# wasm-bindgen-cli must be the version of the wasm-bindgen crate the page is built with.
BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi

if ! trunk --version 2>/dev/null | grep -q " $TRUNK_VERSION"; then
    # trunk 0.22 needs a newer rustc than 1.95.
    cargo install trunk --version "$TRUNK_VERSION" --locked
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q " $BINDGEN_VERSION"; then
    # Not --locked: with it, a dependency missing from the registry index fails the install.
    cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION"
fi

if [ ! -x /usr/bin/chromium ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update
    $sudo apt-get install -y chromium
fi

(cd tests/web && npm ci --no-audit --no-fund)

echo "setup complete"
