//! `ObjectCreated`: an upload under the flows prefix becomes a live deployment, or a
//! `failed` report while the deployed version keeps running.

use std::collections::BTreeMap;

use super::claim::{self, ClaimError};
use super::key_claim::{KeyClaim, Skip};
use super::metadata::{options_from_metadata, takeover_from_metadata};
use super::ownership::{MANAGED_BY_TAG, OwnerClaim, SOURCE_KEY_TAG};
use super::ports::{
    ConditionalPutError, JobDefinitions, ObjectStore, ScheduleSpec, Schedules, ServiceError,
    StateMachineSpec, StateMachines,
};
use super::report::{
    Action, AliasChange, Changes, EventKind, JobDefinitionChanges, Report, ScheduleChange,
    StateMachineChange, Status, Stopwatch,
};
use super::reporting::Writer;
use super::state::{
    DeploymentState, LIVE_ALIAS, SourceRecord, current_key, key_of, read_json, write_json,
};
use super::{Deployer, ObjectEvent, SCHEDULE_INPUT};
use dropflow_compiler::compile::{DeployOptions, Deployment, Platform, ScheduleInfo, version_id};
use dropflow_compiler::deploy_time::{self, DeployContext};
use dropflow_compiler::naming::{self, ProjectOptions};
use dropflow_compiler::package;
use dropflow_compiler::pipeline::{self, CheckedFlow, Finding};

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
            // dropflow's own retryable conditions (a claim held too long) keep their code.
            Some(code) if code.starts_with("dropflow.") => code.clone(),
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
    /// Handles an `ObjectCreated` event under the [`super::claim`] protocol. Always returns
    /// a report, written to the S3 version's own report key, and to `reports/<key>.json`
    /// (and `reports/latest/<flow>.json`) unless the event needed no work (`superseded`, or
    /// a duplicate `unchanged`), whose report would hide the one of the event that did the
    /// work (see [`super::reporting`]).
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
        if event.sequencer.is_none() {
            self.refuse_unordered(flow_key, &mut report, &watch).await;
            return report;
        }
        let token = claim::new_token();
        let held = match self.claim_key(flow_key, event, &token).await {
            Ok(Ok(held)) => held,
            Ok(Err(skip)) => {
                skipped(&mut report, skip);
                report.timings_ms = watch.finish();
                self.write_report(flow_key, &mut report, Writer::Bystander)
                    .await;
                return report;
            }
            Err(error) => {
                claim_failed(&mut report, &error);
                report.timings_ms = watch.finish();
                self.write_report(flow_key, &mut report, Writer::Unclaimed)
                    .await;
                return report;
            }
        };
        watch.lap("claim");
        let previous = held.record.clone();
        // Boxed: keeps the handler's future shallow for the compiler's layout queries.
        let work =
            Box::pin(self.created(event, flow_key, &previous, &token, &mut report, &mut watch));
        let outcome = match work.await {
            Ok(record) => record,
            Err(Stop::Rejected(finding)) => {
                report.status = Status::Failed;
                report.summary =
                    "the upload was not deployed; the deployed version (if any) keeps running"
                        .into();
                report.errors.push(finding);
                if report.flow.is_none() {
                    report.flow = previous.flow.clone();
                }
                // Final for this event: remember it, so an older upload cannot deploy later.
                SourceRecord {
                    sequencer: event.sequencer.clone(),
                    version_id: event.version_id.clone(),
                    status: Status::Failed.as_str().into(),
                    flow: report.flow.clone(),
                    claim: None,
                    ..previous.clone()
                }
            }
            Err(Stop::Aws(error)) => {
                report.status = Status::Failed;
                report.retryable = true;
                report.summary = "an AWS call failed; the event can be retried".into();
                report.errors.push(aws_finding(&error));
                // Not final: release the key, so the retry (or a newer event) goes ahead.
                SourceRecord {
                    claim: None,
                    ..previous.clone()
                }
            }
        };
        self.finish_claimed(flow_key, &held, &outcome, &mut report, &mut watch)
            .await;
        report
    }

    /// An event without a `sequencer` cannot be ordered against the others: refused.
    pub(super) async fn refuse_unordered(
        &self,
        flow_key: &str,
        report: &mut Report,
        watch: &Stopwatch,
    ) {
        report.status = Status::Failed;
        report.summary = "the event was not handled; nothing changed".into();
        report.errors.push(Finding {
            code: "event.no_sequencer".into(),
            message: format!(
                "the S3 event for {flow_key} has no sequencer, so it cannot be ordered against other events for the key (S3 sets one on every object event). Send the event as S3 does, or upload the object again"
            ),
            file: None,
            line: None,
        });
        report.timings_ms = watch.finish();
        self.write_report(flow_key, report, Writer::Unclaimed).await;
    }

    /// Writes the report while the key is still claimed (so a key's reports land in the
    /// order its events were handled), then settles the key; the report is written again
    /// if settling added a warning or an error.
    pub(super) async fn finish_claimed(
        &self,
        flow_key: &str,
        held: &KeyClaim,
        outcome: &SourceRecord,
        report: &mut Report,
        watch: &mut Stopwatch,
    ) {
        report.timings_ms = watch.finish();
        self.write_report(flow_key, report, Writer::Claimed).await;
        let noted = (report.warnings.len(), report.errors.len());
        self.settle_key_reporting(flow_key, held, outcome, report)
            .await;
        if (report.warnings.len(), report.errors.len()) != noted {
            report.timings_ms = watch.finish();
            self.write_report(flow_key, report, Writer::Claimed).await;
        }
    }

    /// Step 4 for the key, noting in the report a claim lost or a failed write.
    pub(super) async fn settle_key_reporting(
        &self,
        flow_key: &str,
        held: &KeyClaim,
        outcome: &SourceRecord,
        report: &mut Report,
    ) {
        match self.settle_key(flow_key, held, outcome).await {
            Ok(()) => {}
            Err(ConditionalPutError::PreconditionFailed { .. }) => report.warnings.push(
                "this handler outlived its claim on the key and another event's handler took over; that handler's report is the one to trust".into(),
            ),
            Err(ConditionalPutError::Service(error)) => {
                report.errors.push(aws_finding(&error));
                report.retryable = true;
            }
        }
    }

    /// The work, under the key's claim; returns the key's record to commit.
    async fn created(
        &self,
        event: &ObjectEvent,
        flow_key: &str,
        previous: &SourceRecord,
        token: &str,
        report: &mut Report,
        watch: &mut Stopwatch,
    ) -> Result<SourceRecord, Stop> {
        report.flow = previous.flow.clone();
        report.state_machine = previous.state_machine.clone();
        let committed =
            |status: Status, state_machine: Option<String>, flow: Option<String>| SourceRecord {
                key: flow_key.to_string(),
                sequencer: event.sequencer.clone(),
                version_id: event.version_id.clone(),
                status: status.as_str().into(),
                state_machine,
                flow,
                claim: None,
            };
        let Some(object) = self
            .objects
            .get(&event.key, event.version_id.as_deref())
            .await?
        else {
            report.status = Status::Ignored;
            report.summary = "the object no longer exists".into();
            return Ok(committed(
                Status::Ignored,
                previous.state_machine.clone(),
                previous.flow.clone(),
            ));
        };
        if report.version_id.is_none() {
            report.version_id = object.version_id.clone();
        }
        watch.lap("read");

        let package = package::read_bytes(flow_key, &object.bytes, &self.limits)
            .map_err(|e| Stop::Rejected(pipeline::Error::from(e).finding()))?;
        watch.lap("package");
        let checked = pipeline::check(&package).map_err(|e| {
            if let Some(name) = flow_name_of(&package) {
                report.flow = Some(name);
            }
            Stop::Rejected(e.finding())
        })?;
        let flow_name = checked.flow().name.clone();
        report.flow = Some(flow_name.clone());
        watch.lap("check");

        let options = resolve_options(&checked, &object.metadata, event.principal.as_deref())
            .map_err(Stop::Rejected)?;
        let takeover = takeover_from_metadata(&object.metadata).map_err(|e| {
            Stop::Rejected(Finding {
                code: "options.metadata".into(),
                message: e.to_string(),
                file: None,
                line: None,
            })
        })?;
        let platform = self.config.platform();
        let Some(name) = planned_name(&checked, &options) else {
            // Naming failed: compiling says why, with the file and line.
            let values =
                deploy_time_values(&checked, &options, &platform).map_err(Stop::Rejected)?;
            return Err(
                match pipeline::compile(&checked, &options, &platform, &values) {
                    Err(error) => Stop::Rejected(error.finding()),
                    Ok(_) => Stop::Aws(ServiceError::new(
                        "name the state machine",
                        "naming failed before compiling but not while compiling",
                    )),
                },
            );
        };
        report.state_machine = Some(name.clone());
        watch.lap("options");

        let owner = match self
            .claim_state_machine(&name, flow_key, token, event.sequencer.as_deref(), takeover)
            .await
        {
            Ok(Ok(owner)) => owner,
            Ok(Err(not_owned)) => {
                return Err(Stop::Rejected(Finding {
                    code: "deploy.not_owner".into(),
                    message: not_owned.message(&name, flow_key),
                    file: None,
                    line: None,
                }));
            }
            Err(ClaimError::Service(error)) => return Err(Stop::Aws(error)),
            Err(busy @ ClaimError::Busy { .. }) => {
                return Err(Stop::Aws(ServiceError {
                    operation: "claim the state machine".into(),
                    code: Some("dropflow.Busy".into()),
                    message: busy.to_string(),
                }));
            }
        };
        if let Some(from) = &owner.taken_from {
            report.warnings.push(format!(
                "{name} was taken over from {from} (dropflow-takeover=true); {flow_key} owns it now"
            ));
        }
        watch.lap("owner");
        let deployed = Box::pin(self.deploy_owned(
            event, flow_key, &checked, &package, &options, &platform, &name, &owner, report, watch,
        ))
        .await;
        if let Err(error) = self.release_state_machine(&owner).await {
            report.warnings.push(format!(
                "the claim on {name} could not be released ({error}); it lapses by itself"
            ));
        }
        let status = deployed?;

        // The key now deploys under another name: undeploy what it deployed before (if
        // that is still its own). The new version is live either way.
        if let Some(old_name) = previous.state_machine.as_deref()
            && old_name != name
            && status == Status::Deployed
        {
            match self
                .undeploy_owned(old_name, flow_key, token, event.sequencer.as_deref())
                .await
            {
                Ok(Ok(replaced)) => report.changes.replaced = replaced,
                Ok(Err(owner)) => report.warnings.push(format!(
                    "{old_name}, which this key deployed before, is now owned by {owner}: left in place"
                )),
                Err(error) => report.warnings.push(format!(
                    "{old_name}, which this key deployed before, could not be undeployed ({error}); delete it by hand"
                )),
            }
        }
        watch.lap("replaced");
        Ok(committed(status, Some(name), Some(flow_name)))
    }

    /// Steps 3 under both claims: `unchanged` when the same version is deployed from this
    /// key, else compile and publish (`deployed`).
    #[allow(clippy::too_many_arguments)]
    async fn deploy_owned(
        &self,
        event: &ObjectEvent,
        flow_key: &str,
        checked: &CheckedFlow,
        package: &package::SourcePackage,
        options: &DeployOptions,
        platform: &Platform,
        name: &str,
        owner: &OwnerClaim,
        report: &mut Report,
        watch: &mut Stopwatch,
    ) -> Result<Status, Stop> {
        let version = version_id(&checked.source_digest, options, platform);
        let current = read_json::<DeploymentState>(&self.objects, &current_key(name)).await?;
        if let Some(current) = &current
            && current.version == version
            && current.source_key == flow_key
            && owner.taken_from.is_none()
        {
            self.unchanged(report, current);
            return Ok(Status::Unchanged);
        }

        let values = deploy_time_values(checked, options, platform).map_err(Stop::Rejected)?;
        watch.lap("deploy_time");
        let deployment = pipeline::compile(checked, options, platform, &values)
            .map_err(|e| Stop::Rejected(e.finding()))?;
        if deployment.state_machine_name != name {
            return Err(Stop::Aws(ServiceError::new(
                "name the state machine",
                format!(
                    "compiled as {} although planned as {name}",
                    deployment.state_machine_name
                ),
            )));
        }
        report.version = Some(deployment.version.clone());
        report.warnings.extend(deployment.warnings.clone());
        report.triggers = deployment.manifest.triggers.clone();
        watch.lap("compile");

        let mut changes = Changes::default();
        let applied = self
            .apply(&deployment, package, flow_key, event, &mut changes, watch)
            .await;
        report.changes = changes;
        let deployed = applied?;
        write_json(
            &self.objects,
            &current_key(&deployed.state_machine),
            &deployed,
        )
        .await?;
        report.status = Status::Deployed;
        report.summary = format!(
            "{} is live as {} ({})",
            deployed.version, deployed.version_arn, LIVE_ALIAS
        );
        Ok(Status::Deployed)
    }

    /// Same content as deployed from this key: nothing changes.
    fn unchanged(&self, report: &mut Report, current: &DeploymentState) {
        report.status = Status::Unchanged;
        report.state_machine = Some(current.state_machine.clone());
        report.version = Some(current.version.clone());
        report.summary = format!(
            "version {} is already deployed (from {})",
            current.version, current.source_key
        );
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
            tags: resource_tags(deployment, flow_key, &self.config.managed_by),
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
}

