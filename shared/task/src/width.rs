//! A foreach's width: how many splits its Map can take, and the split indices a
//! Distributed Map reads from S3.

use super::error::{TaskError, TaskResult};
use dropflow_contract::protocol::Task;

/// The widest foreach an inline Map takes (`distributed_map = false`). An inline Map
/// writes its iterations into the parent execution's history (18 events per iteration of
/// a one-task foreach, measured on the local stack) and Step Functions fails an execution
/// at 25,000 events: about 1,380 iterations, fewer with retries or nested steps.
pub const INLINE_MAX_WIDTH: u32 = 1_000;

/// The widest foreach dropflow starts as a Distributed Map. Not an AWS limit (the item
/// list is an S3 object, each iteration its own child execution): ten times the width
/// the scale model covers (100,000), past which the join (one Metaflow task reading
/// every input) is the problem.
pub const MAX_FOREACH_WIDTH: u32 = 1_000_000;

/// Refuses a width the foreach step's Map cannot run (`distributed`: a Distributed Map).
pub fn check_width(task: &Task, width: u32, distributed: bool) -> TaskResult<()> {
    let (limit, fix) = if distributed {
        (
            MAX_FOREACH_WIDTH,
            "split the work into fewer, larger items (or a nested foreach)",
        )
    } else {
        (
            INLINE_MAX_WIDTH,
            "deploy with distributed_map = true (the default) in dropflow.toml, or without distributed_map = false",
        )
    };
    if width > limit {
        return Err(TaskError::ForeachTooWide {
            step: task.step.clone(),
            pathspec: task.pathspec.clone(),
            width,
            limit,
            fix: fix.to_string(),
        });
    }
    Ok(())
}

/// The split indices `[0, 1, …, n-1]` as the JSON array an `ItemReader` reads.
pub fn items_json(width: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(width as usize * 7 + 2);
    out.push(b'[');
    for i in 0..width {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(i.to_string().as_bytes());
    }
    out.push(b']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_a_json_array_of_the_split_indices() {
        let parsed: Vec<u32> = serde_json::from_slice(&items_json(4)).unwrap();
        assert_eq!(parsed, [0, 1, 2, 3]);
        assert_eq!(items_json(0), b"[]");
        // 100,000 splits: 588,891 bytes, over a state's 256 KiB payload: why they go to S3.
        assert_eq!(items_json(100_000).len(), 588_891);
    }
}
