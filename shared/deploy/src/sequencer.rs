//! S3 event ordering. S3 delivers notifications at least once and in any order; each
//! carries a `sequencer`, a hex string that grows with each event on the same key. Per S3's
//! documentation, sequencers of different lengths compare after padding the shorter one
//! with zeros on the right.

use std::cmp::Ordering;

/// Compares two sequencers of events on the same key.
pub fn compare(a: &str, b: &str) -> Ordering {
    let len = a.len().max(b.len());
    let pad = |s: &str| {
        let mut s = s.to_ascii_uppercase();
        s.extend(std::iter::repeat_n('0', len - s.len()));
        s
    };
    pad(a).cmp(&pad(b))
}

/// How an event relates to the last one applied for its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newer than anything seen (or nothing was seen, or either sequencer is unknown).
    Newer,
    /// The same event again.
    Duplicate,
    /// Older than the event already applied.
    Older,
}

/// Places `event` relative to `applied` (the sequencer last recorded for the key).
pub fn order(event: Option<&str>, applied: Option<&str>) -> Order {
    match (event, applied) {
        (Some(event), Some(applied)) => match compare(event, applied) {
            Ordering::Greater => Order::Newer,
            Ordering::Equal => Order::Duplicate,
            Ordering::Less => Order::Older,
        },
        _ => Order::Newer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_on_the_right() {
        assert_eq!(
            compare("0055AED6DCD90281E5", "0055AED6DCD90281E6"),
            Ordering::Less
        );
        // "1" padded is "10", which is greater than "0F".
        assert_eq!(compare("1", "0F"), Ordering::Greater);
        assert_eq!(compare("0A", "0a00"), Ordering::Equal);
        assert_eq!(
            compare("0055AED6DCD90281E5", "0055AED6DCD90281E500"),
            Ordering::Equal
        );
    }

    #[test]
    fn orders_events() {
        assert_eq!(order(Some("02"), Some("01")), Order::Newer);
        assert_eq!(order(Some("01"), Some("01")), Order::Duplicate);
        assert_eq!(order(Some("01"), Some("02")), Order::Older);
        assert_eq!(order(None, Some("02")), Order::Newer);
        assert_eq!(order(Some("01"), None), Order::Newer);
    }
}