/// A report for an event that needed no work.
fn skipped(report: &mut Report, skip: Skip) {
    report.status = skip.status;
    report.summary = skip.summary;
    if let Some(record) = skip.record {
        report.flow = record.flow;
        report.state_machine = record.state_machine;
    }
}

/// A report for an event whose key could not be claimed (retryable).
pub(super) fn claim_failed(report: &mut Report, error: &ClaimError) {
    report.status = Status::Failed;
    report.retryable = true;
    report.summary = "the event was not handled; it can be retried".into();
    report.errors.push(match error {
        ClaimError::Service(error) => aws_finding(error),
        busy @ ClaimError::Busy { .. } => Finding {
            code: "dropflow.Busy".into(),
            message: busy.to_string(),
            file: None,
            line: None,
        },
    });
}

/// The flow class of a package that failed its checks, when it can still be found (for
/// `reports/latest/<flow>.json`).
fn flow_name_of(package: &package::SourcePackage) -> Option<String> {
    let files = package
        .files
        .iter()
        .map(|(path, bytes)| (path.as_str(), bytes.as_slice()));
    dropflow_compiler::discover::find_flow(files, package.script_hint.as_deref())
        .ok()
        .map(|found| found.flow().name.clone())
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

/// Tags on the state machine: who manages it (the bucket), the flow, the upload key that
/// owns it and the version, plus the owner's `aws_tags` (already in the manifest's job
/// definitions).
fn resource_tags(
    deployment: &Deployment,
    flow_key: &str,
    managed_by: &str,
) -> BTreeMap<String, String> {
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
    tags.insert(SOURCE_KEY_TAG.into(), tag_text(flow_key, 256));
    // After the user's `aws_tags`, so none of them can claim another installation's tag.
    tags.insert(MANAGED_BY_TAG.into(), tag_text(managed_by, 256));
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
