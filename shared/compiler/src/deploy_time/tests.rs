use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::compile::{DeployOptions, Platform};
use crate::package;
use crate::pipeline;

const SEED: &str = r#"from metaflow import FlowSpec, Parameter, step, JSONType
from datetime import datetime
import json

def deployment_info(context):
    return json.dumps({'who': context.user_name,
                       'when': datetime.now().isoformat()})

class DeploymentInfoFlow(FlowSpec):
    info = Parameter('deployment_info',
                     type=JSONType,
                     default=deployment_info)

    @step
    def start(self):
        print('This flow was deployed at %s by %s'\
              % (self.info['when'], self.info['who']))
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    DeploymentInfoFlow()
"#;

fn context() -> DeployContext {
    DeployContext {
        flow_name: "DeploymentInfoFlow".into(),
        user_name: "alice".into(),
        datastore: "s3".into(),
        datastore_root: "s3://bucket/metaflow".into(),
    }
}

fn checked(source: &str) -> CheckedFlow {
    let package = package::read_bytes("flow.py", source.as_bytes(), &package::Limits::default())
        .unwrap_or_else(|e| panic!("{e}"));
    pipeline::check(&package).unwrap_or_else(|e| panic!("{e}"))
}

/// A flow whose class body is `parameters`, after `header` at module level.
fn flow(header: &str, parameters: &str) -> String {
    format!(
        "from metaflow import FlowSpec, Parameter, step, JSONType\n{header}\nclass F(FlowSpec):\n{parameters}\n    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n"
    )
}

fn evaluate(source: &str) -> Result<BTreeMap<String, serde_json::Value>, DeployTimeError> {
    evaluate_defaults(&checked(source), &context(), &Limits::default())
}

fn error(source: &str) -> DeployTimeError {
    match evaluate(source) {
        Ok(values) => panic!("expected an error, got {values:?}"),
        Err(e) => e,
    }
}

#[test]
fn seed_deployment_info_records_who_and_when() {
    let values = evaluate(SEED).unwrap();
    let info = &values["deployment_info"];
    assert_eq!(info["who"], "alice");
    let when = info["when"].as_str().unwrap();
    // Python's isoformat of a naive datetime with microseconds.
    assert_eq!(when.len(), "2026-11-25T10:00:00.123456".len(), "{when}");
    let parsed = chrono::NaiveDateTime::parse_from_str(when, "%Y-%m-%dT%H:%M:%S%.f").unwrap();
    let drift = chrono::Utc::now().naive_utc() - parsed;
    assert!(drift.num_seconds().abs() < 60, "{when} is not now");
    assert_eq!(values.len(), 1);
}

