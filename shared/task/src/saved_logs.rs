//! Reading a task's saved log: what Metaflow's `mflog.save_logs` wrote to the datastore
//! when the attempt ended, `<root>/<Flow>/<run>/<step>/<task>/<attempt>.task_<stream>.log`
//! (Metaflow's `TaskDataStore.get_log_location("task", stream)`), a page at a time.
//!
//! A page is a byte range of the stored file cut back to a whole line (unless one line is
//! longer than the page), so paging by `next_offset` never splits a line; its text has
//! the mflog prefixes removed ([`super::logs::mflog_text`]). Offsets are positions in the
//! stored file, not in the text.

use serde::{Deserialize, Serialize};

use super::datastore::{Datastore, TaskFiles};
use super::ids::pathspec;
use super::logs::mflog_text;
use dropflow_contract::ServiceError;

/// The page size when none is asked for, and the largest page (a Lambda response is at
/// most 6 MB, and JSON escaping can grow text).
pub const MAX_PAGE_BYTES: u64 = 1024 * 1024;

/// Which of a task's two logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    /// The task's standard output.
    Stdout,
    /// The task's standard error.
    Stderr,
}

impl LogStream {
    /// `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }

    /// `stdout` or `stderr` (exactly), else `None`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "stdout" => Some(Self::Stdout),
            "stderr" => Some(Self::Stderr),
            _ => None,
        }
    }

    /// The log's URL for `attempt` of the task whose files are `files`.
    pub fn url(self, files: &TaskFiles, attempt: u32) -> String {
        format!("{}{attempt}.task_{}.log", files.dir(), self.as_str())
    }
}

/// Which log, and which part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRequest<'a> {
    /// Metaflow's datastore root (`s3://bucket/metaflow`).
    pub root: &'a str,
    /// Flow name.
    pub flow: &'a str,
    /// Run id.
    pub run: &'a str,
    /// Step.
    pub step: &'a str,
    /// Task id.
    pub task: &'a str,
    /// The attempt; the newest one the datastore has when `None`.
    pub attempt: Option<u32>,
    /// Which log.
    pub stream: LogStream,
    /// The first byte to read.
    pub offset: u64,
    /// At most this many bytes (capped at [`MAX_PAGE_BYTES`]).
    pub max_bytes: u64,
}

/// A page of a task's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLog {
    /// `Flow/run/step/task`.
    pub pathspec: String,
    /// The attempt read.
    pub attempt: u32,
    /// Which log.
    pub stream: LogStream,
    /// The stored log's size in bytes.
    pub size: u64,
    /// Where this page starts in the stored log.
    pub offset: u64,
    /// Where the next page starts; equal to `size` at the end.
    pub next_offset: u64,
    /// The page's lines, mflog prefixes removed, each ending in a newline.
    pub text: String,
}

/// The trigger API's answer to `GET /flows/{flow}/runs/{run_id}/logs`: which run and
/// task, and a page of its log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    /// The flow class.
    pub flow: String,
    /// The state machine.
    pub state_machine: String,
    /// The run.
    pub run_id: String,
    /// The step.
    pub step: String,
    /// The task id.
    pub task: String,
    /// The page.
    #[serde(flatten)]
    pub log: TaskLog,
}

/// Why a log cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The datastore has no files of the task.
    #[error(
        "task {pathspec} has no files in the datastore: check the step and task id (a task in a foreach is <step>-<index>), or the task has not started"
    )]
    TaskNotFound {
        /// `Flow/run/step/task`.
        pathspec: String,
    },
    /// The task has files, but not of this attempt.
    #[error("task {pathspec} has no attempt {attempt}; its newest attempt is {newest}")]
    AttemptNotFound {
        /// `Flow/run/step/task`.
        pathspec: String,
        /// The attempt asked for.
        attempt: u32,
        /// The newest attempt it has.
        newest: u32,
    },
    /// The attempt saved no log of this stream.
    #[error(
        "task {pathspec} attempt {attempt} has no saved {stream} log: logs are saved when an attempt ends, and not at all when it printed nothing"
    )]
    NotSaved {
        /// `Flow/run/step/task`.
        pathspec: String,
        /// The attempt.
        attempt: u32,
        /// Which log.
        stream: &'static str,
    },
    /// Reading the datastore failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// The newest attempt among a task directory's file names (`0.attempt.json`,
