//! The `process` collector's parsers: /proc/<pid>/{stat,status,io,limits,smaps_rollup,cmdline},
//! /etc/passwd, name templates and process-exporter's YAML groups.
#![no_main]

use std::collections::HashMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sysmon_exporter::collector::process::{config, parse, parse_passwd, template};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(stat) = parse::parse_stat(&text) {
        // The command is what lies between the first "(" and the last ")".
        assert!(text.contains(&format!("({})", stat.comm)));
    }
    let _ = parse::parse_status(&text);
    let _ = parse::parse_io(&text);
    let _ = parse::parse_open_files_limit(&text);
    let _ = parse::parse_smaps_rollup(&text);
    let args = parse::parse_cmdline(data);
    assert!(args.len() <= data.len());
    let _ = parse_passwd(&text);
    if let Ok(t) = template::Template::parse(&text) {
        let user = || "root".to_string();
        let _ = t.render(&template::Fields {
            comm: "comm",
            cmdline: &args,
            username: &user,
            pid: 1,
            matches: &HashMap::new(),
        });
    }
    if let Ok(rules) = config::parse_yaml(Path::new("fuzz.yml"), &text) {
        // What the loader accepted compiles.
        assert!(config::Namer::new(&rules).is_ok());
    } else if let Err(e) = config::parse_yaml(Path::new("fuzz.yml"), &text) {
        // An error points inside the file.
        assert!(e.line <= text.lines().count() + 1, "{e}");
    }
});
