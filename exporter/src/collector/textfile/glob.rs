//! Go's `filepath.Glob`, `filepath.Match` and `filepath.Clean` on Unix, which node_exporter applies
//! to `--collector.textfile.directory` and to the `file` label: the same pattern must name the same
//! directories, and the same file the same label.
//!
//! Pattern syntax: `*` any run of characters except `/`, `?` one character except `/`, `[...]` a
//! class (`[^...]` negated; ranges `a-z`; `\` escapes), `\c` the character `c`. A malformed pattern
//! is an error (node_exporter then reads the pattern as a plain directory name).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPattern;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Star,
    Any,
    Char(char),
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Whether `s` has a character that makes it a pattern rather than a plain path.
pub fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

fn tokenize(pattern: &str) -> Result<Vec<Token>, BadPattern> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    // One class bound: a character, or `\` and a character; `-` and `]` must be escaped.
    fn bound(chars: &mut std::iter::Peekable<std::str::Chars>) -> Result<char, BadPattern> {
        match chars.next() {
            None | Some('-') | Some(']') => Err(BadPattern),
            Some('\\') => chars.next().ok_or(BadPattern),
            Some(c) => Ok(c),
        }
    }
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' => Token::Star,
            '?' => Token::Any,
            '\\' => Token::Char(chars.next().ok_or(BadPattern)?),
            '[' => {
                let negated = chars.next_if_eq(&'^').is_some();
                let mut ranges = Vec::new();
                loop {
                    if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
                        break;
                    }
                    let lo = bound(&mut chars)?;
                    let hi = if chars.next_if_eq(&'-').is_some() {
                        bound(&mut chars)?
                    } else {
                        lo
                    };
                    ranges.push((lo, hi));
                }
                Token::Class { negated, ranges }
            }
            c => Token::Char(c),
        });
    }
    Ok(tokens)
}

fn matches_tokens(tokens: &[Token], name: &[char]) -> bool {
    match tokens.split_first() {
        None => name.is_empty(),
        Some((Token::Star, rest)) => {
            // The longest run first; `*` never crosses a `/`.
            let limit = name.iter().position(|&c| c == '/').unwrap_or(name.len());
            (0..=limit).rev().any(|n| matches_tokens(rest, &name[n..]))
        }
        Some((token, rest)) => {
            let Some((&c, name_rest)) = name.split_first() else {
                return false;
            };
            let one = match token {
                Token::Any => c != '/',
                Token::Char(want) => c == *want,
                Token::Class { negated, ranges } => {
                    ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                }
                Token::Star => unreachable!("handled above"),
            };
            one && matches_tokens(rest, name_rest)
        }
    }
}

/// Go's `filepath.Match(pattern, name)`.
pub fn matches(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let tokens = tokenize(pattern)?;
    let name: Vec<char> = name.chars().collect();
    Ok(matches_tokens(&tokens, &name))
}

/// Go's `filepath.Glob`: the existing paths that match, sorted within each directory; I/O errors
/// are ignored (a directory that cannot be read contributes nothing).
pub fn glob(pattern: &str) -> Result<Vec<String>, BadPattern> {
    tokenize(pattern)?;
    glob_checked(pattern, 0)
}

fn glob_checked(pattern: &str, depth: usize) -> Result<Vec<String>, BadPattern> {
    if !has_meta(pattern) {
        return Ok(if std::fs::symlink_metadata(pattern).is_ok() {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        });
    }
    let (dir, file) = match pattern.rfind('/') {
        Some(i) => (&pattern[..=i], &pattern[i + 1..]),
        None => ("", pattern),
    };
    let dir = match dir {
        "" => ".",
        "/" => "/",
        d => &d[..d.len() - 1],
    };
    if !has_meta(dir) {
        return glob_in(dir, file);
    }
    // A pattern like "a/b\/" cannot shrink; Go refuses it the same way.
    if dir == pattern || depth > 64 {
        return Err(BadPattern);
    }
    let mut out = Vec::new();
    for d in glob_checked(dir, depth + 1)? {
        out.extend(glob_in(&d, file)?);
    }
    Ok(out)
}

fn glob_in(dir: &str, pattern: &str) -> Result<Vec<String>, BadPattern> {
    let tokens = tokenize(pattern)?;
    if !std::fs::metadata(dir).map(|m| m.is_dir()).unwrap_or(false) {
        return Ok(Vec::new());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .filter(|n| matches_tokens(&tokens, &n.chars().collect::<Vec<_>>()))
        .map(|n| join(dir, &n))
        .collect())
}

/// Go's `filepath.Join(dir, name)`: the two joined and cleaned.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        return clean(name);
    }
    clean(&format!("{dir}/{name}"))
}

/// Go's `filepath.Clean`: the shortest lexically equivalent path (no `//`, `.` or inner `..`).
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_like_go() {
        for (pattern, name, want) in [
            ("*.prom", "apt.prom", true),
            ("*.prom", ".hidden.prom", true),
            ("*", "a/b", false),
            ("a?c", "abc", true),
            ("a?c", "a/c", false),
            ("[a-c]x", "bx", true),
            ("[^a-c]x", "bx", false),
            ("[^a-c]x", "dx", true),
            ("\\*", "*", true),
            ("\\*", "x", false),
            ("[\\]]", "]", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("node-*", "node-exporter", true),
            ("héllo?", "héllo!", true),
        ] {
            assert_eq!(matches(pattern, name), Ok(want), "{pattern} {name}");
        }
        for bad in ["[", "[]", "[a-", "[-a]", "a\\", "[a", "[^]"] {
            assert_eq!(matches(bad, "a"), Err(BadPattern), "{bad}");
        }
    }

    #[test]
    fn clean_and_join_like_go() {
        for (path, want) in [
            ("", "."),
            ("/", "/"),
            ("/tmp/tf1/", "/tmp/tf1"),
            ("a//b/./c/..", "a/b"),
            ("../a", "../a"),
            ("/../a", "/a"),
            ("./x", "x"),
            ("a/../..", ".."),
        ] {
            assert_eq!(clean(path), want, "{path}");
        }
        assert_eq!(join("/var/lib/x/", "a.prom"), "/var/lib/x/a.prom");
        assert_eq!(join(".", "a.prom"), "a.prom");
        assert_eq!(join("/", "a"), "/a");
    }

    #[test]
    fn glob_expands_sorted_and_ignores_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_str().unwrap();
        for d in ["b1", "a1", "a2/x", "c"] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        std::fs::write(tmp.path().join("a3"), "").unwrap();
        assert_eq!(
            glob(&format!("{root}/a*")).unwrap(),
            [
                format!("{root}/a1"),
                format!("{root}/a2"),
                format!("{root}/a3")
            ]
        );
        assert_eq!(
            glob(&format!("{root}/*/x")).unwrap(),
            [format!("{root}/a2/x")]
        );
        assert_eq!(
            glob(&format!("{root}/nothing*")).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(glob(&format!("{root}/c")).unwrap(), [format!("{root}/c")]);
        assert_eq!(
            glob(&format!("{root}/missing")).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(glob(&format!("{root}/[")), Err(BadPattern));
    }
}
