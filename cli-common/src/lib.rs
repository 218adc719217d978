//! What sysmon-exporter and sysmon-top share about their command lines.
//!
//! * [`build_info`], for the build scripts: the version, git revision, branch, build date, rustc
//!   and target that `--version` prints in node_exporter's style, written where the program's
//!   code finds them (`env!`/`include_str!`), with "unknown" where a source tarball has no git.
//! * [`generate`] (feature `generate`), for the programs: the man page and the bash, zsh and fish
//!   completions, rendered from the same `clap::Command` that parses the flags, so they cannot
//!   drift from them. The packages ship what the binaries print.

pub mod build_info;
#[cfg(feature = "generate")]
pub mod generate;
