use std::process::ExitCode;

use clap::Parser;
use sysmon_top::cli::{run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("sysmon-top: error: {}", f.message());
            ExitCode::from(f.exit_code())
        }
    }
}
