//! `ObjectCreated`: an upload under the flows prefix becomes a live deployment, or a
//! `failed` report while the deployed version keeps running.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::metadata::options_from_metadata;
use super::ports::{
    JobDefinitions, ObjectStore, ScheduleSpec, Schedules, ServiceError, StateMachineSpec,
    StateMachines,
};
use super::report::{
    Action, AliasChange, Changes, EventKind, JobDefinitionChanges, Report, ScheduleChange,
    StateMachineChange, Status, Stopwatch,
};
use super::sequencer::{Order, order};
use super::state::{
    self, DeploymentState, LIVE_ALIAS, SourceRecord, current_key, key_of, read_json, source_key,
    write_json,
};
use super::{Deployer, ObjectEvent, SCHEDULE_INPUT};
use crate::compile::{DROPFLOW_VERSION, DeployOptions, Deployment, Platform, ScheduleInfo};
use crate::deploy_time::{self, DeployContext};
use crate::naming::{self, ProjectOptions};
use crate::package;
use crate::pipeline::{self, CheckedFlow, Finding};

/// Why handling stopped early.
pub(super) enum Stop {
    /// The upload cannot be deployed: final for this event.
    Rejected(Finding),
    /// An AWS call failed: retrying the event may succeed.
    Aws(ServiceError),
}

impl From<ServiceError> for Stop {
    fn from(error: ServiceError) -> Self {
        Stop::Aws(error)
    }
}

/// An AWS failure as a report entry.
pub(super) fn aws_finding(error: &ServiceError) -> Finding {
    Finding {
        code: match &error.code {
            Some(code) => format!("aws.{code}"),
            None => "aws.error".to_string(),
        },
        message: error.to_string(),
        file: None,
        line: None,
    }
}

