//! Byte offset → 1-based line number, so every finding can name `file:line`.

use ruff_text_size::TextSize;

/// Start offsets of each line of a source file.
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<u32>,
}

impl LineIndex {
    /// Indexes `source` once; lookups are then a binary search.
    pub fn new(source: &str) -> Self {
        let mut line_starts = vec![0];
        for (offset, byte) in source.bytes().enumerate() {
            if byte == b'\n' {
                line_starts.push(offset as u32 + 1);
            }
        }
        Self { line_starts }
    }

    /// The 1-based line that contains `offset`.
    pub fn line_of(&self, offset: TextSize) -> u32 {
        let offset = offset.to_u32();
        match self.line_starts.binary_search(&offset) {
            Ok(line) => line as u32 + 1,
            Err(next) => next as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based_and_cover_line_ends() {
        let index = LineIndex::new("a\nbc\n\nd");
        assert_eq!(index.line_of(TextSize::new(0)), 1);
        assert_eq!(index.line_of(TextSize::new(1)), 1);
        assert_eq!(index.line_of(TextSize::new(2)), 2);
        assert_eq!(index.line_of(TextSize::new(5)), 3);
        assert_eq!(index.line_of(TextSize::new(6)), 4);
    }
}
