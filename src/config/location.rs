//! Where things are in the config file, and the problems found there.
//!
//! `toml` reports byte offsets; a [`Locator`] turns them into `file:line:col` with one line
//! index per text. Values set from the environment (`GATEWAY_AUTH__TOKEN_TTL`) carry
//! offsets past the end of the file, one range per variable, and are located at the
//! variable: a [`Location`] whose `file` is the variable's name and whose line is 0. Validation collects every problem in [`Problems`] rather than stopping at
//! the first, so one `gateway check` run reports all of them, like `nginx -t`. This is the
//! lowest concept of the folder: every section's validation uses it, it uses none of them.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;

use crate::text_position::LineIndex;

/// A place in the config file, printed as `file:line:col`; or the environment variable
/// that set a value, printed as its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The config file as the user named it (or `<config>` for inline text); or the
    /// environment variable, when `line` is 0.
    pub file: Arc<str>,
    /// 1-based line; 0 for a value from the environment variable `file`.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
}

impl Location {
    /// The environment variable `name`, as the place a value came from.
    pub fn environment(name: &str) -> Location {
        Location {
            file: name.into(),
            line: 0,
            col: 0,
        }
    }

    /// Whether the value came from an environment variable rather than the file.
    pub fn is_environment(&self) -> bool {
        self.line == 0
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_environment() {
            return f.write_str(&self.file);
        }
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A config value together with where it was written, for errors found after parsing.
#[derive(Debug, Clone)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it stands in the config file.
    pub at: Location,
}

/// One positioned config problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, when the parser could tell.
    pub at: Location,
    /// What is wrong, in words an operator can act on.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// Turns byte offsets from `toml` into `file:line:col`, or into the environment variable
/// whose value is at that offset.
pub(super) struct Locator<'a> {
    lines: LineIndex<'a>,
    file: Arc<str>,
    /// Offset ranges past the file's end, each the value of one environment variable.
    environment: Vec<(Range<usize>, Arc<str>)>,
}

impl<'a> Locator<'a> {
    pub(super) fn new(text: &'a str, file: Arc<str>) -> Locator<'a> {
        Locator {
            lines: LineIndex::new(text),
            file,
            environment: Vec::new(),
        }
    }

    /// Offsets in `ranges` are the values of these environment variables.
    pub(super) fn with_environment(mut self, ranges: Vec<(Range<usize>, Arc<str>)>) -> Locator<'a> {
        self.environment = ranges;
        self
    }

    pub(super) fn locate(&self, offset: usize) -> Location {
        if let Some((_, variable)) = self
            .environment
            .iter()
            .find(|(range, _)| range.contains(&offset))
        {
            return Location::environment(variable);
        }
        let (line, col) = self.lines.line_column(offset);
        Location {
            file: self.file.clone(),
            line,
            col,
        }
    }

    pub(super) fn located<T>(&self, spanned: Spanned<T>) -> Located<T> {
        let at = self.locate(spanned.span().start);
        Located {
            value: spanned.into_inner(),
            at,
        }
    }

    /// A path as written, resolved against the config file's folder `base_dir`, with the
    /// position where it was written.
    pub(super) fn resolved(&self, path: Spanned<PathBuf>, base_dir: &Path) -> Located<PathBuf> {
        let mut located = self.located(path);
        located.value = base_dir.join(&located.value);
        located
    }
}

/// Collects problems so that one `check` run reports all of them.
pub(super) struct Problems<'a> {
    pub(super) locator: &'a Locator<'a>,
    pub(super) found: Vec<Problem>,
}

impl<'a> Problems<'a> {
    /// None yet.
    pub(super) fn new(locator: &'a Locator<'a>) -> Problems<'a> {
        Problems {
            locator,
            found: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, offset: usize, message: impl Into<String>) {
        self.found.push(Problem {
            at: self.locator.locate(offset),
            message: message.into(),
        });
    }
}
