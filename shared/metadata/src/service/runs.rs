//! Flows and runs: registration (named or numbered), reads, heartbeats and tag mutation.

use serde_json::Value;

use super::*;
use crate::body::{NewFlow, NewRun, TagMutation};
use crate::error::{ApiError, code};
use crate::model::{FlowRecord, Id, RunRecord};
use crate::route::{RunPath, check_id};
use crate::store::{Item, MetadataStore, keys};

impl<S: MetadataStore> MetadataService<S> {
    /// Registers a flow; 409 when it exists.
    pub async fn create_flow(&self, flow: &str, new: NewFlow) -> Result<FlowRecord, ApiError> {
        check_id("flow", flow)?;
        let record = FlowRecord {
            flow_id: flow.to_string(),
            user_name: new.user_name,
            ts_epoch: self.now_ms(),
            tags: new.tags,
            system_tags: new.system_tags,
        };
        let item = Item::new(keys::FLOWS, flow, encode(&record)?);
        if !self.store.create(item).await? {
            return Err(ApiError::conflict(format!("flow {flow} exists")));
        }
        Ok(record)
    }

    /// A flow; 404 when it is not registered.
    pub async fn flow(&self, flow: &str) -> Result<FlowRecord, ApiError> {
        match self.store.get(keys::FLOWS, flow).await? {
            Some(item) => decode(&item),
            None => Err(ApiError::not_found(format!("flow {flow} not found"))),
        }
    }

    /// Every flow.
    pub async fn list_flows(&self) -> Result<Vec<FlowRecord>, ApiError> {
        let items = self.store.query(keys::FLOWS, "").await?;
        items.iter().map(decode).collect()
    }

    // ---- runs -----------------------------------------------------------------------

    /// Registers a run of a registered flow (404 otherwise): the id given in `new`
    /// (409 when it exists), or the flow's next run number.
    pub async fn create_run(&self, flow: &str, new: NewRun) -> Result<RunRecord, ApiError> {
        check_id("flow", flow)?;
        let named = new
            .run_number
            .as_ref()
            .map(|id| check_name("run", id))
            .transpose()?;
        if self.store.get(keys::FLOWS, flow).await?.is_none() {
            return Err(ApiError::not_found(format!(
                "flow {flow} not found; register it first (POST /flows/{flow})"
            )));
        }
        let run_number = match named {
            Some(name) => Id::Name(name),
            None => Id::Number(
                self.store
                    .next_ids(&keys::flow(flow), keys::RUN_COUNTER, 1)
                    .await?,
            ),
        };
        let heartbeat = sends_heartbeats(&new.system_tags).then(|| self.now_s());
        let record = RunRecord {
            flow_id: flow.to_string(),
            run_number,
            user_name: new.user_name,
            ts_epoch: self.now_ms(),
            tags: new.tags,
            system_tags: new.system_tags,
            last_heartbeat_ts: None,
        };
        let item = Item::new(
            keys::flow(flow),
            keys::run(&record.run_number.as_key()),
            encode(&record)?,
        )
        .with_heartbeat(heartbeat);
        if !self.store.create(item).await? {
            return Err(ApiError::conflict(format!(
                "run {flow}/{} exists",
                record.run_number
            )));
        }
        Ok(RunRecord {
            last_heartbeat_ts: heartbeat,
            ..record
        })
    }

