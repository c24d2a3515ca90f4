//! Run ids, task ids and Batch job names. Task ids are deterministic in (step, foreach
//! index stack, loop iteration), so a retry is the same task with a higher attempt and a
//! join can name its parents without a side table.
//!
//! Metaflow accepts any string as an id, but (checked with Metaflow 2.19) purely numeric ids are
//! invisible to the Client with `--metadata=local`, `/` makes nested directories, and
//! `:`, `,` and `!` break the compressed `--input-paths` forms. Step names are Python
//! identifiers, so ids built here never contain those characters and never are numeric.

use sha2::{Digest, Sha256};

use super::error::{TaskError, TaskResult};

/// Metaflow's hidden step holding the run's parameters.
pub const PARAMS_STEP: &str = "_parameters";
/// The `_parameters` task id (Metaflow's `init --task-id`).
pub const PARAMS_TASK: &str = "params";
/// Batch's job name limit.
pub const JOB_NAME_MAX: usize = 128;

/// The run id of an execution: `sfn-<execution name>`, as Metaflow's Step Functions
/// integration names runs.
pub fn run_id(execution_name: &str) -> TaskResult<String> {
    if execution_name.is_empty() {
        return Err(TaskError::InvalidRequest(
            "the start step needs the execution's name (\"execution\")".into(),
        ));
    }
    if let Some(bad) = execution_name
        .chars()
        .find(|c| matches!(c, '/' | ',' | ':') || c.is_whitespace() || c.is_control())
    {
        return Err(TaskError::InvalidRequest(format!(
            "execution name {execution_name:?} contains {bad:?}, which Metaflow run ids cannot hold"
        )));
    }
    Ok(format!("sfn-{execution_name}"))
}

/// A task's id: the step name, `-<index>` per enclosing foreach (outermost first), and
/// `-i<k>` for iteration `k` of a step that loops on itself. The start step is `start`,
/// a task in a nested foreach `level3-1-2-0`, a loop's fifth iteration `tick-i4`.
pub fn task_id(step: &str, foreach: &[u32], iteration: Option<u32>) -> String {
    let mut id = step.to_string();
    for index in foreach {
        id.push('-');
        id.push_str(&index.to_string());
    }
    if let Some(k) = iteration {
        id.push_str("-i");
        id.push_str(&k.to_string());
    }
    id
}

/// `Flow/run/step/task`.
pub fn pathspec(flow: &str, run: &str, step: &str, task: &str) -> String {
    format!("{flow}/{run}/{step}/{task}")
}

/// A Batch job name for an attempt: `<flow>-<run>-<task>-<attempt>`, other characters
/// than `[A-Za-z0-9_-]` replaced by `_`, shortened with a hash when over 128 characters.
pub fn job_name(flow: &str, run: &str, task: &str, attempt: u32) -> String {
    let full = format!("{flow}-{run}-{task}-{attempt}");
    let mut name: String = full
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'j');
    }
    if name.len() > JOB_NAME_MAX {
        let digest = Sha256::digest(full.as_bytes());
        let hash = data_encoding::HEXLOWER.encode(&digest[..4]);
        // Keep the end (task and attempt say the most), after a readable start.
        let keep_tail = 60;
        let head_len = JOB_NAME_MAX - keep_tail - hash.len() - 2;
        let tail = &name[name.len() - keep_tail..];
        name = format!("{}-{hash}-{tail}", &name[..head_len]);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_follow_the_documented_scheme() {
        assert_eq!(task_id("start", &[], None), "start");
        assert_eq!(task_id("square", &[3], None), "square-3");
        assert_eq!(task_id("level2", &[1, 2], None), "level2-1-2");
        assert_eq!(task_id("level3", &[1, 2, 0], None), "level3-1-2-0");
        assert_eq!(task_id("join1", &[], None), "join1");
        assert_eq!(task_id("tick", &[], Some(4)), "tick-i4");
        assert_eq!(task_id("tick", &[2], Some(0)), "tick-2-i0");
    }

    #[test]
    fn task_ids_never_hold_characters_metaflow_paths_break_on() {
        for id in [
            task_id("a_b", &[0, 10, 999], Some(3)),
            task_id("x1", &[], None),
            task_id("end", &[7], None),
        ] {
            assert!(!id.contains(['/', ':', ',', '!', ' ']), "{id}");
            assert!(id.parse::<i64>().is_err(), "{id} is numeric");
        }
    }

    #[test]
    fn run_ids_prefix_the_execution_name() {
        assert_eq!(run_id("test1").unwrap(), "sfn-test1");
        assert_eq!(
            run_id("4b1c5c8e-0b0c-4c5e-9b1a-4d3a1e5f6a7b").unwrap(),
            "sfn-4b1c5c8e-0b0c-4c5e-9b1a-4d3a1e5f6a7b"
        );
        assert!(run_id("").is_err());
        assert!(run_id("a/b").is_err());
        assert!(run_id("a,b").is_err());
    }

    #[test]
    fn job_names_fit_batch() {
        assert_eq!(
            job_name("ForeachFlow", "sfn-x.1", "square-3", 2),
            "ForeachFlow-sfn-x_1-square-3-2"
        );
        let long = job_name(
            &"F".repeat(80),
            &format!("sfn-{}", "e".repeat(80)),
            "s-1-2",
            0,
        );
        assert_eq!(long.len(), JOB_NAME_MAX, "{long}");
        assert!(long.ends_with("s-1-2-0"), "{long}");
        assert!(
            long.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(
            long,
            job_name(
                &"F".repeat(80),
                &format!("sfn-{}", "f".repeat(80)),
                "s-1-2",
                0
            )
        );
    }
}
