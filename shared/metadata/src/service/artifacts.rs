//! Artifacts: registration per attempt, and reads of one attempt or of each task's latest.

use super::*;
use crate::body::NewArtifact;
use crate::error::ApiError;
use crate::model::ArtifactRecord;
use crate::route::{RunPath, TaskPath, check_id};
use crate::store::{Item, MetadataStore, keys};

impl<S: MetadataStore> MetadataService<S> {
    /// Registers artifacts of a registered task (400 otherwise, as the reference: "need
    /// to register run_id and task_id first"). An artifact already registered for the
    /// same attempt is kept and not counted. Returns how many were created.
    pub async fn create_artifacts(
        &self,
        task: &TaskPath,
        artifacts: Vec<NewArtifact>,
    ) -> Result<usize, ApiError> {
        for (i, a) in artifacts.iter().enumerate() {
            check_id("artifact", &a.name)
                .map_err(|e| ApiError::bad_request(format!("artifacts[{i}]: {}", e.message)))?;
        }
        let Some(parent) = self.find_task(task).await? else {
            return Err(ApiError::bad_request(format!(
                "need to register run_id and task_id first ({}/{}/{}/{})",
                task.flow(),
                task.step.run.run,
                task.step.step,
                task.task
            )));
        };
        let now = self.now_ms();
        let pk = keys::run_partition(task.flow(), &parent.run_number.as_key());
        let items = artifacts
            .into_iter()
            .map(|a| {
                let sk = keys::artifact(
                    &task.step.step,
                    &parent.task_id.as_key(),
                    a.attempt_id,
                    &a.name,
                );
                let record = ArtifactRecord {
                    flow_id: parent.flow_id.clone(),
                    run_number: parent.run_number.clone(),
                    step_name: parent.step_name.clone(),
                    task_id: parent.task_id.clone(),
                    name: a.name,
                    location: a.location,
                    ds_type: a.ds_type,
                    sha: a.sha,
                    kind: a.kind,
                    content_type: a.content_type,
                    user_name: a.user_name,
                    attempt_id: a.attempt_id,
                    ts_epoch: now,
                    tags: Vec::new(),
                    system_tags: Vec::new(),
                };
                Ok(Item::new(pk.clone(), sk, encode(&record)?))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        self.create_all(items).await
    }

    /// Writes items concurrently; how many were new.
    pub(super) async fn create_all(&self, items: Vec<Item>) -> Result<usize, ApiError> {
        let created: Vec<bool> =
            stream::iter(items.into_iter().map(|item| self.store.create(item)))
                .buffer_unordered(WRITE_CONCURRENCY)
                .try_collect()
                .await?;
        Ok(created.into_iter().filter(|c| *c).count())
    }

    /// The artifacts under a sort-key prefix of a run: of one `attempt`, or each task's
    /// latest; with the run's tags.
    pub(super) async fn artifacts(
        &self,
        run: &RunPath,
        prefix: &str,
        attempt: Option<u32>,
    ) -> Result<Vec<ArtifactRecord>, ApiError> {
        let pk = keys::run_partition(&run.flow, &run.run.as_key());
        let items = self.store.query(&pk, prefix).await?;
        let all: Vec<ArtifactRecord> = items.iter().map(decode).collect::<Result<_, _>>()?;
        let mut chosen = match attempt {
            Some(n) => all.into_iter().filter(|a| a.attempt_id == n).collect(),
            None => latest_attempts(all),
        };
        self.graft(run, &mut chosen, |a| (&mut a.tags, &mut a.system_tags))
            .await?;
        Ok(chosen)
    }

    /// A task's artifacts: of `attempt`, or of its latest attempt.
    pub async fn task_artifacts(
        &self,
        task: &TaskPath,
        attempt: Option<u32>,
    ) -> Result<Vec<ArtifactRecord>, ApiError> {
        let prefix = keys::artifacts_of_task(&task.step.step, &task.task.as_key());
        self.artifacts(&task.step.run, &prefix, attempt).await
    }

    /// One artifact: of `attempt`, or of the latest attempt that registered the `name`
    /// artifact (every attempt has one; attempt 0 when none did); 404 when absent.
    pub async fn artifact(
        &self,
        task: &TaskPath,
        name: &str,
        attempt: Option<u32>,
    ) -> Result<ArtifactRecord, ApiError> {
        let all = self.task_artifacts_all(task).await?;
        let attempt = attempt.unwrap_or_else(|| {
            all.iter()
                .filter(|a| a.name == "name")
                .map(|a| a.attempt_id)
                .max()
                .unwrap_or(0)
        });
        let mut found: Vec<ArtifactRecord> = all
            .into_iter()
            .filter(|a| a.name == name && a.attempt_id == attempt)
            .collect();
        self.graft(&task.step.run, &mut found, |a| {
            (&mut a.tags, &mut a.system_tags)
        })
        .await?;
        found.pop().ok_or_else(|| {
            ApiError::not_found(format!(
                "artifact {name} of {}/{}/{}/{} attempt {attempt} not found",
                task.flow(),
                task.step.run.run,
                task.step.step,
                task.task
            ))
        })
    }

    pub(super) async fn task_artifacts_all(
        &self,
        task: &TaskPath,
    ) -> Result<Vec<ArtifactRecord>, ApiError> {
        let run = &task.step.run;
        let pk = keys::run_partition(&run.flow, &run.run.as_key());
        let prefix = keys::artifacts_of_task(&task.step.step, &task.task.as_key());
        let items = self.store.query(&pk, &prefix).await?;
        items.iter().map(decode).collect()
    }
}
