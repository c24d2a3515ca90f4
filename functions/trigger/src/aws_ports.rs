//! The trigger API bound to the AWS adapters of `dropflow-aws`.

use aws_config::SdkConfig;
use dropflow_api::{ApiPorts, Deps, TriggerConfig};
use dropflow_aws::{BatchJobs, S3Datastore, S3Objects, SfnExecutions};

/// The API's ports over real AWS services: S3, Step Functions, Batch and the S3
/// datastore.
#[derive(Debug, Clone, Copy)]
pub struct AwsPorts;

impl ApiPorts for AwsPorts {
    type Objects = S3Objects;
    type Executions = SfnExecutions;
    type Jobs = BatchJobs;
    type Datastore = S3Datastore;
}

/// The API's dependencies over real AWS services.
pub type AwsDeps = Deps<AwsPorts>;

/// Clients for `config` from `sdk` (see [`dropflow_aws::load_sdk_config`]).
pub fn deps(config: TriggerConfig, sdk: &SdkConfig) -> AwsDeps {
    let objects = S3Objects::new(sdk, &config.bucket);
    Deps::new(
        config,
        objects,
        SfnExecutions::new(sdk),
        BatchJobs::new(sdk),
        S3Datastore::new(sdk),
    )
}
