#!/usr/bin/env bash
# Installs what semground's build and tests need on a fresh Debian machine with rustup:
# the wasm32 target for the browser build. Safe to run again; it skips what is present.
set -euo pipefail

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi

echo "setup complete"
