//! Task metadata: every datum kept with a per-run sequence number, read newest first.

use super::*;
use crate::body::NewMetadatum;
use crate::error::ApiError;
use crate::model::MetadatumRecord;
use crate::route::{RunPath, TaskPath};
use crate::store::{Item, MetadataStore, keys};

impl<S: MetadataStore> MetadataService<S> {
    /// Records metadata of a registered task (400 otherwise, as the reference). Every
    /// datum is kept (a field written twice has two records; readers take the newest).
    /// Returns how many were created.
    pub async fn create_metadata(
        &self,
        task: &TaskPath,
        data: Vec<NewMetadatum>,
    ) -> Result<usize, ApiError> {
        let Some(parent) = self.find_task(task).await? else {
            return Err(ApiError::bad_request(format!(
                "need to register run_id and task_id first ({}/{}/{}/{})",
                task.flow(),
                task.step.run.run,
                task.step.step,
                task.task
            )));
        };
        if data.is_empty() {
            return Ok(0);
        }
        let now = self.now_ms();
        let pk = keys::run_partition(task.flow(), &parent.run_number.as_key());
        let mut records = data
            .into_iter()
            .map(|d| MetadatumRecord {
                id: 0,
                flow_id: parent.flow_id.clone(),
                run_number: parent.run_number.clone(),
                step_name: parent.step_name.clone(),
                task_id: parent.task_id.clone(),
                field_name: d.field_name,
                value: d.value,
                kind: d.kind,
                user_name: d.user_name,
                ts_epoch: now,
                tags: d.tags,
                system_tags: d.system_tags,
            })
            .collect::<Vec<_>>();
        // Sizes are checked before any id is taken or anything written.
        for record in &records {
            encode(record)?;
        }
        let count = records.len() as u64;
        let last = self
            .store
            .next_ids(&pk, keys::METADATA_COUNTER, count)
            .await?;
        let task_key = parent.task_id.as_key();
        let items = records
            .iter_mut()
            .zip(last + 1 - count..)
            .map(|(record, id)| {
                record.id = id;
                let sk = keys::metadatum(&parent.step_name, &task_key, id);
                Ok(Item::new(pk.clone(), sk, encode(record)?))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        self.create_all(items).await
    }

    /// The metadata under a sort-key prefix of a run, newest first.
    pub(super) async fn metadata(
        &self,
        run: &RunPath,
        prefix: &str,
    ) -> Result<Vec<MetadatumRecord>, ApiError> {
        let pk = keys::run_partition(&run.flow, &run.run.as_key());
        let items = self.store.query(&pk, prefix).await?;
        let mut data: Vec<MetadatumRecord> = items.iter().map(decode).collect::<Result<_, _>>()?;
        data.sort_by_key(|m| std::cmp::Reverse((m.ts_epoch, m.id)));
        Ok(data)
    }
}
