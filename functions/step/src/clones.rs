//! The step Lambda's [`CloneRegistry`]: registers a resumed run's cloned task in the
//! metadata service's store (DynamoDB on AWS and the local stack), as Metaflow's
//! `clone_task_helper` does, plus the origin task's artifacts so that the Client reads
//! the clone's data. The new run gets the origin run's tags (what Metaflow's tasks
//! registered for it); the clone's task id, `origin-task-id`, `origin-run-id`, `attempt`
//! and `attempt_ok` (`True`) follow.

use std::sync::Arc;

use dropflow_contract::ServiceError;
use dropflow_metadata_service::body::{NewArtifact, NewMetadatum, NewRun, NewTask};
use dropflow_metadata_service::model::Id;
use dropflow_metadata_service::route::{RunPath, StepPath, TaskPath};
use dropflow_metadata_service::{ApiError, MetadataService, MetadataStore};
use dropflow_task::clone_registry::{CloneRegistry, ClonedTask, RegisterFuture};
use serde_json::Value;

/// Registers clones through a metadata service over store `S`.
pub struct MetadataClones<S> {
    service: Arc<MetadataService<S>>,
}

impl<S> std::fmt::Debug for MetadataClones<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetadataClones")
    }
}

impl<S: MetadataStore> MetadataClones<S> {
    /// Over `service`.
    pub fn new(service: Arc<MetadataService<S>>) -> Self {
        Self { service }
    }

    async fn register_clone(&self, clone: &ClonedTask) -> Result<(), ApiError> {
        let svc = &self.service;
        let run_path = |run: &str| RunPath {
            flow: clone.flow.clone(),
            run: Id::Name(run.to_string()),
        };
        let task_path = |run: &str| TaskPath {
            step: StepPath {
                run: run_path(run),
                step: clone.step.clone(),
            },
            task: Id::Name(clone.task.clone()),
        };
        let user = Some(clone.user.clone());
        // The origin's tags, as Metaflow's tasks registered them; else the deployment's.
        let (tags, system_tags) = match svc.run(&run_path(&clone.origin_run)).await {
            Ok((origin, _)) => (origin.tags, origin.system_tags),
            Err(e) if e.status == 404 => (clone.tags.clone(), clone.system_tags.clone()),
            Err(e) => return Err(e),
        };
        svc.ensure_run(
            &clone.flow,
            NewRun {
                run_number: Some(Id::Name(clone.run.clone())),
                user_name: user.clone(),
                tags,
                system_tags,
            },
        )
        .await?;
        let task = task_path(&clone.run);
        svc.ensure_task(
            &task.step,
            NewTask {
                task_id: Some(task.task.clone()),
                user_name: user.clone(),
                ..NewTask::default()
            },
        )
        .await?;
        let attempt_tag = vec![format!("attempt_id:{}", clone.attempt)];
        let datum = |field: &str, kind: &str, value: String| NewMetadatum {
            field_name: field.to_string(),
            value: Value::String(value),
            kind: kind.to_string(),
            user_name: user.clone(),
            tags: attempt_tag.clone(),
            system_tags: Vec::new(),
        };
        svc.create_metadata(
            &task,
            vec![
                datum("origin-task-id", "origin-task-id", clone.task.clone()),
                datum("origin-run-id", "origin-run-id", clone.origin_run.clone()),
                datum("attempt", "attempt", clone.attempt.to_string()),
                datum("attempt_ok", "internal_attempt_status", "True".into()),
            ],
        )
        .await?;
        let origin = task_path(&clone.origin_run);
        let artifacts = match svc.task_artifacts(&origin, None).await {
            Ok(artifacts) => artifacts,
            Err(e) if e.status == 404 => Vec::new(),
            Err(e) => return Err(e),
        };
        let artifacts: Vec<NewArtifact> = artifacts
            .into_iter()
            .map(|a| NewArtifact {
                name: a.name,
                attempt_id: clone.attempt,
                location: a.location,
                ds_type: a.ds_type,
                sha: a.sha,
                kind: a.kind,
                content_type: a.content_type,
                user_name: a.user_name,
            })
            .collect();
        if !artifacts.is_empty() {
            svc.create_artifacts(&task, artifacts).await?;
        }
        Ok(())
    }
}

