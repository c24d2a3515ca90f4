//! Steps and tasks: registration (named or numbered), reads with the run's tags,
//! heartbeats, and the `filtered_tasks` search over task metadata.

use serde_json::Value;

use super::*;
use crate::body::{NewRun, NewTask};
use crate::error::ApiError;
use crate::model::{Id, StepRecord, TaskRecord};
use crate::route::{RunPath, StepPath, TaskPath};
use crate::store::{Item, MetadataStore, keys};

impl<S: MetadataStore> MetadataService<S> {
    /// Registers a step of a registered run (404 otherwise); 409 when it exists.
    pub async fn create_step(&self, step: &StepPath, new: NewRun) -> Result<StepRecord, ApiError> {
        let (run, _) = self.run(&step.run).await?;
        let record = StepRecord {
            flow_id: run.flow_id.clone(),
            run_number: run.run_number.clone(),
            step_name: step.step.clone(),
            user_name: new.user_name,
            ts_epoch: self.now_ms(),
            tags: new.tags,
            system_tags: new.system_tags,
        };
        let item = Item::new(
            keys::run_partition(&step.run.flow, &run.run_number.as_key()),
            keys::step(&step.step),
            encode(&record)?,
        );
        if !self.store.create(item).await? {
            return Err(ApiError::conflict(format!(
                "step {}/{}/{} exists",
                step.run.flow, step.run.run, step.step
            )));
        }
        Ok(StepRecord {
            tags: run.tags,
            system_tags: run.system_tags,
            ..record
        })
    }

    /// A step, with its run's tags; 404 when it is not registered.
    pub async fn step(&self, step: &StepPath) -> Result<StepRecord, ApiError> {
        let not_found = || {
            ApiError::not_found(format!(
                "step {}/{}/{} not found",
                step.run.flow, step.run.run, step.step
            ))
        };
        let (run, _) = self.find_run(&step.run).await?.ok_or_else(not_found)?;
        let pk = keys::run_partition(&step.run.flow, &step.run.run.as_key());
        let item = self
            .store
            .get(&pk, &keys::step(&step.step))
            .await?
            .ok_or_else(not_found)?;
        let record: StepRecord = decode(&item)?;
        Ok(StepRecord {
            tags: run.tags,
            system_tags: run.system_tags,
            ..record
        })
    }

    /// Every step of a run, with its tags.
    pub async fn list_steps(&self, run: &RunPath) -> Result<Vec<StepRecord>, ApiError> {
        let pk = keys::run_partition(&run.flow, &run.run.as_key());
        let items = self.store.query(&pk, keys::STEPS).await?;
        let mut steps: Vec<StepRecord> = items.iter().map(decode).collect::<Result<_, _>>()?;
        self.graft(run, &mut steps, |s| (&mut s.tags, &mut s.system_tags))
            .await?;
        Ok(steps)
    }

    /// Replaces each record's tags with its run's (when there are records).
    pub(super) async fn graft<T>(
        &self,
        run: &RunPath,
        records: &mut [T],
        tags: impl Fn(&mut T) -> (&mut Vec<String>, &mut Vec<String>),
    ) -> Result<(), ApiError> {
        if records.is_empty() {
            return Ok(());
        }
        if let Some((run, _)) = self.find_run(run).await? {
            for record in records {
                let (t, s) = tags(record);
                t.clone_from(&run.tags);
                s.clone_from(&run.system_tags);
            }
        }
        Ok(())
    }

    // ---- tasks ----------------------------------------------------------------------

    /// Registers a task of a registered step (404 otherwise): the id given in `new` (409
    /// when it exists), or the run's next task number.
    pub async fn create_task(&self, step: &StepPath, new: NewTask) -> Result<TaskRecord, ApiError> {
        let named = new
            .task_id
            .as_ref()
            .map(|id| check_name("task", id))
            .transpose()?;
        let (run, _) = self.run(&step.run).await?;
        let pk = keys::run_partition(&step.run.flow, &run.run_number.as_key());
        if self
            .store
            .get(&pk, &keys::step(&step.step))
            .await?
            .is_none()
        {
            return Err(ApiError::not_found(format!(
                "step {}/{}/{} not found; register it first (POST …/steps/{}/step)",
                step.run.flow, step.run.run, step.step, step.step
            )));
        }
        let task_id = match named {
            Some(name) => Id::Name(name),
            None => Id::Number(self.store.next_ids(&pk, keys::TASK_COUNTER, 1).await?),
        };
        let heartbeat = sends_heartbeats(&new.system_tags).then(|| self.now_s());
        let record = TaskRecord {
            flow_id: run.flow_id.clone(),
            run_number: run.run_number.clone(),
            step_name: step.step.clone(),
            task_id,
            user_name: new.user_name,
            ts_epoch: self.now_ms(),
            tags: new.tags,
            system_tags: new.system_tags,
            last_heartbeat_ts: None,
        };
        let item = Item::new(
            pk,
            keys::task(&step.step, &record.task_id.as_key()),
            encode(&record)?,
        )
        .with_heartbeat(heartbeat);
        if !self.store.create(item).await? {
            return Err(ApiError::conflict(format!(
                "task {}/{}/{}/{} exists",
                step.run.flow, step.run.run, step.step, record.task_id
            )));
        }
        if let Some(at) = heartbeat {
            let run_sk = keys::run(&run.run_number.as_key());
            self.store
                .heartbeat(&keys::flow(&step.run.flow), &run_sk, at)
                .await?;
        }
        Ok(TaskRecord {
            tags: run.tags,
            system_tags: run.system_tags,
            last_heartbeat_ts: heartbeat,
            ..record
        })
    }

