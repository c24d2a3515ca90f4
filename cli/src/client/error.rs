//! What can go wrong talking to a dropflow stack, each saying what to do.

use std::time::Duration;

use crate::client::params::ParamError;
use crate::pack::PackError;
use crate::target::TargetError;
use dropflow_contract::api::ApiErrorBody;

/// A client command's failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The stack cannot be found.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The flow cannot be packed.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// Run parameters are wrong (Metaflow's click text).
    #[error(transparent)]
    Params(#[from] ParamError),
    /// No AWS credentials.
    #[error(
        "no AWS credentials: {0}. Configure them as for the AWS CLI (aws configure, AWS_PROFILE, AWS_ACCESS_KEY_ID), or use --local for the local stack"
    )]
    Credentials(String),
    /// The request could not be sent or answered.
    #[error("{method} {url}: {message}")]
    Http {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The API answered with an error.
    #[error("{message} ({status} {code})", message = body.message, code = body.error)]
    Api {
        /// HTTP status.
        status: u16,
        /// The error body.
        body: Box<ApiErrorBody>,
    },
    /// The API answered something this client does not understand.
    #[error("{url}: unexpected answer ({message}); is --api the dropflow trigger API?")]
    Decode {
        /// URL.
        url: String,
        /// Why.
        message: String,
    },
    /// An S3 call failed.
    #[error("S3 {operation} s3://{bucket}/{key}: {message}")]
    S3 {
        /// The call.
        operation: &'static str,
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Why.
        message: String,
    },
    /// The bucket does not return version ids, so this upload's report cannot be told
    /// from another's.
    #[error(
        "s3://{bucket} is not versioned: dropflow's deployment bucket is (enable versioning on it), and the report of this upload is matched by its version id"
    )]
    Unversioned {
        /// Bucket.
        bucket: String,
    },
    /// No report for the upload in time.
    #[error(
        "no deploy report for s3://{bucket}/{key} (version {version_id}) after {waited:?}: is the compile function subscribed to the bucket? Its report will be at s3://{bucket}/{report_key}"
    )]
    ReportTimeout {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Version id uploaded.
        version_id: String,
        /// Report key.
        report_key: String,
        /// How long it waited.
        waited: Duration,
    },
    /// A report that cannot be read.
    #[error("s3://{bucket}/{key} is not a deploy report ({message})")]
    BadReport {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Why.
        message: String,
    },
    /// The deployed flow has no upload key (deployed some other way).
    #[error("{flow} has no upload under flows/ to delete; it was not deployed from an upload")]
    NoSourceKey {
        /// Flow.
        flow: String,
    },
    /// The CloudFormation stack cannot be described.
    #[error(
        "CloudFormation stack {stack}: {message}. Give the name the dropflow stack was deployed as (sam deploy --stack-name), in the region it is in (AWS_REGION), or --api/--bucket"
    )]
    Stack {
        /// The stack name given.
        stack: String,
        /// Why.
        message: String,
    },
    /// The stack lacks one of dropflow's outputs.
    #[error(
        "stack {stack} ({status}) has no output {output}: is it a dropflow stack (infra/template.yaml) that finished deploying? Give --api/--bucket otherwise"
    )]
    StackOutputMissing {
        /// The stack name.
        stack: String,
        /// Its status.
        status: String,
        /// The output looked for.
        output: String,
    },
    /// No user name for the deployment.
    #[error("Unknown user: set METAFLOW_USER (or USER), as Metaflow needs, or give --user NAME")]
    UnknownUser,
}