impl<O, M, J, S> Deployer<O, M, J, S>
where
    O: ObjectStore,
    M: StateMachines,
    J: JobDefinitions,
    S: Schedules,
{
    /// Handles an `ObjectCreated` event. Always returns a report; it is written to
    /// `reports/<key>.json` (and `reports/latest/<flow>.json`) unless the event is at or
    /// before the newest one already handled for the key, whose report it would hide.
    pub async fn handle_created(&self, event: &ObjectEvent) -> Report {
        let mut watch = Stopwatch::start();
        let mut report = Report::new(
            EventKind::Created,
            &event.key,
            event.version_id.as_deref(),
            event.sequencer.as_deref(),
        );
        let Some(flow_key) = self.config.flow_key(&event.key) else {
            report.summary = format!("not under the flows prefix {}", self.config.flows_prefix);
            report.timings_ms = watch.finish();
            return report;
        };
        let mut known = None;
        let result = self
            .created(event, flow_key, &mut report, &mut watch, &mut known)
            .await;
        match result {
            Ok(write) => {
                report.timings_ms = watch.finish();
                if write {
                    self.write_report(flow_key, &mut report).await;
                }
            }
            Err(Stop::Rejected(finding)) => {
                report.status = Status::Failed;
                report.summary =
                    "the upload was not deployed; the deployed version (if any) keeps running"
                        .into();
                report.errors.push(finding);
                // Final for this event: remember it, so an older upload cannot deploy later.
                let record = SourceRecord {
                    key: flow_key.to_string(),
                    sequencer: event.sequencer.clone(),
                    version_id: event.version_id.clone(),
                    status: Status::Failed.as_str().into(),
                    state_machine: known
                        .as_ref()
                        .and_then(|r: &SourceRecord| r.state_machine.clone()),
                    flow: report.flow.clone(),
                };
                if let Err(error) = write_json(&self.objects, &source_key(flow_key), &record).await
                {
                    report.errors.push(aws_finding(&error));
                    report.retryable = true;
                }
                report.timings_ms = watch.finish();
                self.write_report(flow_key, &mut report).await;
            }
            Err(Stop::Aws(error)) => {
                report.status = Status::Failed;
                report.retryable = true;
                report.summary = "an AWS call failed; the event can be retried".into();
                report.errors.push(aws_finding(&error));
                report.timings_ms = watch.finish();
                self.write_report(flow_key, &mut report).await;
            }
        }
        report
    }

    /// The work; `Ok(write)` says whether the report is to be written.
    async fn created(
        &self,
        event: &ObjectEvent,
        flow_key: &str,
        report: &mut Report,
        watch: &mut Stopwatch,
        known: &mut Option<SourceRecord>,
    ) -> Result<bool, Stop> {
        *known = read_json::<SourceRecord>(&self.objects, &source_key(flow_key)).await?;
        let previous = known.clone();
        if let Some(record) = &previous {
            report.flow = record.flow.clone();
            report.state_machine = record.state_machine.clone();
            match order(event.sequencer.as_deref(), record.sequencer.as_deref()) {
                Order::Newer => {}
                Order::Duplicate => {
                    report.status = Status::Unchanged;
                    report.summary = "this event was already handled".into();
                    return Ok(false);
                }
                Order::Older => {
                    report.status = Status::Ignored;
                    report.summary = format!(
                        "older than the event already handled for this key (sequencer {})",
                        record.sequencer.as_deref().unwrap_or("?")
                    );
                    return Ok(false);
                }
            }
        }
        watch.lap("state");

        let Some(object) = self
            .objects
            .get(&event.key, event.version_id.as_deref())
            .await?
        else {
            report.status = Status::Ignored;
            report.summary = "the object no longer exists".into();
            return Ok(previous.is_none());
        };
        if report.version_id.is_none() {
            report.version_id = object.version_id.clone();
        }
        watch.lap("read");

        let package = package::read_bytes(flow_key, &object.bytes, &self.limits)
            .map_err(|e| Stop::Rejected(pipeline::Error::from(e).finding()))?;
        watch.lap("package");
        let checked = pipeline::check(&package).map_err(|e| Stop::Rejected(e.finding()))?;
        let flow_name = checked.flow().name.clone();
        report.flow = Some(flow_name.clone());
        watch.lap("check");

        let options = resolve_options(&checked, &object.metadata, event.principal.as_deref())
            .map_err(Stop::Rejected)?;
        let platform = self.config.platform();
        let fingerprint = fingerprint(&package.sha256, &options, &platform);
        let current = match planned_name(&checked, &options) {
            Some(name) => {
                report.state_machine = Some(name.clone());
                read_json::<DeploymentState>(&self.objects, &current_key(&name)).await?
            }
            None => None,
        };
        if let Some(current) = &current
            && current.fingerprint == fingerprint
        {
            return self.unchanged(event, flow_key, report, current).await;
        }
        watch.lap("options");

        let values = deploy_time_values(&checked, &options, &platform).map_err(Stop::Rejected)?;
        watch.lap("deploy_time");
        let deployment = pipeline::compile(&checked, &options, &platform, &values)
            .map_err(|e| Stop::Rejected(e.finding()))?;
        report.state_machine = Some(deployment.state_machine_name.clone());
        report.version = Some(deployment.version.clone());
        report.warnings = deployment.warnings.clone();
        watch.lap("compile");
        let current = match current {
            Some(current) if current.state_machine == deployment.state_machine_name => {
                Some(current)
            }
            _ => read_json(&self.objects, &current_key(&deployment.state_machine_name)).await?,
        };
        if let Some(current) = &current
            && current.version == deployment.version
        {
            return self.unchanged(event, flow_key, report, current).await;
        }

        let mut changes = Changes::default();
        let applied = self
            .apply(
                &deployment,
                &package,
                flow_key,
                event,
                &fingerprint,
                &mut changes,
                watch,
            )
            .await;
        report.changes = changes;
        let deployed = applied?;
        write_json(
            &self.objects,
            &current_key(&deployed.state_machine),
            &deployed,
        )
        .await?;
        // The key now deploys under another name: undeploy what it deployed before (if
        // that is still its own). The new version is live either way.
        if let Some(old_name) = previous.as_ref().and_then(|r| r.state_machine.as_deref())
            && old_name != deployed.state_machine
        {
            let replaced = match read_json::<DeploymentState>(&self.objects, &current_key(old_name))
                .await
            {
                Ok(Some(old)) if old.source_key == flow_key => self.undeploy(&old).await.map(Some),
                Ok(_) => Ok(None),
                Err(error) => Err(error),
            };
            match replaced {
                Ok(replaced) => report.changes.replaced = replaced,
                Err(error) => report.warnings.push(format!(
                    "{old_name}, which this key deployed before, could not be undeployed ({error}); delete it by hand"
                )),
            }
        }
        let record = SourceRecord {
            key: flow_key.to_string(),
            sequencer: event.sequencer.clone(),
            version_id: event.version_id.clone().or(object.version_id),
            status: Status::Deployed.as_str().into(),
            state_machine: Some(deployed.state_machine.clone()),
            flow: Some(flow_name),
        };
        write_json(&self.objects, &source_key(flow_key), &record).await?;
        watch.lap("record");
        report.status = Status::Deployed;
        report.summary = format!(
            "{} is live as {} ({})",
            deployed.version, deployed.version_arn, LIVE_ALIAS
        );
        Ok(true)
    }

    /// Same content as deployed: record the event, change nothing else.
    async fn unchanged(
        &self,
        event: &ObjectEvent,
        flow_key: &str,
        report: &mut Report,
        current: &DeploymentState,
    ) -> Result<bool, Stop> {
        report.status = Status::Unchanged;
        report.state_machine = Some(current.state_machine.clone());
        report.version = Some(current.version.clone());
        report.summary = format!(
            "version {} is already deployed (from {})",
            current.version, current.source_key
        );
        let record = SourceRecord {
            key: flow_key.to_string(),
            sequencer: event.sequencer.clone(),
            version_id: event.version_id.clone(),
            status: Status::Unchanged.as_str().into(),
            state_machine: Some(current.state_machine.clone()),
            flow: Some(current.flow.clone()),
        };
        write_json(&self.objects, &source_key(flow_key), &record).await?;
        Ok(true)
    }

    /// Makes AWS match `deployment`, in an order where any failure leaves the previous
    /// version running: additive writes first (job definitions, manifest, code package),
    /// then the state machine, its alias and the schedule.
    #[allow(clippy::too_many_arguments)]
    async fn apply(
        &self,
        deployment: &Deployment,
        package: &package::SourcePackage,
        flow_key: &str,
        event: &ObjectEvent,
        fingerprint: &str,
        changes: &mut Changes,
        watch: &mut Stopwatch,
    ) -> Result<DeploymentState, ServiceError> {
        let manifest = &deployment.manifest;
        let mut jobs = JobDefinitionChanges::default();
        for definition in &manifest.job_definitions {
            let name = &definition.job_definition_name;
            if jobs.registered.contains(name) || jobs.reused.contains(name) {
                continue;
            }
            if self.job_definitions.is_active(name).await? {
                jobs.reused.push(name.clone());
            } else {
                self.job_definitions.register(definition).await?;
                jobs.registered.push(name.clone());
            }
        }
        changes.job_definitions = Some(jobs);
        watch.lap("job_definitions");

        let bucket = &self.config.bucket;
        let code_key = key_of(&manifest.code_package, bucket).ok_or_else(|| {
            ServiceError::new(
                "write code package",
                format!("{} is not in {bucket}", manifest.code_package),
            )
        })?;
        if self.objects.head(&code_key).await?.is_none() {
            self.objects
                .put(&code_key, package.to_tar_gz(), "application/gzip")
                .await?;
        }
        changes.code_package = Some(manifest.code_package.clone());
        let manifest_key = key_of(&manifest.location, bucket).ok_or_else(|| {
            ServiceError::new(
                "write manifest",
                format!("{} is not in {bucket}", manifest.location),
            )
        })?;
        write_json(&self.objects, &manifest_key, manifest).await?;
        changes.manifest = Some(manifest.location.clone());
        watch.lap("manifest");

        let spec = StateMachineSpec {
            name: deployment.state_machine_name.clone(),
            definition: deployment.definition.to_json(),
            role_arn: self.config.state_machine_role_arn.clone(),
            tags: {
                let mut tags = resource_tags(deployment, flow_key);
                // Last, so no aws_tags entry can claim another installation's tag.
                tags.insert(
                    super::config::MANAGED_BY_TAG.into(),
                    tag_text(&self.config.managed_by, 256),
                );
                tags
            },
            version_description: truncate(
                &format!("dropflow {} from {flow_key}", deployment.version),
                256,
            ),
        };
        let published = self.state_machines.publish(&spec).await?;
        changes.state_machine = Some(StateMachineChange {
            action: if published.created {
                Action::Created
            } else {
                Action::Updated
            },
            arn: published.state_machine_arn.clone(),
            version_arn: Some(published.version_arn.clone()),
        });
        watch.lap("state_machine");
        let alias = self
            .state_machines
            .point_alias(
                &published.state_machine_arn,
                LIVE_ALIAS,
                &published.version_arn,
            )
            .await?;
        changes.alias = Some(AliasChange {
            action: if alias.created {
                Action::Created
            } else {
                Action::Updated
            },
            name: LIVE_ALIAS.to_string(),
            arn: alias.alias_arn.clone(),
            version_arn: published.version_arn.clone(),
        });
        watch.lap("alias");
        changes.schedule = self
            .reconcile_schedule(
                &deployment.state_machine_name,
                &manifest.flow.name,
                manifest.schedule.as_ref(),
                &alias.alias_arn,
            )
            .await?;
        watch.lap("schedule");

        Ok(DeploymentState {
            state_machine: deployment.state_machine_name.clone(),
            state_machine_arn: published.state_machine_arn,
            version: deployment.version.clone(),
            fingerprint: fingerprint.to_string(),
            version_arn: published.version_arn,
            alias_arn: alias.alias_arn,
            flow: manifest.flow.name.clone(),
            source_key: flow_key.to_string(),
            sequencer: event.sequencer.clone(),
            version_id: event.version_id.clone(),
            schedule: manifest.schedule.clone(),
            manifest: manifest.location.clone(),
        })
    }

    /// Creates, updates or deletes the schedule of `state_machine` to match `desired`.
    async fn reconcile_schedule(
        &self,
        state_machine: &str,
        flow: &str,
        desired: Option<&ScheduleInfo>,
        alias_arn: &str,
    ) -> Result<Option<ScheduleChange>, ServiceError> {
        let name = desired.map_or_else(|| naming::schedule_name(state_machine), |s| s.name.clone());
        let existing = self.schedules.get(&name).await?;
        let change = |action, spec: Option<&ScheduleSpec>| ScheduleChange {
            action,
            name: name.clone(),
            expression: spec.map(|s| s.expression.clone()),
            timezone: spec.map(|s| s.timezone.clone()),
        };
        Ok(match (desired, existing) {
            (Some(info), existing) => {
                let spec = ScheduleSpec {
                    name: info.name.clone(),
                    expression: info.expression.clone(),
                    timezone: info.timezone.clone(),
                    target_arn: alias_arn.to_string(),
                    role_arn: self.config.scheduler_role_arn.clone(),
                    input: SCHEDULE_INPUT.to_string(),
                    enabled: true,
                    description: truncate(&format!("dropflow: runs {flow} ({state_machine})"), 512),
                };
                match existing {
                    None => {
                        self.schedules.create(&spec).await?;
                        Some(change(Action::Created, Some(&spec)))
                    }
                    Some(existing) if existing == spec => {
                        Some(change(Action::Unchanged, Some(&spec)))
                    }
                    Some(_) => {
                        self.schedules.update(&spec).await?;
                        Some(change(Action::Updated, Some(&spec)))
                    }
                }
            }
            (None, Some(_)) => {
                self.schedules.delete(&name).await?;
                Some(change(Action::Deleted, None))
            }
            (None, None) => None,
        })
    }

    /// Writes `reports/<key>.json` and, when the flow is known, `reports/latest/<flow>.json`.
    /// A report that cannot be written says so in itself (and in the log).
    pub(super) async fn write_report(&self, flow_key: &str, report: &mut Report) {
        let mut keys = vec![state::report_key(flow_key)];
        if let Some(flow) = &report.flow {
            keys.push(state::latest_report_key(flow));
        }
        for key in keys {
            if let Err(error) = write_json(&self.objects, &key, &*report).await {
                report.errors.push(aws_finding(&error));
                report.retryable = true;
            }
        }
    }
}

