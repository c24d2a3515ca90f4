//! State machines over Step Functions: create or update with `publish`, aliases routed to
//! one version, describe and delete by name.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_sfn::operation::create_state_machine::CreateStateMachineError;
use aws_sdk_sfn::operation::delete_state_machine_alias::DeleteStateMachineAliasError;
use aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineError;
use aws_sdk_sfn::operation::describe_state_machine_alias::DescribeStateMachineAliasError;
use aws_sdk_sfn::operation::update_state_machine::UpdateStateMachineError;
use aws_sdk_sfn::types::{RoutingConfigurationListItem, Tag};
use dropflow_contract::ports::{
    AliasPointed, Published, ServiceError, ServiceResult, StateMachineInfo, StateMachineSpec,
    StateMachines,
};

use crate::error::{build_error, service_error};

/// Step Functions, finding state machines by name.
#[derive(Debug)]
pub struct SfnStateMachines {
    client: aws_sdk_sfn::Client,
    /// Name → ARN, filled as state machines are listed, created or updated.
    arns: Mutex<HashMap<String, String>>,
}

impl SfnStateMachines {
    /// A client from `sdk`.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_sfn::Client::new(sdk),
            arns: Mutex::default(),
        }
    }

    /// The underlying client.
    pub fn client(&self) -> &aws_sdk_sfn::Client {
        &self.client
    }

    fn cached(&self, name: &str) -> Option<String> {
        self.arns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    fn remember(&self, name: &str, arn: Option<&str>) {
        let mut arns = self.arns.lock().unwrap_or_else(|e| e.into_inner());
        match arn {
            Some(arn) => arns.insert(name.to_string(), arn.to_string()),
            None => arns.remove(name),
        };
    }

    /// The ARN of the state machine named `name` (ARNs embed the account id, which the
    /// Lambda does not otherwise know, so it is listed once and cached).
    pub async fn find_arn(&self, name: &str) -> ServiceResult<Option<String>> {
        if let Some(arn) = self.cached(name) {
            return Ok(Some(arn));
        }
        let mut pages = self
            .client
            .list_state_machines()
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| service_error("states:ListStateMachines", e))?;
            if let Some(found) = page.state_machines().iter().find(|m| m.name() == name) {
                self.remember(name, Some(found.state_machine_arn()));
                return Ok(Some(found.state_machine_arn().to_string()));
            }
        }
        Ok(None)
    }

    async fn create(&self, spec: &StateMachineSpec) -> Result<Published, CreateOutcome> {
        let tags = spec
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        match self
            .client
            .create_state_machine()
            .name(&spec.name)
            .definition(&spec.definition)
            .role_arn(&spec.role_arn)
            .set_tags(Some(tags))
            .publish(true)
            .version_description(&spec.version_description)
            .send()
            .await
        {
            Ok(output) => {
                self.remember(&spec.name, Some(output.state_machine_arn()));
                let version_arn = output.state_machine_version_arn().ok_or_else(|| {
                    CreateOutcome::Failed(ServiceError::new(
                        format!("states:CreateStateMachine {}", spec.name),
                        "no version was published",
                    ))
                })?;
                Ok(Published {
                    state_machine_arn: output.state_machine_arn().to_string(),
                    version_arn: version_arn.to_string(),
                    created: true,
                })
            }
            Err(error) => match error.into_service_error() {
                CreateStateMachineError::StateMachineAlreadyExists(_) => Err(CreateOutcome::Exists),
                error => Err(CreateOutcome::Failed(service_error(
                    format!("states:CreateStateMachine {}", spec.name),
                    error,
                ))),
            },
        }
    }

    async fn update(&self, arn: &str, spec: &StateMachineSpec) -> Result<Published, UpdateOutcome> {
        let operation = || format!("states:UpdateStateMachine {}", spec.name);
        let output = match self
            .client
            .update_state_machine()
            .state_machine_arn(arn)
            .definition(&spec.definition)
            .role_arn(&spec.role_arn)
            .publish(true)
            .version_description(&spec.version_description)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return Err(match error.into_service_error() {
                    UpdateStateMachineError::StateMachineDoesNotExist(_) => UpdateOutcome::Gone,
                    error => UpdateOutcome::Failed(service_error(operation(), error)),
                });
            }
        };
        let version_arn = output
            .state_machine_version_arn()
            .ok_or_else(|| {
                UpdateOutcome::Failed(ServiceError::new(operation(), "no version was published"))
            })?
            .to_string();
        let tags = spec
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        self.client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| {
                UpdateOutcome::Failed(service_error(
                    format!("states:TagResource {}", spec.name),
                    e,
                ))
            })?;
        Ok(Published {
            state_machine_arn: arn.to_string(),
            version_arn,
            created: false,
        })
    }
}