impl<S: MetadataStore> CloneRegistry for MetadataClones<S> {
    fn register<'a>(&'a self, clone: &'a ClonedTask) -> RegisterFuture<'a> {
        Box::pin(async move {
            self.register_clone(clone).await.map_err(|e| {
                ServiceError::new(
                    format!(
                        "register the clone {}/{}/{}/{} with the metadata service",
                        clone.flow, clone.run, clone.step, clone.task
                    ),
                    e.to_string(),
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dropflow_metadata_service::{MemoryStore, Request, ServiceConfig};
    use serde_json::json;

    fn clone_of(origin_run: &str) -> ClonedTask {
        ClonedTask {
            flow: "ForeachFlow".into(),
            run: "sfn-resumed".into(),
            step: "square".into(),
            task: "square-3".into(),
            attempt: 0,
            origin_run: origin_run.into(),
            user: "SFN".into(),
            tags: vec!["nightly".into()],
            system_tags: vec!["runtime:step-functions".into()],
        }
    }

    async fn get(svc: &MetadataService<MemoryStore>, path: &str) -> Value {
        let response = svc.handle(&Request::new("GET", path)).await;
        assert_eq!(response.status, 200, "{path}");
        serde_json::from_slice(&response.body).unwrap()
    }

    #[tokio::test]
    async fn a_clone_is_registered_as_metaflow_registers_one_with_the_origin_artifacts() {
        let svc = Arc::new(MetadataService::new(
            MemoryStore::new(),
            ServiceConfig::default(),
        ));
        // The origin, as Metaflow's tasks registered it.
        let origin_tags = vec!["runtime:step-functions".to_string(), "user:SFN".into()];
        svc.ensure_run(
            "ForeachFlow",
            NewRun {
                run_number: Some(Id::Name("sfn-origin".into())),
                user_name: Some("SFN".into()),
                tags: vec!["team:a".into()],
                system_tags: origin_tags.clone(),
            },
        )
        .await
        .unwrap();
        let origin = TaskPath {
            step: StepPath {
                run: RunPath {
                    flow: "ForeachFlow".into(),
                    run: Id::Name("sfn-origin".into()),
                },
                step: "square".into(),
            },
            task: Id::Name("square-3".into()),
        };
        svc.ensure_task(
            &origin.step,
            NewTask {
                task_id: Some(origin.task.clone()),
                ..NewTask::default()
            },
        )
        .await
        .unwrap();
        svc.create_artifacts(
            &origin,
            vec![NewArtifact {
                name: "value".into(),
                attempt_id: 2,
                location: ":root:s3://b/metaflow".into(),
                ds_type: "s3".into(),
                sha: "abc".into(),
                kind: "metaflow.artifact".into(),
                content_type: "gzip+pickle-v4".into(),
                user_name: Some("SFN".into()),
            }],
        )
        .await
        .unwrap();

        let clones = MetadataClones::new(svc.clone());
        clones.register(&clone_of("sfn-origin")).await.unwrap();
        // Registering again (a retried start phase) is harmless.
        clones.register(&clone_of("sfn-origin")).await.unwrap();

        let run = get(&svc, "/flows/ForeachFlow/runs/sfn-resumed").await;
        assert_eq!(run["system_tags"], json!(origin_tags), "{run}");
        assert_eq!(run["tags"], json!(["team:a"]), "{run}");
        let tasks = get(
            &svc,
            "/flows/ForeachFlow/runs/sfn-resumed/steps/square/tasks",
        )
        .await;
        assert_eq!(tasks.as_array().unwrap().len(), 1, "{tasks}");
        let task = "/flows/ForeachFlow/runs/sfn-resumed/steps/square/tasks/square-3";
        let metadata = get(&svc, &format!("{task}/metadata")).await;
        let field = |name: &str| {
            metadata
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["field_name"] == name)
                .map(|m| m["value"].clone())
        };
        assert_eq!(field("origin-run-id"), Some(json!("sfn-origin")));
        assert_eq!(field("origin-task-id"), Some(json!("square-3")));
        assert_eq!(field("attempt"), Some(json!("0")));
        assert_eq!(field("attempt_ok"), Some(json!("True")));
        let artifacts = get(&svc, &format!("{task}/artifacts")).await;
        assert_eq!(artifacts[0]["name"], "value", "{artifacts}");
        assert_eq!(artifacts[0]["sha"], "abc");
        assert_eq!(artifacts[0]["attempt_id"], 0);
    }

    #[tokio::test]
    async fn without_a_registered_origin_the_run_gets_the_deployments_tags() {
        let svc = Arc::new(MetadataService::new(
            MemoryStore::new(),
            ServiceConfig::default(),
        ));
        MetadataClones::new(svc.clone())
            .register(&clone_of("sfn-unregistered"))
            .await
            .unwrap();
        let run = get(&svc, "/flows/ForeachFlow/runs/sfn-resumed").await;
        assert_eq!(
            run["system_tags"],
            json!(["runtime:step-functions"]),
            "{run}"
        );
        assert_eq!(run["tags"], json!(["nightly"]), "{run}");
        let artifacts = get(
            &svc,
            "/flows/ForeachFlow/runs/sfn-resumed/steps/square/tasks/square-3/artifacts",
        )
        .await;
        assert_eq!(artifacts, json!([]));
    }
}
