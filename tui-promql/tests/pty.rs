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
    let out = Command::new("timeout")
        .args([
            "120",
            "script",
            "-qfec",
            &format!("sh {}", sh.display()),
            "/dev/null",
        ])
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

/// A stand-in for Prometheus that answers every instant query with one series of `instance`
/// (value 1) and counts the requests it got.
struct OneHostServer {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl OneHostServer {
    fn start(instance: &'static str) -> OneHostServer {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((mut c, _)) = l.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                };
                c.set_nonblocking(false).unwrap();
                let mut buf = [0u8; 8192];
                let _ = c.read(&mut buf);
                h.fetch_add(1, Ordering::Relaxed);
                let t = sysmon_top::fmt::now_unix();
                let body = format!(
                    r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{"instance":"{instance}","job":"sysmon"}},"value":[{t},"1"]}}]}}}}"#
                );
                let _ = write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        OneHostServer { port, hits, stop }
    }
}

impl Drop for OneHostServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `c`, a context, Enter: the running client asks the other server from then on and shows its
/// hosts, the context named in the title.
#[test]
fn switching_context_at_run_time_asks_the_other_server() {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    let a = OneHostServer::start("alpha-host:9100");
    let b = OneHostServer::start("bravo-host:9100");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "context = \"one\"\n[contexts.one]\nprometheus = \"http://127.0.0.1:{}\"\nrefresh = \"500ms\"\n\
             [contexts.two]\nprometheus = \"http://127.0.0.1:{}\"\nrefresh = \"500ms\"\n",
            a.port, b.port
        ),
    )
    .unwrap();
    let sh = dir.path().join("run.sh");
    std::fs::write(
        &sh,
        format!(
            "stty rows 24 cols 120\nXDG_CONFIG_HOME=/nonexistent '{}' --config '{}'\necho EXIT=$?\n",
            common::sysmon_top().display(),
            cfg.display()
        ),
    )
    .unwrap();
    // timeout(1): a lost key must fail the test, not hang it (generous: a debug build on a
    // loaded 2-core machine takes most of a minute over what takes seconds when it is quiet).
    let mut child = Command::new("timeout")
        .args([
            "120",
            "script",
            "-qfec",
            &format!("sh {}", sh.display()),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script(1)");
    let mut keys = child.stdin.take().unwrap();
    // The screen is read as it is drawn: left in the pipe, it fills the pipe and the pty behind
    // it, and sysmon-top blocks in a terminal write with keys unread (a fresh-clone CI run once
    // saw the `q` after the switch go unanswered until the timeout that way).
    let mut screen = child.stdout.take().unwrap();
    let drawn = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut screen, &mut bytes);
        bytes
    });
    let wait_for = |what: &str, f: &dyn Fn() -> bool| {
        let t0 = std::time::Instant::now();
        while !f() {
            assert!(t0.elapsed().as_secs() < 60, "timed out waiting for {what}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait_for("requests to the first context", &|| {
        a.hits.load(Ordering::Relaxed) >= 15
    });
    assert_eq!(b.hits.load(Ordering::Relaxed), 0);
    // Let the answers be drawn; then the picker, the second context, Enter.
    std::thread::sleep(std::time::Duration::from_millis(700));
    keys.write_all(b"c").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    keys.write_all(b"\x1b[B").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    keys.write_all(b"\r").unwrap();
    wait_for("requests to the second context", &|| {
        b.hits.load(Ordering::Relaxed) >= 15
    });
    // The first is no longer asked (one refresh may have been in flight).
    let a_then = a.hits.load(Ordering::Relaxed);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        a.hits.load(Ordering::Relaxed) <= a_then + 15,
        "the old collection task still runs"
    );
    // Quit: one key, as a user would press it; a lost key fails the test by the timeout.
    keys.write_all(b"q").unwrap();
    keys.flush().unwrap();
    // The input stays open until the program has gone (script(1) may end the session at its
    // end); timeout(1) ends a program that never reads the key.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    drop(keys);
    let text = String::from_utf8_lossy(&drawn.join().unwrap()).to_string();
    assert!(status.success(), "{status:?}: {text:?}");
    assert!(text.contains("EXIT=0"), "{text:?}");
    // The screen is sent as differences, so look for what must be written: the first host
    // and context, then (after the picker) the second host's name.
    let picker = text
        .find("contexts")
        .unwrap_or_else(|| panic!("the picker drawn: {text:?}"));
    assert!(
        text[..picker].contains("[one]"),
        "first context in the title: {text:?}"
    );
    assert!(
        text.contains("alpha-host:9100"),
        "first context's host drawn: {text:?}"
    );
    let second = text[picker..]
        .find("bravo")
        .unwrap_or_else(|| panic!("second context's host drawn: {text:?}"));
    assert!(text[picker..picker + second].contains("two"), "{text:?}");
}
