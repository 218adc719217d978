//! The terminal is restored after a panic: sysmon-top runs in a real pseudo-terminal (util-linux
//! `script(1)`, in Debian's essential bsdutils), sets it up (raw mode, alternate screen, mouse),
//! draws, then panics on purpose (`SYSMON_TOP_PANIC_AFTER_DRAW`, read only by the interactive
//! loop). The terminal's settings afterwards must be those from before (`stty -g`), and the
//! alternate screen must be left, the mouse released and the cursor shown before the panic
//! message is printed, so the message lands on the main screen, with output processing back
//! (its newlines arrive as CR LF).

mod common;

use std::process::{Command, Stdio};

#[test]
fn the_terminal_is_restored_after_a_panic() {
    let top = common::sysmon_top();
    let dir = tempfile::tempdir().unwrap();
    let sh = dir.path().join("run.sh");
    std::fs::write(
        &sh,
        format!(
            "stty rows 24 cols 100\n\
             echo BEFORE=$(stty -g)\n\
             SYSMON_TOP_PANIC_AFTER_DRAW=1 RUST_BACKTRACE=0 XDG_CONFIG_HOME=/nonexistent \
             '{}' --prometheus http://127.0.0.1:1\n\
             echo EXIT=$?\n\
             echo AFTER=$(stty -g)\n",
            top.display()
        ),
    )
    .unwrap();
    let out = Command::new("script")
        .args(["-qfec", &format!("sh {}", sh.display()), "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |name: &str| {
        text.split(&format!("{name}="))
            .nth(1)
            .and_then(|s| s.split(['\r', '\n']).next())
            .unwrap_or_else(|| panic!("no {name} in {text:?}"))
            .to_string()
    };
    assert_eq!(field("EXIT"), "101", "the panic's exit status: {text:?}");
    let before = field("BEFORE");
    assert!(before.contains(':'), "{before}");
    assert_eq!(
        field("AFTER"),
        before,
        "terminal settings (raw mode) not restored: {text:?}"
    );
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in {text:?}"))
    };
    let entered = at("\x1b[?1049h");
    let drew = at("sysmon-top ");
    let panicked = at("panicked at");
    assert!(entered < drew && drew < panicked, "{text:?}");
    // Restored before the message: alternate screen left, mouse off, cursor shown.
    let restore = &text[drew..panicked];
    for seq in ["\x1b[?1049l", "\x1b[?1000l", "\x1b[?25h"] {
        assert!(
            restore.contains(seq),
            "{seq:?} not before the message: {text:?}"
        );
    }
    assert!(
        text[panicked..].contains("panicking as asked\r\n"),
        "the message with CR LF (output processing on again): {text:?}"
    );
}