enum CreateOutcome {
    Exists,
    Failed(ServiceError),
}

enum UpdateOutcome {
    Gone,
    Failed(ServiceError),
}

impl StateMachines for SfnStateMachines {
    async fn publish(&self, spec: &StateMachineSpec) -> ServiceResult<Published> {
        // Update when it exists; create otherwise; and once more each way, should another
        // writer create or delete it in between.
        for _ in 0..2 {
            if let Some(arn) = self.find_arn(&spec.name).await? {
                match self.update(&arn, spec).await {
                    Ok(published) => return Ok(published),
                    Err(UpdateOutcome::Failed(error)) => return Err(error),
                    Err(UpdateOutcome::Gone) => self.remember(&spec.name, None),
                }
            }
            match self.create(spec).await {
                Ok(published) => return Ok(published),
                Err(CreateOutcome::Failed(error)) => return Err(error),
                Err(CreateOutcome::Exists) => self.remember(&spec.name, None),
            }
        }
        Err(ServiceError::new(
            format!("states:CreateStateMachine {}", spec.name),
            "the state machine kept appearing and disappearing; retry later",
        ))
    }

    async fn point_alias(
        &self,
        state_machine_arn: &str,
        alias: &str,
        version_arn: &str,
    ) -> ServiceResult<AliasPointed> {
        let alias_arn = format!("{state_machine_arn}:{alias}");
        let route = RoutingConfigurationListItem::builder()
            .state_machine_version_arn(version_arn)
            .weight(100)
            .build()
            .map_err(|e| build_error("states:UpdateStateMachineAlias", e))?;
        let exists = match self
            .client
            .describe_state_machine_alias()
            .state_machine_alias_arn(&alias_arn)
            .send()
            .await
        {
            Ok(_) => true,
            Err(error) => match error.into_service_error() {
                DescribeStateMachineAliasError::ResourceNotFound(_) => false,
                error => {
                    return Err(service_error(
                        format!("states:DescribeStateMachineAlias {alias_arn}"),
                        error,
                    ));
                }
            },
        };
        if exists {
            self.client
                .update_state_machine_alias()
                .state_machine_alias_arn(&alias_arn)
                .routing_configuration(route)
                .send()
                .await
                .map_err(|e| {
                    service_error(format!("states:UpdateStateMachineAlias {alias_arn}"), e)
                })?;
            return Ok(AliasPointed {
                alias_arn,
                created: false,
            });
        }
        let output = self
            .client
            .create_state_machine_alias()
            .name(alias)
            .routing_configuration(route)
            .send()
            .await
            .map_err(|e| service_error(format!("states:CreateStateMachineAlias {alias_arn}"), e))?;
        Ok(AliasPointed {
            alias_arn: output.state_machine_alias_arn().to_string(),
            created: true,
        })
    }

    async fn describe(&self, name: &str) -> ServiceResult<Option<StateMachineInfo>> {
        let Some(arn) = self.find_arn(name).await? else {
            return Ok(None);
        };
        match self
            .client
            .describe_state_machine()
            .state_machine_arn(&arn)
            .send()
            .await
        {
            Ok(output) => {
                let tags = self
                    .client
                    .list_tags_for_resource()
                    .resource_arn(&arn)
                    .send()
                    .await
                    .map_err(|e| service_error(format!("states:ListTagsForResource {name}"), e))?
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect();
                Ok(Some(StateMachineInfo {
                    arn: output.state_machine_arn().to_string(),
                    definition: output.definition().to_string(),
                    role_arn: output.role_arn().to_string(),
                    tags,
                }))
            }
            Err(error) => match error.into_service_error() {
                DescribeStateMachineError::StateMachineDoesNotExist(_) => {
                    self.remember(name, None);
                    Ok(None)
                }
                error => Err(service_error(
                    format!("states:DescribeStateMachine {name}"),
                    error,
                )),
            },
        }
    }

    async fn delete(&self, name: &str, aliases: &[&str]) -> ServiceResult<bool> {
        let Some(arn) = self.find_arn(name).await? else {
            return Ok(false);
        };
        for alias in aliases {
            let alias_arn = format!("{arn}:{alias}");
            if let Err(error) = self
                .client
                .delete_state_machine_alias()
                .state_machine_alias_arn(&alias_arn)
                .send()
                .await
            {
                match error.into_service_error() {
                    DeleteStateMachineAliasError::ResourceNotFound(_) => {}
                    error => {
                        return Err(service_error(
                            format!("states:DeleteStateMachineAlias {alias_arn}"),
                            error,
                        ));
                    }
                }
            }
        }
        self.client
            .delete_state_machine()
            .state_machine_arn(&arn)
            .send()
            .await
            .map_err(|e| service_error(format!("states:DeleteStateMachine {name}"), e))?;
        self.remember(name, None);
        Ok(true)
    }
}
