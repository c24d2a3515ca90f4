//! The compile Lambda: S3 `ObjectCreated` / `ObjectRemoved` events under the flows prefix
//! deploy and undeploy flows. Thin by design: this crate decodes the event, hands each
//! record to [`dropflow_deploy::Deployer`], logs the reports and shapes the response; the
//! work (and its tests) live in `dropflow_deploy`, the AWS calls in `dropflow-aws`.

mod aws_deployer;
pub mod event;
mod handler;

pub use aws_deployer::{AwsDeployer, deployer};
pub use event::{EventRecord, RecordKind, decode_key, records};
pub use handler::{HandlerError, RecordOutcome, Response, handle};
