//! What every configuration reader shares: [`ConfigError`] (file, line, column, what was
//! expected) and the parsing of durations. A leaf module, so that the readers of the file's
//! sections (`config`, `anomaly::config`) depend on it and not on each other.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

/// A configuration error a person can act on: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// An error about the value at byte `offset` of `source`, read from `file`.
    pub fn at(file: &Path, source: &str, offset: usize, message: String) -> ConfigError {
        let (line, column) = line_col(source, offset);
        ConfigError {
            file: file.to_path_buf(),
            line,
            column,
            message,
        }
    }
}

/// The duration written at `value` (`"2s"`, `"500ms"`, `"1h 30m"`); `key` names it in the error.
pub fn parse_duration_value(
    path: &Path,
    source: &str,
    value: &Spanned<String>,
    key: &str,
) -> Result<Duration, ConfigError> {
    humantime::parse_duration(value.get_ref()).map_err(|_| {
        ConfigError::at(
            path,
            source,
            value.span().start,
            format!(
                "{key}: expected a duration such as \"2s\" or \"500ms\", found {:?}",
                value.get_ref()
            ),
        )
    })
}

/// 1-based line and column of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_durations() {
        let src = "a = 1\nb = \"soon\"\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 10), (2, 5));
        assert_eq!(line_col(src, 1000), (3, 1));
        let v = Spanned::new(10..16, "soon".to_string());
        let e = parse_duration_value(Path::new("f.toml"), src, &v, "x.y").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.toml:2:5: x.y: expected a duration such as \"2s\" or \"500ms\", found \"soon\""
        );
        let v = Spanned::new(10..16, "90s".to_string());
        assert_eq!(
            parse_duration_value(Path::new("f.toml"), src, &v, "x.y"),
            Ok(Duration::from_secs(90))
        );
    }
}
