//! Handler time per phase, S3 excluded: the step Lambda's `handle` over an in-memory
//! datastore holding a compiled manifest and task outputs written by real Metaflow
//! (`tests/fixtures/metaflow_datastore`). The manifest is cached after the first call,
//! as in a warm Lambda. Goal: < 5 ms per phase.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use dropflow_compiler::compile::{DeployOptions, Manifest, Platform};
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;
use dropflow_step::{Deps, handle};
use dropflow_task::MemoryDatastore;
use serde_json::{Value, json};

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

fn deps(manifests: &[&Manifest]) -> Deps<MemoryDatastore> {
    let store = MemoryDatastore::new();
    for manifest in manifests {
        store.insert(&manifest.location, serde_json::to_vec(manifest).unwrap());
    }
    store
        .load_dir(
            &repo().join("tests/fixtures/metaflow_datastore"),
            &manifests[0].datastore_root,
        )
        .unwrap();
    Deps::new(store)
}

fn phases(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let foreach = manifest("tests/flows/shapes/foreach.py");
    let failing = manifest("tests/fixtures/metaflow_datastore/failing_flow.py");
    let deps = deps(&[&foreach, &failing]);
    let call = |request: &Value| {
        runtime
            .block_on(handle(request.clone(), &deps))
            .unwrap_or_else(|e| panic!("{request}: {e}"))
    };

    let start_request = json!({
        "phase": "start", "step": "start", "from": "execution", "input": {"Parameters": "{\"width\": 7}"},
        "manifest": foreach.location, "execution": "fixture",
    });
    let start = call(&start_request);
    let finish_request = json!({
        "phase": "finish", "step": "start", "task": start["task"], "batch": {"JobId": "j"},
    });
    let done = call(&finish_request);
    let child_request = json!({
        "phase": "start", "step": "square", "from": "foreach_child", "input": {"ctx": done["ctx"], "index": 3},
    });
    let square = call(&child_request);
    let finish_square = json!({
        "phase": "finish", "step": "square", "task": square["task"], "batch": {"JobId": "j"},
    });
    // A foreach join's input is its Map's own: the foreach step's finish output.
    let join_request = json!({
        "phase": "start", "step": "collect", "from": "foreach_join", "input": done.clone(),
    });
    let wide_join_request = json!({
        "phase": "start", "step": "collect", "from": "foreach_join",
        "input": {"ctx": done["ctx"], "width": 1000, "items": done["items"]},
    });
    let failed_start = call(&json!({
        "phase": "start", "step": "start", "from": "execution", "input": {},
        "manifest": failing.location, "execution": "fixture",
    }));
    let fail_request = json!({"phase": "fail", "input": {
        "error": {"Error": "States.TaskFailed", "Cause": json!({
            "error": {"Error": "States.TaskFailed", "Cause": "{\"JobId\":\"j\",\"Container\":{\"ExitCode\":1}}"},
            "task": failed_start["task"],
        }).to_string()},
    }});

    let mut group = c.benchmark_group("step_lambda");
    for (name, request) in [
        ("start/start_step_with_parameters", &start_request),
        ("start/foreach_child", &child_request),
        ("start/foreach_join_7", &join_request),
        ("start/foreach_join_1000_via_file", &wide_join_request),
        ("finish/foreach_step", &finish_request),
        ("finish/linear_step", &finish_square),
        ("fail/nested_with_log_tail", &fail_request),
    ] {
        group.bench_function(name, |b| b.iter(|| black_box(call(request))));
    }
    group.finish();
}

criterion_group!(benches, phases);
criterion_main!(benches);
