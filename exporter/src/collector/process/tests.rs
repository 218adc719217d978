//! The collector on small /proc trees written by the tests (the full fixture is in
//! `tests/fixtures/server`, compared with process-exporter by `tests/process_oracle.rs`).
