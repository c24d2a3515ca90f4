use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dropflow_compiler::compile::{DeployOptions, Manifest, Platform};
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;
use dropflow_task::MemoryDatastore;
use serde_json::{Value, json};

use super::*;
use crate::handle;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest(path: &str) -> Manifest {
    let package = package::read_path(&repo().join(path), &Limits::default()).unwrap();
    let checked = pipeline::check(&package).unwrap();
    pipeline::compile(
        &checked,
        &DeployOptions::default(),
        &Platform::default(),
        &BTreeMap::new(),
    )
    .unwrap()
    .manifest
}

/// Keeps what it is asked to publish.
#[derive(Default)]
struct Kept(Mutex<Vec<MetaflowEvent>>);

impl EventPublisher for Kept {
    fn publish<'a>(&'a self, event: &'a MetaflowEvent) -> SendFuture<'a> {
        self.0.lock().unwrap().push(event.clone());
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn the_end_steps_finish_publishes_metaflows_finish_event_and_no_other_step_does() {
    let foreach = manifest("tests/flows/shapes/foreach.py");
    let store = MemoryDatastore::new();
    store.insert(&foreach.location, serde_json::to_vec(&foreach).unwrap());
    store
        .load_dir(
            &repo().join("tests/fixtures/metaflow_datastore"),
            &foreach.datastore_root,
        )
        .unwrap();
    let kept = Arc::new(Kept::default());
    let deps = crate::Deps::new(store).with_events(kept.clone());
    let call = |request: Value| {
        let deps = &deps;
        async move {
            handle(request.clone(), deps)
                .await
                .unwrap_or_else(|e| panic!("{request}: {e}"))
        }
    };
    let finish = |task: Value| json!({"phase": "finish", "step": task["step"], "task": task, "batch": {"JobId": "j"}});

    let start = call(json!({
        "phase": "start", "step": "start", "from": "execution",
        "input": {"Parameters": "{\"width\": 7}"},
        "manifest": foreach.location, "execution": "fixture",
    }))
    .await;
    let done = call(finish(start["task"].clone())).await;
    let collect = call(json!({
        "phase": "start", "step": "collect", "from": "foreach_join", "input": done,
    }))
    .await;
    let collected = call(finish(collect["task"].clone())).await;
    assert!(
        kept.0.lock().unwrap().is_empty(),
        "only the end step publishes"
    );

    let end = call(json!({
        "phase": "start", "step": "end", "from": "parent", "input": collected,
    }))
    .await;
    call(finish(end["task"].clone())).await;
    let published = kept.0.lock().unwrap().clone();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].name, "metaflow.ForeachFlow.end");
    let payload = Value::Object(published[0].payload.clone());
    assert_eq!(payload["id"], "ForeachFlow/sfn-fixture/end/end");
    assert_eq!(payload["run_id"], "sfn-fixture");
    assert_eq!(payload["auto-generated-by-metaflow"], "True");
    assert_eq!(payload["generated-by-metaflow"], true);
    assert_eq!(payload["name"], "metaflow.ForeachFlow.end");
}
