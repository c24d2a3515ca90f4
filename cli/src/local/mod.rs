//! The local stack: dropflow on 127.0.0.1 with no Docker and no AWS account.
//!
//! ```text
//!  aws s3 cp flow.tgz s3://dropflow-local/flows/   (any S3 client, --endpoint-url)
//!        │
//!  moto 5.2.5 (infra/local/moto_dropflow.py) ── S3 notification ──┐
//!   S3 · Step Functions (executions run) · Batch · IAM · Scheduler  │
//!        │ Lambda tasks                    Batch jobs               ▼
//!        ▼                                 = local processes   Lambda Invoke API (in-process)
//!  Lambda Invoke API ───────────────────────────────────────▶ dropflow-compile, dropflow-step, ...
//!
//!  metadata service (in-process, `metadata_url` = http://127.0.0.1:PORT/metadata) ◀── tasks
//!   (--metadata=service) and Metaflow's Client; its table on moto's DynamoDB
//! ```
//!
//! [`Stack::start`] brings it up in-process (tests host extra functions through a
//! [`Registry`]); `dropflow local up` runs that in a background process (or in the
//! foreground) and `dropflow local down` stops it, by the pid files in the state directory.

mod bootstrap;
mod daemon;
mod emulator;
mod error;
mod functions;
mod http;
mod options;
// kill(2) has no safe wrapper in libc: pid liveness checks and signals.
#[allow(unsafe_code)]
mod process;
mod registry;
mod server;
mod stack;

pub use daemon::{DownReport, Summary, down, run_foreground, spawn_daemon};
pub use emulator::{LAUNCHER, MOTO_VERSION, check_python};
pub use error::LocalError;
pub use functions::LOCAL_IMAGE;
pub use options::{
    ACCOUNT_ID, COMPILE_FUNCTION, DEFAULT_BUCKET, DEFAULT_PORT, DEFAULT_REGION, JOB_QUEUE, Options,
    STEP_FUNCTION, find_python,
};
pub use registry::{Handler, HandlerFuture, HandlerResult, InvokeError, Registry};
pub use stack::{Endpoints, Stack, endpoints_file, job_environment};
