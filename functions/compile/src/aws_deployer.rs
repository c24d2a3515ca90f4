//! The deploy logic bound to the AWS adapters of `dropflow-aws`.

use aws_config::SdkConfig;
use dropflow_aws::{BatchJobDefinitions, S3Objects, SchedulerSchedules, SfnStateMachines};
use dropflow_deploy::{Config, Deployer};

/// The deploy logic over real AWS services.
pub type AwsDeployer =
    Deployer<S3Objects, SfnStateMachines, BatchJobDefinitions, SchedulerSchedules>;

/// A deployer for `config` whose clients use `sdk` (see [`dropflow_aws::load_sdk_config`]).
pub fn deployer(config: Config, sdk: &SdkConfig) -> AwsDeployer {
    let objects = S3Objects::new(sdk, &config.bucket);
    Deployer::new(
        config,
        objects,
        SfnStateMachines::new(sdk),
        BatchJobDefinitions::new(sdk),
        SchedulerSchedules::new(sdk),
    )
}
