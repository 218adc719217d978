use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use sysmon_top::cli::{run_with, Cli};

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // Flags given on the command line or by their environment variable override the config
    // file's context; defaults do not. (Subcommand flags are global, so look there too.)
    let sub = matches.subcommand().map(|(_, m)| m);
    let given = |id: &str| {
        [Some(&matches), sub].into_iter().flatten().any(|m| {
            matches!(
                m.try_get_raw(id).ok().flatten().and(m.value_source(id)),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        })
    };
    match run_with(cli, &given) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("sysmon-top: error: {}", f.message());
            ExitCode::from(f.exit_code())
        }
    }
}
