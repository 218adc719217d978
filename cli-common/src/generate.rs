//! Man page and shell completions rendered from a program's `clap::Command`.
//!
//! Both programs take `--generate KIND` (ripgrep's convention: one flag on the program itself
//! rather than a subcommand, because sysmon-exporter's subcommands are modes of the daemon and a
//! `completions` subcommand would be completed and documented as one of them). The packages are
//! built from what the binaries print, so the shipped man pages and completions are those of the
//! shipped flags.

use std::io::{self, Write};

use clap::{Command, ValueEnum};
use clap_complete::Shell;
use clap_mangen::Man;

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// The man page (roff), section 1.
    Man,
    /// bash completion script.
    CompleteBash,
    /// zsh completion script (`#compdef`).
    CompleteZsh,
    /// fish completion script.
    CompleteFish,
}

/// Sections a program adds to its man page after the generated ones, as roff source (each
/// starting with `.SH`): exit status, files, environment, see also.
pub struct ManExtras<'a> {
    pub roff: &'a str,
    /// The `.TH` date, `YYYY-MM-DD` (the build's day, so that a rebuild of the same source gives
    /// the same page when `SOURCE_DATE_EPOCH` is set).
    pub date: &'a str,
    pub version: &'a str,
}

/// Writes what `kind` asks for about `cmd` to `out`.
pub fn generate(
    cmd: Command,
    kind: Kind,
    extras: &ManExtras<'_>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let name = cmd.get_name().to_string();
    let mut cmd = cmd.bin_name(name.clone());
    match kind {
        Kind::Man => man_page(cmd, extras, out),
        Kind::CompleteBash => {
            let mut script = Vec::new();
            clap_complete::generate(Shell::Bash, &mut cmd, name.clone(), &mut script);
            let script = String::from_utf8_lossy(&script);
            out.write_all(bash_subcommand_states(&script, &name).as_bytes())
        }
        Kind::CompleteZsh => {
            clap_complete::generate(Shell::Zsh, &mut cmd, name, out);
            Ok(())
        }
        Kind::CompleteFish => {
            let mut script = Vec::new();
            clap_complete::generate(Shell::Fish, &mut cmd, name.clone(), &mut script);
            let script = String::from_utf8_lossy(&script);
            out.write_all(fish_without_argparse(&script, &name, &cmd).as_bytes())
        }
    }
}

/// clap_complete's bash script tracks the subcommand typed in a state variable, but spells a
/// program name with a hyphen two ways: `sysmon__exporter__subcmd__backtest` where it sets the
/// state and `sysmon__subcmd__exporter__subcmd__backtest` where it offers that subcommand's
/// flags, so nothing would be completed after `sysmon-exporter backtest`. The states are made to
/// agree (a test completes a subcommand's flag through bash itself).
fn bash_subcommand_states(script: &str, name: &str) -> String {
    let set = format!("{}__subcmd__", name.replace('-', "__"));
    let offered = format!("{}__subcmd__", name.replace('-', "__subcmd__"));
    if set == offered {
        return script.to_string();
    }
    script.replace(&offered, &set)
}

