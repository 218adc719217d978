//! `--version`, the man page and the shell completions, from the built binary: the version text
//! has node_exporter's layout with this build's facts, the man page documents every flag the
//! parser accepts (and groff reads it without a warning), and each completion script is valid
//! for its shell (`bash -n`, `zsh -n`, `fish -n`) and offers the flags.

use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sysmon-top");

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A shell or tool the test needs, found where Debian installs it.
fn tool(name: &str) -> PathBuf {
    ["/usr/bin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} is not installed: run scripts/install-test-deps.sh"))
}

#[test]
fn version_is_in_node_exporters_layout() {
    let text = run(&["--version"]);
    assert_eq!(text, run(&["-V"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let head = lines[0]
        .strip_prefix(&format!(
            "sysmon-top, version {} (branch: ",
            env!("CARGO_PKG_VERSION")
        ))
        .unwrap_or_else(|| panic!("{text}"));
    let (branch, rest) = head.split_once(", revision: ").expect("revision");
    let revision = rest.strip_suffix(')').expect("closing parenthesis");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(head) if std::env::var_os("SYSMON_GIT_REVISION").is_none() => {
            assert_eq!(revision, head, "{text}");
            assert_eq!(
                Some(branch.to_string()),
                git(&["rev-parse", "--abbrev-ref", "HEAD"])
            );
        }
        _ => assert!(!revision.is_empty()),
    }
    let date = lines[1]
        .strip_prefix("  build date:       ")
        .expect("build date");
    let shape: String = date
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "99999999-99:99:99", "{text}");
    assert!(
        lines[2].starts_with("  rustc version:    rustc 1."),
        "{text}"
    );
    let target = lines[3]
        .strip_prefix("  target:           ")
        .expect("target");
    assert!(
        target.starts_with(std::env::consts::ARCH) && target.contains("-linux"),
        "{text}"
    );
}

#[test]
fn man_page_documents_every_flag_and_reads_cleanly() {
    let page = run(&["--generate", "man"]);
    assert!(
        page.contains("SYSMON_PROMETHEUS_URL"),
        "the environment is documented"
    );
    assert!(page.contains("\n.TH sysmon-top 1 "), "{page}");
    let cmd = {
        use clap::CommandFactory;
        sysmon_top::cli::Cli::command()
    };
    let mut checked = 0;
    let subcommands: Vec<_> = cmd.get_subcommands().collect();
    for arg in cmd
        .get_arguments()
        .chain(subcommands.iter().flat_map(|s| s.get_arguments()))
        .filter(|a| !a.is_hide_set())
    {
        if let Some(long) = arg.get_long() {
            let roff = format!("\\fB\\-\\-{}\\fR", long.replace('-', "\\-"));
            assert!(page.contains(&roff), "the man page lacks --{long}");
            checked += 1;
        }
    }
    assert!(checked > 15, "only {checked} flags");
    for sub in subcommands {
        assert!(
            page.contains(&format!(".SS \"sysmon\\-top {}\"", sub.get_name())),
            "no section for the {} command",
            sub.get_name()
        );
    }
    for section in [
        "SYNOPSIS",
        "OPTIONS",
        "COMMANDS",
        "\"EXIT STATUS\"",
        "ENVIRONMENT",
        "FILES",
    ] {
        assert!(page.contains(&format!("\n.SH {section}\n")), "no {section}");
    }
    // groff as lintian runs it (groff-message): no warning at all.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sysmon-top.1");
    std::fs::write(&file, &page).unwrap();
    let out = Command::new(tool("man"))
        .args(["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z"])
        .arg(&file)
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    assert!(out.status.success());
    let warnings: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(String::from)
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[test]
fn completions_parse_in_their_shells_and_complete_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let mut scripts = std::collections::BTreeMap::new();
    for (kind, shell, marker) in [
        ("complete-bash", "bash", "-o default sysmon-top"),
        ("complete-zsh", "zsh", "#compdef sysmon-top"),
        ("complete-fish", "fish", "complete -c sysmon-top"),
    ] {
        let script = run(&["--generate", kind]);
        assert!(script.contains(marker), "{kind}: no {marker:?}");
        for flag in ["prometheus", "bearer-token-file", "range"] {
            assert!(script.contains(flag), "{kind} lacks {flag}");
        }
        let file = dir.path().join(format!("sysmon-top.{shell}"));
        std::fs::write(&file, &script).unwrap();
        let out = Command::new(tool(shell))
            .arg("-n")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{shell} -n: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        scripts.insert(shell, file);
    }
    // What the shells offer for a partly typed word.
    let bash = |words: &str| {
        let script = format!(
            "source {}; COMP_LINE='sysmon-top {words}'; COMP_POINT=${{#COMP_LINE}}; read -ra COMP_WORDS <<< \"$COMP_LINE\"; COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); _sysmon__top sysmon-top \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            scripts["bash"].display()
        );
        let out = Command::new(tool("bash"))
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(bash("--promet"), "--prometheus\n");
    assert!(
        bash("query --ra").contains("--range"),
        "{}",
        bash("query --ra")
    );
    let fish = |line: &str| {
        let out = Command::new(tool("fish"))
            .arg("-c")
            .arg(format!(
                "source {}; complete -C '{line}'",
                scripts["fish"].display()
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        fish("sysmon-top --promet").starts_with("--prometheus\t"),
        "{}",
        fish("sysmon-top --promet")
    );
    let commands = fish("sysmon-top qu");
    assert!(
        commands.contains("query\t") && commands.contains("queries\t"),
        "{commands}"
    );
    assert!(fish("sysmon-top query --ra").starts_with("--range\t"));
}

/// `--version` and `--generate` answer before the config file is read: a broken file (or a
/// context it lacks) does not keep a user from the version or the man page.
#[test]
fn version_and_generate_do_not_read_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "context = \"prod\"\n[contexts.prod\n").unwrap();
    let with_config = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("SYSMON_TOP_CONFIG", &config)
            .output()
            .unwrap()
    };
    // The same file is an error for everything else.
    let once = with_config(&["--once"]);
    assert_eq!(once.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&once.stderr).contains(&config.display().to_string()),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );
    for args in [
        &["--version"][..],
        &["--generate", "man", "--context", "missing"][..],
    ] {
        let out = with_config(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            run(args),
            "{args:?}"
        );
    }
}

#[test]
fn an_unknown_kind_is_a_usage_error() {
    let out = Command::new(BIN)
        .args(["--generate", "complete-tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("complete-bash"), "names the kinds: {err}");
}
