//! Shared helpers of the stack tests: where the repository and the binaries are.

use std::path::{Path, PathBuf};

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("stack-tests sits in the repository root")
        .to_path_buf()
}

/// The sysmon-exporter binary built by the workspace (`scripts/test.sh` builds it first and
/// exports `SYSMON_EXPORTER_BIN`; otherwise the debug build under `target/`).
pub fn exporter_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SYSMON_EXPORTER_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let bin = target.join("debug/sysmon-exporter");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p sysmon-exporter` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A Debian tool the tests need, with the package that provides it in the panic message.
pub fn tool(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed: run scripts/install-test-deps.sh (Debian package {package})")
}
