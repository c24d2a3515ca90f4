//! The end of a task's stderr log, as the cause of a failed execution. Metaflow's mflog
//! stores one structured line per output line: `[MFLOG|0|<utc>Z|<source>|<id>]<text>`
//! (`[![MFLOG|…` when marked persistent); the prefix is dropped here.

/// How much of the log's end is read from the datastore.
pub const TAIL_READ_BYTES: u64 = 64 * 1024;
/// Lines kept in a failure's cause.
pub const TAIL_LINES: usize = 40;
/// Bytes kept in a failure's cause.
pub const TAIL_BYTES: usize = 4096;

/// The text of an mflog line (the line itself when it is not structured).
pub fn mflog_text(line: &str) -> &str {
    let rest = line
        .strip_prefix("[![MFLOG|")
        .or_else(|| line.strip_prefix("[MFLOG|"));
    match rest.and_then(|r| r.split_once(']')) {
        Some((_, text)) => text,
        None => line,
    }
}

/// The last `max_lines` lines of `log` (at most `max_bytes`, cut at a line or character
/// boundary), mflog prefixes removed. A first line cut by a ranged read is dropped.
pub fn tail(log: &[u8], partial_start: bool, max_lines: usize, max_bytes: usize) -> String {
    let text = String::from_utf8_lossy(log);
    let mut lines: Vec<&str> = text.lines().collect();
    if partial_start && lines.len() > 1 {
        lines.remove(0);
    }
    let mut lines: Vec<&str> = lines.into_iter().map(mflog_text).collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let start = lines.len().saturating_sub(max_lines);
    let mut out = lines[start..].join("\n");
    if out.len() > max_bytes {
        let mut cut = out.len() - max_bytes;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out = match out[cut..].split_once('\n') {
            Some((_, whole_lines)) if !whole_lines.is_empty() => whole_lines.to_string(),
            _ => out[cut..].to_string(),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mflog_prefixes_are_dropped() {
        assert_eq!(
            mflog_text(
                "[MFLOG|0|2026-11-25T05:22:18.472534Z|task|6d6b2876-4a2b-48cc-b1f5-d940b1ed839c]ValueError: boom"
            ),
            "ValueError: boom"
        );
        assert_eq!(
            mflog_text("[![MFLOG|0|2026-11-25T05:22:18Z|runtime|x]kept"),
            "kept"
        );
        assert_eq!(mflog_text("plain [line]"), "plain [line]");
    }

    #[test]
    fn the_tail_keeps_the_last_lines_within_the_byte_limit() {
        let log: String = (0..100)
            .map(|i| format!("[MFLOG|0|2026-11-25T05:22:18.4725Z|task|id{i}]line {i}\n"))
            .collect();
        let tail40 = tail(log.as_bytes(), false, 40, 4096);
        assert_eq!(tail40.lines().count(), 40);
        assert!(tail40.starts_with("line 60\n"), "{tail40}");
        assert!(tail40.ends_with("line 99"));

        let small = tail(log.as_bytes(), false, 40, 30);
        assert!(small.len() <= 30, "{small}");
        assert!(small.ends_with("line 99"));
        assert!(small.starts_with("line "), "{small}");
    }

    #[test]
    fn a_partial_first_line_is_dropped() {
        assert_eq!(tail(b"ial line\nwhole\n\n", true, 40, 4096), "whole");
        assert_eq!(tail(b"only\n", true, 40, 4096), "only");
        assert_eq!(tail("é".repeat(10).as_bytes(), false, 40, 5), "éé");
    }
}