/// `1.task_stderr.log`, ...).
pub fn newest_attempt<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<u32> {
    names
        .into_iter()
        .filter_map(|name| name.split_once('.')?.0.parse::<u32>().ok())
        .max()
}

/// How many bytes of `chunk` a page keeps: up to its last newline, unless the chunk
/// reaches the end of the log (`at_end`) or holds no newline at all.
pub fn whole_lines(chunk: &[u8], at_end: bool) -> usize {
    if at_end {
        return chunk.len();
    }
    match chunk.iter().rposition(|&b| b == b'\n') {
        Some(last) => last + 1,
        None => chunk.len(),
    }
}

/// The text of mflog lines: prefixes removed, each line ending in a newline.
pub fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|line| format!("{}\n", mflog_text(line)))
        .collect()
}

/// Reads a page of a task's saved log.
pub async fn read<D: Datastore>(store: &D, request: &LogRequest<'_>) -> Result<TaskLog, LogError> {
    let path = pathspec(request.flow, request.run, request.step, request.task);
    let files = TaskFiles::new(
        request.root,
        request.flow,
        request.run,
        request.step,
        request.task,
    );
    let names = store.list(files.dir()).await?;
    let newest =
        newest_attempt(names.iter().map(String::as_str)).ok_or_else(|| LogError::TaskNotFound {
            pathspec: path.clone(),
        })?;
    let attempt = match request.attempt {
        Some(attempt) if attempt > newest => {
            return Err(LogError::AttemptNotFound {
                pathspec: path,
                attempt,
                newest,
            });
        }
        Some(attempt) => attempt,
        None => newest,
    };
    let url = request.stream.url(&files, attempt);
    let max_bytes = request.max_bytes.clamp(1, MAX_PAGE_BYTES);
    let ranged = store
        .get_range(&url, request.offset, max_bytes)
        .await?
        .ok_or_else(|| LogError::NotSaved {
            pathspec: path.clone(),
            attempt,
            stream: request.stream.as_str(),
        })?;
    let offset = request.offset.min(ranged.size);
    let at_end = offset + ranged.bytes.len() as u64 >= ranged.size;
    let keep = whole_lines(&ranged.bytes, at_end);
    Ok(TaskLog {
        pathspec: path,
        attempt,
        stream: request.stream,
        size: ranged.size,
        offset,
        next_offset: offset + keep as u64,
        text: text_of(&ranged.bytes[..keep]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryDatastore;

    const ROOT: &str = "s3://b/metaflow";

    fn line(text: &str) -> String {
        format!("[MFLOG|0|2026-12-07T01:00:00.000000Z|task|id]{text}\n")
    }

    fn request(attempt: Option<u32>, offset: u64, max_bytes: u64) -> LogRequest<'static> {
        LogRequest {
            root: ROOT,
            flow: "F",
            run: "sfn-x",
            step: "work",
            task: "work-2",
            attempt,
            stream: LogStream::Stderr,
            offset,
            max_bytes,
        }
    }

    fn store_with_two_attempts() -> (MemoryDatastore, String) {
        let store = MemoryDatastore::new();
        let files = TaskFiles::new(ROOT, "F", "sfn-x", "work", "work-2");
        store.insert(&format!("{}0.attempt.json", files.dir()), b"{}".to_vec());
        store.insert(
            &LogStream::Stderr.url(&files, 0),
            line("first attempt").into_bytes(),
        );
        store.insert(&format!("{}1.attempt.json", files.dir()), b"{}".to_vec());
        let log: String = ["Traceback:", "ValueError: boom"]
            .iter()
            .map(|t| line(t))
            .collect();
        store.insert(&LogStream::Stderr.url(&files, 1), log.clone().into_bytes());
        (store, log)
    }

    #[test]
    fn log_names_follow_metaflows_layout() {
        let files = TaskFiles::new(ROOT, "F", "sfn-x", "work", "work-2");
        assert_eq!(
            LogStream::Stdout.url(&files, 3),
            "s3://b/metaflow/F/sfn-x/work/work-2/3.task_stdout.log"
        );
        assert_eq!(LogStream::parse("stderr"), Some(LogStream::Stderr));
        assert_eq!(LogStream::parse("err"), None);
        assert_eq!(
            newest_attempt(["0.attempt.json", "2.task_stderr.log", "1.DONE.lock", "x"]),
            Some(2)
        );
        assert_eq!(newest_attempt(["x.json"]), None);
    }

    #[test]
    fn pages_end_at_a_line_unless_one_line_fills_them() {
        assert_eq!(whole_lines(b"ab\ncd\nef", false), 6);
        assert_eq!(whole_lines(b"ab\ncd\nef", true), 8);
        assert_eq!(whole_lines(b"abcdef", false), 6);
        assert_eq!(text_of(line("a").as_bytes()), "a\n");
        assert_eq!(text_of(b"plain\n[MFLOG|0|t|task|i]x"), "plain\nx\n");
    }

    #[tokio::test]
    async fn the_newest_attempt_is_read_by_default() {
        let (store, log) = store_with_two_attempts();
        let page = read(&store, &request(None, 0, MAX_PAGE_BYTES))
            .await
            .unwrap();
        assert_eq!(page.attempt, 1);
        assert_eq!(page.pathspec, "F/sfn-x/work/work-2");
        assert_eq!(page.text, "Traceback:\nValueError: boom\n");
        assert_eq!(
            (page.size, page.next_offset),
            (log.len() as u64, log.len() as u64)
        );
        let first = read(&store, &request(Some(0), 0, MAX_PAGE_BYTES))
            .await
            .unwrap();
        assert_eq!(first.text, "first attempt\n");
    }

    #[tokio::test]
    async fn pages_follow_each_other_without_splitting_lines() {
        let (store, log) = store_with_two_attempts();
        let first_line = line("Traceback:").len() as u64;
        // A page that ends inside the second line keeps only the first.
        let page = read(&store, &request(None, 0, first_line + 5))
            .await
            .unwrap();
        assert_eq!(page.text, "Traceback:\n");
        assert_eq!(page.next_offset, first_line);
        let next = read(&store, &request(None, page.next_offset, MAX_PAGE_BYTES))
            .await
            .unwrap();
        assert_eq!(next.text, "ValueError: boom\n");
        assert_eq!(next.next_offset, log.len() as u64);
        // Past the end: nothing, and the offset is the size.
        let past = read(&store, &request(None, 10_000, 10)).await.unwrap();
        assert_eq!((past.text.as_str(), past.offset), ("", log.len() as u64));
    }

    #[tokio::test]
    async fn what_is_missing_is_named() {
        let (store, _) = store_with_two_attempts();
        assert_eq!(
            read(&store, &request(Some(5), 0, 10)).await.unwrap_err(),
            LogError::AttemptNotFound {
                pathspec: "F/sfn-x/work/work-2".into(),
                attempt: 5,
                newest: 1
            }
        );
        let mut stdout = request(None, 0, 10);
        stdout.stream = LogStream::Stdout;
        let error = read(&store, &stdout).await.unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("task F/sfn-x/work/work-2 attempt 1 has no saved stdout log"),
            "{error}"
        );
        let mut other = request(None, 0, 10);
        other.task = "work-9";
        assert_eq!(
            read(&store, &other).await.unwrap_err(),
            LogError::TaskNotFound {
                pathspec: "F/sfn-x/work/work-9".into()
            }
        );
    }
}
