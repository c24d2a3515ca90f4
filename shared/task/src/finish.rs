//! The finish phase: after a task's Batch job succeeded, read what the task wrote
//! (its attempt's `DONE.lock`, `data.json`, `_task_ok`, and `_foreach_num_splits` for a
//! foreach step or `_transition` for a switch) and hand its children their context. A
//! foreach step's split indices go to S3 for its Distributed Map (`items`), or inline
//! (`splits`) when the deployment runs foreaches as inline Maps.

use futures_util::future::try_join3;

use super::artifacts::{
    ArtifactSource, DataJson, FOREACH_NUM_SPLITS, TASK_OK, TRANSITION, foreach_num_splits, task_ok,
    transition_step,
};
use super::datastore::split_s3_url;
use super::datastore::{Datastore, TaskFiles};
use super::error::{TaskError, TaskResult};
use super::records::{TaskStatus, items_key};
use super::start::submitted_record;
use super::width::{check_width, items_json};
use super::{bucket_url, duration_ms, now, step_plan, write_record};
use dropflow_contract::Manifest;
use dropflow_contract::NodeType;
use dropflow_contract::protocol::{Ctx, FinishRequest, FinishResponse, ItemsObject, Task};

/// Runs the finish phase.
pub async fn finish<D: Datastore>(
    request: &FinishRequest,
    manifest: &Manifest,
    store: &D,
) -> TaskResult<FinishResponse> {
    let task = &request.task;
    if task.step != request.step {
        return Err(TaskError::InvalidRequest(format!(
            "the finish of step {} was given a task of step {}",
            request.step, task.step
        )));
    }
    let plan = step_plan(manifest, &task.step)?;
    let root = manifest.datastore_root.as_str();
    let flow = manifest.flow.name.as_str();
    let files = TaskFiles::new(root, flow, &task.run, &task.step, &task.id);
    let not_finished = |missing: &str| TaskError::TaskNotFinished {
        pathspec: task.pathspec.clone(),
        attempt: task.attempt,
        missing: format!("{}.{missing}", task.attempt),
    };
    let (data, done) = futures_util::future::try_join(
        store.get(&files.data_json(task.attempt)),
        store.exists(&files.done_lock(task.attempt)),
    )
    .await?;
    if !done {
        return Err(not_finished("DONE.lock"));
    }
    let data = data.ok_or_else(|| not_finished("data.json"))?;
    let data = DataJson::parse(&data).map_err(|problem| TaskError::BadArtifact {
        pathspec: task.pathspec.clone(),
        name: "data.json".into(),
        problem,
    })?;
    let source = ArtifactSource {
        root,
        flow,
        pathspec: &task.pathspec,
        data: &data,
    };
    let is_foreach = plan.node_type == NodeType::Foreach;
    let is_switch = plan.node_type == NodeType::SplitSwitch;
    let (ok, splits, next) = try_join3(
        source.read(store, TASK_OK, task_ok),
        async {
            match is_foreach {
                true => source
                    .read(store, FOREACH_NUM_SPLITS, foreach_num_splits)
                    .await
                    .map(Some),
                false => Ok(None),
            }
        },
        async {
            match is_switch {
                true => source.read(store, TRANSITION, transition_step).await,
                false => Ok(None),
            }
        },
    )
    .await?;
    if !ok {
        return Err(TaskError::TaskFailed {
            pathspec: task.pathspec.clone(),
            attempt: task.attempt,
        });
    }
    if let Some(next) = &next
        && !plan.out_funcs.contains(next)
    {
        return Err(TaskError::BadArtifact {
            pathspec: task.pathspec.clone(),
            name: TRANSITION.into(),
            problem: format!(
                "step {next} is not a case of the switch (cases: {})",
                plan.out_funcs.join(", ")
            ),
        });
    }

    if let Some(width) = splits {
        check_width(task, width, manifest.options.distributed_map)?;
    }
    let items = match splits {
        Some(width) if manifest.options.distributed_map => {
            Some(write_items(store, manifest, task, width).await?)
        }
        _ => None,
    };

    let finished_at = now();
    let mut record = submitted_record(manifest, task);
    record.status = TaskStatus::Succeeded;
    record.batch_job_id = request.batch.as_ref().map(|b| b.job_id.clone());
    record.duration_ms = duration_ms(&task.started_at, &finished_at);
    record.finished_at = Some(finished_at);
    record.splits = splits;
    record.next = next.clone();
    write_record(store, manifest, &record).await?;

    Ok(FinishResponse {
        ctx: Ctx {
            manifest: task.manifest.clone(),
            run: task.run.clone(),
            task: format!("{}/{}", task.step, task.id),
            foreach: task.foreach.clone(),
            iter: task.iter,
            resume: task.resume.clone(),
        },
        width: splits,
        splits: match items {
            None => splits.map(|n| (0..n).collect()),
            Some(_) => None,
        },
        items,
        next: if is_switch { next } else { None },
    })
}

/// Writes a foreach task's split indices to the run's area, for its Distributed Map.
async fn write_items<D: Datastore>(
    store: &D,
    manifest: &Manifest,
    task: &Task,
    width: u32,
) -> TaskResult<ItemsObject> {
    let key = items_key(&manifest.state_machine, &task.run, &task.step, &task.id);
    let url = bucket_url(manifest, &key)?;
    store
        .put(&url, items_json(width), "application/json")
        .await?;
    let (bucket, key) = split_s3_url(&url).expect("bucket_url makes s3:// URLs");
    Ok(ItemsObject {
        bucket: bucket.to_string(),
        key: key.to_string(),
    })
}