/// clap_complete's fish script finds the subcommand with fish's `argparse`, whose option specs
/// allow only letters, digits, `-` and `_`: with node_exporter's dotted flags
/// (`--web.listen-address`) it fails and no completion is offered after the program's name. For
/// such a program the function is replaced by one that looks for a subcommand's name among the
/// words typed.
fn fish_without_argparse(script: &str, name: &str, cmd: &Command) -> String {
    let dotted = cmd.get_arguments().filter_map(|a| a.get_long()).any(|l| {
        !l.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    let function = format!("function __fish_{}_needs_command\n", name.replace('-', "_"));
    let (Some(start), true) = (script.find(&function), dotted) else {
        return script.to_string();
    };
    let Some(len) = script[start..].find("\nend\n") else {
        return script.to_string();
    };
    let subcommands: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
    let replacement = format!(
        "{function}    # The first word that names a command is the command (argparse cannot parse dotted flags).
    set -l cmd (commandline -opc)
    set -e cmd[1]
    for word in $cmd
        if contains -- $word {}
            echo $word
            return 1
        end
    end
    return 0",
        subcommands.join(" ")
    );
    format!(
        "{}{replacement}{}",
        &script[..start],
        &script[start + len..]
    )
}

/// The roff clap_mangen writes for one section, without the string definitions it puts in front
/// of every piece (the title keeps them, once) and, with `drop_header`, without its `.SH` line.
fn piece(
    render: impl FnOnce(&mut Vec<u8>) -> io::Result<()>,
    drop_header: bool,
) -> io::Result<String> {
    let mut buf = Vec::new();
    render(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(".ie \\n(.g .ds Aq") && !l.starts_with(".el .ds Aq"))
        .collect();
    if drop_header && lines.first().is_some_and(|l| l.starts_with(".SH")) {
        lines.remove(0);
    }
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

/// Lets groff break a long regular expression (a default such as node_exporter's
/// `^(autofs|binfmt_misc|...)$`) after each `|`: `\:` is an invisible break point. Without it the
/// line cannot be filled to the page's width and groff warns (lintian's groff-message).
fn with_break_points(page: &str) -> String {
    page.lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                l.to_string()
            } else {
                l.replace('|', "|\\:")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// One page for the program and its subcommands: clap_mangen's NAME, SYNOPSIS, DESCRIPTION and
/// OPTIONS, then a COMMANDS section with each subcommand's synopsis, description and options
/// (clap_mangen would point to a page per subcommand instead; one page is what `man sysmon-top`
/// readers expect of a program this size), then the program's own sections.
fn man_page(mut cmd: Command, extras: &ManExtras<'_>, out: &mut dyn Write) -> io::Result<()> {
    cmd.build();
    let name = cmd.get_name().to_string();
    let subs: Vec<&Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect();
    // The program's synopsis as its --help gives it: clap_mangen would list every flag (more
    // than a hundred for the exporter), which the OPTIONS section below does anyway.
    let usage = format!(
        "{name} [OPTIONS]{}",
        if subs.is_empty() { "" } else { " [COMMAND]" }
    );
    let man = Man::new(cmd.clone().override_usage(usage))
        .section("1")
        .date(extras.date)
        .source(format!("{name} {}", extras.version))
        .manual("sysmon");
    man.render_title(out)?;
    // Ragged right: a long regular expression fills a line with one word, which groff cannot
    // stretch to the margin (a warning, lintian's groff-message).
    // No hyphenation: a hyphen inserted into a flag name or a regular expression changes it.
    let mut page = String::from(".ad l\n.nh\n");
    page += &piece(|b| man.render_name_section(b), false)?;
    page += &piece(|b| man.render_synopsis_section(b), false)?;
    page += &piece(|b| man.render_description_section(b), false)?;
    page += &piece(|b| man.render_options_section(b), false)?;
    if !subs.is_empty() {
        page += ".SH COMMANDS\n";
        for sub in subs {
            let full = format!("{name} {}", sub.get_name());
            // The global flags are described once, under OPTIONS, not again for each command.
            let own = sub
                .clone()
                .bin_name(full.clone())
                .display_name(full.clone())
                .mut_args(|a| if a.is_global_set() { a.hide(true) } else { a });
            let sub_man = Man::new(own);
            page += &format!(".SS \"{}\"\n", full.replace('-', "\\-"));
            page += &piece(|b| sub_man.render_synopsis_section(b), true)?;
            page += ".PP\n";
            page += &piece(|b| sub_man.render_description_section(b), true)?;
            page += &piece(|b| sub_man.render_options_section(b), true)?;
        }
    }
    page += extras.roff;
    if !page.ends_with('\n') {
        page.push('\n');
    }
    out.write_all(with_break_points(&page).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Arg;

    fn sample() -> Command {
        Command::new("demo")
            .about("A demo program.")
            .arg(
                Arg::new("web.listen-address")
                    .long("web.listen-address")
                    .help("Where to listen."),
            )
            .arg(Arg::new("secret").long("secret").hide(true))
            .subcommand(
                Command::new("check")
                    .about("Checks a file.")
                    .arg(Arg::new("file").required(true).help("The file."))
                    .arg(
                        Arg::new("strict")
                            .long("strict")
                            .action(clap::ArgAction::SetTrue)
                            .help("Fail on warnings."),
                    ),
            )
    }

    fn render(kind: Kind) -> String {
        let mut out = Vec::new();
        let extras = ManExtras {
            roff: ".SH \"EXIT STATUS\"\n0 on success.\n",
            date: "2026-12-06",
            version: "0.1.0",
        };
        generate(sample(), kind, &extras, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn man_page_has_every_visible_flag_and_subcommand() {
        let page = render(Kind::Man);
        assert!(
            page.contains("\n.TH demo 1 2026-12-06 \"demo 0.1.0\" sysmon\n"),
            "{page}"
        );
        assert!(page.contains("\\-\\-web.listen\\-address"), "{page}");
        assert!(!page.contains("secret"), "hidden flags stay out:\n{page}");
        assert!(page.contains(".SS \"demo check\""), "{page}");
        assert!(page.contains("\\-\\-strict"), "{page}");
        assert!(page.contains("Checks a file."), "{page}");
        assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");
        assert_eq!(page.matches(".SH SYNOPSIS").count(), 1, "{page}");
        assert!(
            page.contains(".SH SYNOPSIS\n\\fBdemo\\fR [OPTIONS] [COMMAND]\n"),
            "{page}"
        );
    }

    #[test]
    fn completions_name_the_program_and_its_flags() {
        let bash = render(Kind::CompleteBash);
        assert!(
            bash.contains("complete -F _demo") && bash.contains("--web.listen-address"),
            "{bash}"
        );
        let zsh = render(Kind::CompleteZsh);
        assert!(zsh.starts_with("#compdef demo"), "{zsh}");
        let fish = render(Kind::CompleteFish);
        assert!(
            fish.contains("complete -c demo") && fish.contains("-l strict"),
            "{fish}"
        );
    }
}
