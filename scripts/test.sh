#!/usr/bin/env bash
# Runs every test of the project: installs the test dependencies when missing, then formatting,
# lints, unit tests, and the end-to-end tests against real promtool and node_exporter binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
# The stack tests run the exporter binary; build it first so they find it.
cargo build --locked -p sysmon-exporter
export SYSMON_EXPORTER_BIN="$PWD/target/debug/sysmon-exporter"
cargo test --workspace --locked --no-fail-fast
