//! Byte offsets into a text (what `toml` reports in spans) turned into 1-based line and
//! column numbers, for positioned errors in `gateway.toml` and the users file.
//!
//! The index of line starts is built once per text, so locating a value is a binary search:
//! a file with 100,000 users or 10,000 routes locates every value in linear time overall
//! (scanning from the top for each value made loading quadratic).

/// Where each line of a text starts.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of the first byte of each line; the first is 0.
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// Indexes `text` (one pass).
    pub(crate) fn new(text: &'a str) -> LineIndex<'a> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, line_starts }
    }

    /// The 1-based line and column (counted in characters) of byte `offset`; an offset past
    /// the end, or inside a character, points at the end or the character's start.
    pub(crate) fn line_column(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self.line_starts[line - 1];
        let column = self.text[line_start..offset].chars().count() + 1;
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use super::LineIndex;

    #[test]
    fn offsets_become_lines_and_character_columns() {
        let text = "a = 1\nname = \"é\" x\n\nlast";
        let index = LineIndex::new(text);
        assert_eq!(index.line_column(0), (1, 1));
        assert_eq!(index.line_column(4), (1, 5));
        assert_eq!(index.line_column(5), (1, 6), "the newline itself");
        assert_eq!(index.line_column(6), (2, 1));
        let e = text.find('é').expect("é");
        assert_eq!(index.line_column(e), (2, 9));
        assert_eq!(index.line_column(e + 1), (2, 9), "inside é: its start");
        assert_eq!(index.line_column(e + 2), (2, 10), "é is one column");
        assert_eq!(index.line_column(text.find("last").expect("last")), (4, 1));
        assert_eq!(index.line_column(usize::MAX), (4, 5));
    }
}
