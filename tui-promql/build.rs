//! Build information for `--version`: git revision and branch, build date, rustc and target
//! (see `sysmon_cli_common::build_info`; "unknown" without git).

fn main() {
    sysmon_cli_common::build_info::emit("sysmon-top");
}