#[test]
fn seed_values_compile() {
    let checked = checked(SEED);
    let values = evaluate_defaults(&checked, &context(), &Limits::default()).unwrap();
    let deployment = pipeline::compile(
        &checked,
        &DeployOptions::default(),
        &Platform::default(),
        &values,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let parameter = deployment
        .manifest
        .parameters
        .iter()
        .find(|p| p.name == "deployment_info")
        .unwrap();
    assert_eq!(parameter.default.as_ref(), Some(&values["deployment_info"]));
}

#[test]
fn lambda_default_sees_the_context() {
    let values = evaluate(&flow(
        "",
        // Not 'tag': Metaflow reserves it.
        "    label = Parameter('label', default=lambda ctx: ctx.flow_name + '/' + ctx.parameter_name + '/' + ctx.ds_type)\n    plain = Parameter('plain', default='x')\n",
    ))
    .unwrap();
    assert_eq!(
        values,
        BTreeMap::from([("label".into(), json!("DeploymentInfoFlow/label/s3"))])
    );
}

#[test]
fn module_constants_and_helpers_are_available() {
    let values = evaluate(&flow(
        "PREFIX = 'team'\nSIZES = {'small': 2, 'large': 8}\n\ndef owner(ctx):\n    return PREFIX + '-' + ctx.user_name\n\ndef workers(ctx, deploy_time=False):\n    return SIZES['large'] if deploy_time else 0\n\ndef label(ctx):\n    return owner(ctx).upper()\n",
        "    owner = Parameter('owner', default=owner)\n    workers = Parameter('workers', type=int, default=workers)\n    label = Parameter('label', default=label)\n",
    ))
    .unwrap();
    assert_eq!(
        values,
        BTreeMap::from([
            ("owner".into(), json!("team-alice")),
            ("workers".into(), json!(8)),
            ("label".into(), json!("TEAM-ALICE")),
        ])
    );
}

#[test]
fn standard_library_shims_and_environment() {
    let values = evaluate(&flow(
        "import os\nimport time\nimport getpass\nfrom datetime import datetime, timezone, timedelta\n\ndef stamp(ctx):\n    aware = datetime.now(timezone.utc)\n    return {'aware': aware.isoformat(), 'utc': datetime.utcnow().isoformat(),\n            'epoch': time.time() > 1.7e9, 'env': os.environ.get('USER', 'nobody'),\n            'home': os.getenv('HOME'), 'who': getpass.getuser(),\n            'tomorrow': (aware + timedelta(days=1)).year >= aware.year}\n",
        "    stamp = Parameter('stamp', type=JSONType, default=stamp)\n",
    ))
    .unwrap();
    let stamp = &values["stamp"];
    assert!(
        stamp["aware"].as_str().unwrap().ends_with("+00:00"),
        "{stamp}"
    );
    assert_eq!(stamp["epoch"], true);
    assert_eq!(stamp["env"], "nobody");
    assert_eq!(stamp["home"], serde_json::Value::Null);
    assert_eq!(stamp["who"], "alice");
    assert_eq!(stamp["tomorrow"], true);
}

#[test]
fn str_parameter_dumps_non_strings_like_metaflow() {
    let values = evaluate(&flow(
        "def sizes(ctx):\n    return {'a': [1, 2.5, None, True]}\n",
        "    sizes = Parameter('sizes', default=sizes)\n",
    ))
    .unwrap();
    assert_eq!(values["sizes"], json!(r#"{"a": [1, 2.5, null, true]}"#));
}

#[test]
fn import_outside_the_sandbox_is_a_clear_error() {
    let e = error(&flow(
        "def arrays(ctx):\n    import numpy\n    return str(numpy.arange(3))\n",
        "    arrays = Parameter('arrays', default=arrays)\n",
    ));
    assert_eq!(e.code(), "deploy_time.unsupported");
    assert_eq!(e.line(), 3);
    let message = e.to_string();
    for part in [
        "flow.py:3",
        "parameter 'arrays'",
        "(arrays)",
        "numpy",
        "start step",
    ] {
        assert!(message.contains(part), "{part} missing from: {message}");
    }
}

#[test]
fn names_from_unavailable_imports_are_a_clear_error() {
    let e = error(&flow(
        "import numpy as np\n\ndef arrays(ctx):\n    return str(np.arange(3))\n",
        "    arrays = Parameter('arrays', default=arrays)\n",
    ));
    assert_eq!(e.code(), "deploy_time.unsupported");
    let message = e.to_string();
    assert!(
        message.contains("'np'") && message.contains("imports of metaflow, numpy"),
        "{message}"
    );
}

#[test]
fn file_access_is_refused() {
    let e = error(&flow(
        "def secret(ctx):\n    return open('/etc/passwd').read()\n",
        "    secret = Parameter('secret', default=secret)\n",
    ));
    assert_eq!(e.code(), "deploy_time.unsupported");
    assert!(e.to_string().contains("file system"), "{e}");
}

#[test]
fn infinite_loop_stops_at_the_time_limit() {
    let started = Instant::now();
    let e = error(&flow(
        "def forever(ctx):\n    while True:\n        pass\n",
        "    forever = Parameter('forever', default=forever)\n",
    ));
    let elapsed = started.elapsed();
    assert_eq!(e.code(), "deploy_time.time_limit");
    assert!(e.to_string().contains("1000 ms time limit"), "{e}");
    assert!(e.to_string().contains("parameter 'forever'"), "{e}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[test]
fn raising_function_reports_the_python_exception() {
    let e = error(&flow(
        "def broken(ctx):\n    raise ValueError('no branch for ' + ctx.user_name)\n",
        "    broken = Parameter('broken', default=broken)\n",
    ));
    let DeployTimeError::Exception { line, raised, .. } = &e else {
        panic!("{e:?}")
    };
    let RaisedException {
        exception,
        message,
        traceback,
    } = raised.as_ref();
    assert_eq!(exception, "ValueError");
    assert_eq!(message, "no branch for alice");
    assert_eq!(*line, 3);
    assert!(traceback.contains("line 3, in broken"), "{traceback}");
    assert!(
        e.to_string()
            .contains("raised ValueError: no branch for alice"),
        "{e}"
    );
}

#[test]
fn wrong_return_type_is_refused() {
    let e = error(&flow(
        "def workers(ctx):\n    return '8'\n",
        "    workers = Parameter('workers', type=int, default=workers)\n",
    ));
    assert_eq!(e.code(), "deploy_time.wrong_type");
    assert!(
        e.to_string().contains("expected an int, got str ('8')"),
        "{e}"
    );

    let e = error(&flow(
        "def nothing(ctx):\n    x = 1\n",
        "    nothing = Parameter('nothing', default=nothing)\n",
    ));
    assert_eq!(e.code(), "deploy_time.wrong_type");
}

#[test]
fn json_parameter_string_must_be_json() {
    let e = error(&flow(
        "def info(ctx):\n    return '{not json'\n",
        "    info = Parameter('info', type=JSONType, default=info)\n",
    ));
    assert_eq!(e.code(), "deploy_time.invalid_json");
    assert!(e.to_string().contains("JSONType parameter 'info'"), "{e}");

    let values = evaluate(&flow(
        "def info(ctx):\n    return {'k': [1, 2]}\n",
        "    info = Parameter('info', type=JSONType, default=info)\n",
    ))
    .unwrap();
    assert_eq!(values["info"], json!({"k": [1, 2]}));
}

#[test]
fn large_allocation_hits_the_memory_limit() {
    let e = error(&flow(
        "def big(ctx):\n    return 'x' * (10 ** 9)\n",
        "    big = Parameter('big', default=big)\n",
    ));
    assert_eq!(e.code(), "deploy_time.memory_limit");
    assert_eq!(e.line(), 3);
}

/// Resident memory of this process, from `/proc/self/statm` (pages × page size).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("statm's resident field");
    pages * 4096
}

#[test]
fn many_small_allocations_hit_the_memory_limit_and_the_process_stays_small() {
    // A time limit far beyond what the memory limit allows, so that only the memory
    // limit can stop the evaluation, however slow the machine.
    let limits = Limits {
        time: Duration::from_secs(600),
        memory_bytes: 16 * 1024 * 1024,
    };
    let source = flow(
        "",
        "    grid = Parameter('grid', default=lambda ctx: [[i] for i in range(10**9)])\n",
    );
    let checked = checked(&source);
    let before = resident_bytes();
    let e = evaluate_defaults(&checked, &context(), &limits).expect_err("over the limit");
    let grown = resident_bytes().saturating_sub(before);
    eprintln!("resident memory grew by {grown} bytes");
    assert_eq!(e.code(), "deploy_time.memory_limit", "{e}");
    assert_eq!(e.parameter(), "grid");
    let text = e.to_string();
    assert!(text.contains("'grid'") && text.contains("memory"), "{text}");
    // Unbounded, this grew the process by 882 MB in its first second. Allow the limit
    // three times over for the allocator's free lists and pages not yet returned.
    let bound = 3 * limits.memory_bytes as u64;
    assert!(
        grown < bound,
        "the process grew by {grown} bytes (bound {bound})"
    );
}

#[test]
fn error_serialises_with_its_code() {
    let e = error(&flow(
        "def workers(ctx):\n    return '8'\n",
        "    workers = Parameter('workers', type=int, default=workers)\n",
    ));
    let value = serde_json::to_value(&e).unwrap();
    assert_eq!(value["code"], "wrong_type");
    assert_eq!(value["parameter"], "workers");
    let finding = e.finding();
    assert_eq!(finding.code, "deploy_time.wrong_type");
    assert_eq!(finding.line, Some(2));
}

#[test]
fn deep_recursion_is_an_exception_even_on_a_small_thread_stack() {
    // Lambda handlers run on tokio worker threads (2 MiB stacks).
    let source = flow(
        "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n\ndef deep(ctx):\n    return depth(100000)\n",
        "    deep = Parameter('deep', type=int, default=deep)\n",
    );
    let e = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || error(&source))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(e.code(), "deploy_time.exception");
    assert!(e.to_string().contains("RecursionError"), "{e}");
}

#[test]
fn percent_formatting_is_named_as_a_sandbox_limit() {
    let e = error(&flow(
        "def who(ctx):\n    return 'user %s' % ctx.user_name\n",
        "    who = Parameter('who', default=who)\n",
    ));
    assert_eq!(e.code(), "deploy_time.unsupported");
    assert!(e.to_string().contains("f-string"), "{e}");
}

#[test]
fn module_style_datetime_and_function_style_time() {
    let values = evaluate(&flow(
        "import datetime\nfrom time import time\n\ndef stamp(ctx):\n    return f\"{datetime.datetime.utcnow():%Y}-{time() > 0}\"\n",
        "    stamp = Parameter('stamp', default=stamp)\n",
    ))
    .unwrap();
    let stamp = values["stamp"].as_str().unwrap();
    assert!(stamp.ends_with("-True") && stamp.len() == 9, "{stamp}");
}

#[test]
fn lambda_traceback_shows_the_lambda() {
    let e = error(&flow(
        "",
        "    lam = Parameter('lam', default=lambda ctx: ctx.nope)\n",
    ));
    let DeployTimeError::Exception { raised, line, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*line, 4);
    assert!(
        raised.traceback.contains("    lambda ctx: ctx.nope\n"),
        "{}",
        raised.traceback
    );
}

#[test]
fn parameter_functions_see_file_and_os_path_but_not_the_package() {
    let values = evaluate(&flow(
        "import os\n\ndef where(ctx):\n    stem, ext = os.path.splitext(os.path.basename(__file__))\n    return stem + '|' + ext + '|' + os.path.dirname(__file__) + '|' + os.getcwd()\n",
        "    where = Parameter('where', default=where)\n",
    ))
    .unwrap();
    assert_eq!(values["where"], json!("flow|.py|/package|/package"));

    let error = error(&flow(
        "import os\n\ndef present(ctx):\n    return str(os.path.exists('data.csv'))\n",
        "    present = Parameter('present', default=present)\n",
    ));
    let text = error.to_string();
    assert!(text.starts_with("flow.py:5: "), "{text}");
    assert!(
        text.contains("it tests the file system (os.path.exists('/package/data.csv'))"),
        "{text}"
    );
}

#[test]
fn open_in_a_path_helper_is_refused_with_its_line() {
    let error = error(&flow(
        "import os\n\ndef first(ctx):\n    with open(os.path.join(os.path.dirname(__file__), 'x.txt')) as f:\n        return f.read()\n",
        "    first = Parameter('first', default=first)\n",
    ));
    let text = error.to_string();
    assert!(text.starts_with("flow.py:5: "), "{text}");
    assert!(
        text.contains("it accesses the file system (open '/package/x.txt')"),
        "{text}"
    );
}