    /// Gets or creates the step and the named task `new.task_id` (which must be given)
    /// of a registered run: for the step Lambda, which records tasks Metaflow may never
    /// have registered (a Batch job that failed before Python started).
    pub async fn ensure_task(&self, step: &StepPath, new: NewTask) -> Result<TaskRecord, ApiError> {
        let Some(id) = new.task_id.clone() else {
            return Err(ApiError::bad_request("ensure_task needs a task id"));
        };
        let path = TaskPath {
            step: step.clone(),
            task: Id::Name(check_name("task", &id)?),
        };
        if let Some(task) = self.find_task(&path).await? {
            return Ok(task);
        }
        let step_new = NewRun {
            user_name: new.user_name.clone(),
            ..NewRun::default()
        };
        match self.create_step(step, step_new).await {
            Ok(_) => {}
            Err(e) if e.status == 409 => {}
            Err(e) => return Err(e),
        }
        match self.create_task(step, new).await {
            Err(e) if e.status == 409 => self.task(&path).await,
            other => other,
        }
    }

    pub(super) async fn find_task(&self, task: &TaskPath) -> Result<Option<TaskRecord>, ApiError> {
        let run = &task.step.run;
        let Some((run_record, _)) = self.find_run(run).await? else {
            return Ok(None);
        };
        let pk = keys::run_partition(&run.flow, &run.run.as_key());
        let sk = keys::task(&task.step.step, &task.task.as_key());
        let Some(item) = self.store.get(&pk, &sk).await? else {
            return Ok(None);
        };
        let record: TaskRecord = decode(&item)?;
        Ok(Some(TaskRecord {
            tags: run_record.tags,
            system_tags: run_record.system_tags,
            last_heartbeat_ts: item.heartbeat,
            ..record
        }))
    }

    /// A task, with its run's tags; 404 when it is not registered.
    pub async fn task(&self, task: &TaskPath) -> Result<TaskRecord, ApiError> {
        self.find_task(task).await?.ok_or_else(|| {
            ApiError::not_found(format!(
                "task {}/{}/{}/{} not found",
                task.flow(),
                task.step.run.run,
                task.step.step,
                task.task
            ))
        })
    }

    /// Every task of a step, with the run's tags.
    pub async fn list_tasks(&self, step: &StepPath) -> Result<Vec<TaskRecord>, ApiError> {
        let pk = keys::run_partition(&step.run.flow, &step.run.run.as_key());
        let items = self.store.query(&pk, &keys::tasks_of(&step.step)).await?;
        let mut tasks = items
            .iter()
            .map(|item| {
                let record: TaskRecord = decode(item)?;
                Ok(TaskRecord {
                    last_heartbeat_ts: item.heartbeat,
                    ..record
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        self.graft(&step.run, &mut tasks, |t| (&mut t.tags, &mut t.system_tags))
            .await?;
        Ok(tasks)
    }

    /// Records a task heartbeat (and its run's).
    pub async fn task_heartbeat(&self, task: &TaskPath) -> Result<Value, ApiError> {
        let run = &task.step.run;
        let now = self.now_s();
        self.store
            .heartbeat(&keys::flow(&run.flow), &keys::run(&run.run.as_key()), now)
            .await?;
        let pk = keys::run_partition(&run.flow, &run.run.as_key());
        let sk = keys::task(&task.step.step, &task.task.as_key());
        if !self.store.heartbeat(&pk, &sk, now).await? {
            return Err(ApiError::not_found(format!(
                "task {}/{}/{}/{} not found",
                task.flow(),
                run.run,
                task.step.step,
                task.task
            )));
        }
        Ok(heartbeat_answer())
    }

    /// The pathspecs (`flow/run/step/task`) of a step's tasks with a metadatum named
    /// `field` (any, when `None`) whose value matches the regular expression `pattern`
    /// (unanchored, as the reference's `regexp_match`; any value when `None`).
    pub async fn filtered_tasks(
        &self,
        step: &StepPath,
        field: Option<&str>,
        pattern: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        let regex = pattern
            .filter(|p| !p.is_empty())
            .map(|p| {
                regex_lite::Regex::new(p).map_err(|e| {
                    ApiError::bad_request(format!("pattern {p:?} is not a regular expression: {e}"))
                })
            })
            .transpose()?;
        let field = field.filter(|f| !f.is_empty());
        let data = self
            .metadata(&step.run, &keys::metadata_of_step(&step.step))
            .await?;
        let mut tasks: Vec<Id> = data
            .into_iter()
            .filter(|m| field.is_none_or(|f| m.field_name == f))
            .filter(|m| {
                regex.as_ref().is_none_or(|r| match &m.value {
                    Value::String(text) => r.is_match(text),
                    other => r.is_match(&other.to_string()),
                })
            })
            .map(|m| m.task_id)
            .collect();
        tasks.sort();
        tasks.dedup();
        let run = self
            .find_run(&step.run)
            .await?
            .map(|(r, _)| r.run_number.as_key())
            .unwrap_or_else(|| step.run.run.as_key());
        Ok(tasks
            .iter()
            .map(|t| format!("{}/{run}/{}/{t}", step.run.flow, step.step))
            .collect())
    }
}