    /// A run and its revision; 404 when it is not registered.
    pub async fn run(&self, run: &RunPath) -> Result<(RunRecord, u64), ApiError> {
        self.find_run(run)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("run {}/{} not found", run.flow, run.run)))
    }

    pub(super) async fn find_run(
        &self,
        run: &RunPath,
    ) -> Result<Option<(RunRecord, u64)>, ApiError> {
        let item = self
            .store
            .get(&keys::flow(&run.flow), &keys::run(&run.run.as_key()))
            .await?;
        item.map(|item| {
            let record: RunRecord = decode(&item)?;
            Ok((
                RunRecord {
                    last_heartbeat_ts: item.heartbeat,
                    ..record
                },
                item.rev,
            ))
        })
        .transpose()
    }

    /// Every run of a flow (none when the flow is unknown).
    pub async fn list_runs(&self, flow: &str) -> Result<Vec<RunRecord>, ApiError> {
        let items = self.store.query(&keys::flow(flow), keys::RUNS).await?;
        items
            .iter()
            .map(|item| {
                let record: RunRecord = decode(item)?;
                Ok(RunRecord {
                    last_heartbeat_ts: item.heartbeat,
                    ..record
                })
            })
            .collect()
    }

    /// Gets or creates the flow and the named run `new.run_number` (which must be
    /// given): what the step Lambda calls when a run starts, so the run exists with its
    /// system tags (`runtime:step-functions`, `production:<token>`) before any task
    /// registers it. An existing run is returned unchanged.
    pub async fn ensure_run(&self, flow: &str, new: NewRun) -> Result<RunRecord, ApiError> {
        let Some(id) = new.run_number.clone() else {
            return Err(ApiError::bad_request("ensure_run needs a run id"));
        };
        let path = RunPath {
            flow: flow.to_string(),
            run: Id::Name(check_name("run", &id)?),
        };
        if let Some((record, _)) = self.find_run(&path).await? {
            return Ok(record);
        }
        let flow_new = NewFlow {
            user_name: new.user_name.clone(),
            ..NewFlow::default()
        };
        match self.create_flow(flow, flow_new).await {
            Ok(_) => {}
            Err(e) if e.status == 409 => {}
            Err(e) => return Err(e),
        }
        match self.create_run(flow, new).await {
            Err(e) if e.status == 409 => Ok(self.run(&path).await?.0),
            other => other,
        }
    }

    /// Records a run heartbeat.
    pub async fn run_heartbeat(&self, run: &RunPath) -> Result<Value, ApiError> {
        let found = self
            .store
            .heartbeat(
                &keys::flow(&run.flow),
                &keys::run(&run.run.as_key()),
                self.now_s(),
            )
            .await?;
        if !found {
            return Err(ApiError::not_found(format!(
                "run {}/{} not found",
                run.flow, run.run
            )));
        }
        Ok(heartbeat_answer())
    }

    /// Adds and removes a run's user tags (removals first; system tags can be neither
    /// removed, 422, nor added as user tags, ignored) and returns the new user tags.
    pub async fn mutate_tags(
        &self,
        run: &RunPath,
        mutation: TagMutation,
    ) -> Result<Vec<String>, ApiError> {
        let pk = keys::flow(&run.flow);
        let sk = keys::run(&run.run.as_key());
        for _ in 0..TAG_RETRIES {
            let (record, rev) = self.run(run).await?;
            let protected: Vec<&String> = mutation
                .tags_to_remove
                .iter()
                .filter(|t| record.system_tags.contains(t))
                .collect();
            if !protected.is_empty() {
                return Err(ApiError::new(
                    422,
                    code::UNPROCESSABLE,
                    format!("cannot remove system tags {protected:?}"),
                ));
            }
            let mut tags: Vec<String> = record
                .tags
                .iter()
                .filter(|t| !mutation.tags_to_remove.contains(t))
                .cloned()
                .collect();
            for tag in &mutation.tags_to_add {
                if !tags.contains(tag) && !record.system_tags.contains(tag) {
                    tags.push(tag.clone());
                }
            }
            if tags == record.tags {
                return Ok(tags);
            }
            let updated = RunRecord {
                tags: tags.clone(),
                last_heartbeat_ts: None,
                ..record
            };
            if self.store.update(&pk, &sk, encode(&updated)?, rev).await? {
                return Ok(tags);
            }
        }
        Err(ApiError::conflict(format!(
            "the tags of run {}/{} kept changing; retry",
            run.flow, run.run
        )))
    }
}