/// Deploy options: defaults ← the uploader (event principal) ← `dropflow.toml` ← object
/// metadata (including `user`).
fn resolve_options(
    checked: &CheckedFlow,
    metadata: &BTreeMap<String, String>,
    principal: Option<&str>,
) -> Result<DeployOptions, Finding> {
    let mut options = DeployOptions::default();
    if let Some(user) = principal.and_then(user_from_principal) {
        options.user = user;
    }
    checked.package_options.clone().apply(&mut options);
    let layer = options_from_metadata(metadata).map_err(|e| Finding {
        code: "options.metadata".into(),
        message: e.to_string(),
        file: None,
        line: None,
    })?;
    layer.apply(&mut options);
    Ok(options)
}

/// A user name from an S3 principal id: `AWS:AROA…:alice` → `alice`, `AWS:AIDA…` → `AIDA…`.
fn user_from_principal(principal: &str) -> Option<String> {
    principal
        .rsplit(':')
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// The state machine name the compiler will choose (to find what is deployed before
/// spending time on deploy-time values); `None` when naming fails, which compile reports.
fn planned_name(checked: &CheckedFlow, options: &DeployOptions) -> Option<String> {
    let flow = checked.flow();
    naming::state_machine_name(
        &flow.name,
        flow.decorator("project"),
        &ProjectOptions {
            branch: options.branch.clone(),
            production: options.production,
            user: options.user.clone(),
        },
        options.name.as_deref(),
    )
    .ok()
    .map(|n| n.name)
}

/// Digest of what a deployment depends on, deploy-time values aside.
fn fingerprint(source_digest: &str, options: &DeployOptions, platform: &Platform) -> String {
    let mut hasher = Sha256::new();
    for part in [
        DROPFLOW_VERSION.as_bytes(),
        source_digest.as_bytes(),
        &serde_json::to_vec(options).expect("serialisable"),
        &serde_json::to_vec(platform).expect("serialisable"),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    data_encoding::HEXLOWER.encode(&hasher.finalize())
}

/// The values of the flow's deploy-time parameter defaults (`default=my_function`),
/// evaluated in the sandbox with Metaflow's `context` (flow name, uploader, datastore).
fn deploy_time_values(
    checked: &CheckedFlow,
    options: &DeployOptions,
    platform: &Platform,
) -> Result<BTreeMap<String, serde_json::Value>, Finding> {
    let context = DeployContext {
        flow_name: checked.flow().name.clone(),
        user_name: options.user.clone(),
        datastore: "s3".to_string(),
        datastore_root: platform.datastore_root.clone(),
    };
    deploy_time::evaluate_defaults(checked, &context, &deploy_time::Limits::default())
        .map_err(|e| e.finding())
}

/// Tags on the state machine: the flow, the upload key and the content hash, plus the
/// owner's `aws_tags` (already in the manifest's job definitions).
fn resource_tags(deployment: &Deployment, flow_key: &str) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = deployment
        .manifest
        .options
        .aws_tags
        .iter()
        .map(|(k, v)| (tag_text(k, 128), tag_text(v, 256)))
        .collect();
    tags.insert(
        "dropflow:flow".into(),
        tag_text(&deployment.manifest.flow.name, 256),
    );
    tags.insert("dropflow:source-key".into(), tag_text(flow_key, 256));
    tags.insert("dropflow:version".into(), deployment.version.clone());
    tags
}

/// Text fitted to AWS tag rules: letters, digits, spaces and `_.:/=+-@`, at most `max`.
fn tag_text(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    truncate(&cleaned, max)
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
