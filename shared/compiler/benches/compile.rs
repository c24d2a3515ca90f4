//! How long compiling takes, in process: source text → parse → graph → lint → ASL.
//! `cargo bench -p dropflow-compiler --bench compile`; figures go into the README.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use criterion::{Criterion, criterion_group, criterion_main};
use dropflow_compiler::compile::{DeployOptions, Platform};
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;

/// A 9-step flow with a branch and a foreach (the flow Metaflow needs ~4 s to export).
const NINE_STEPS: &str = r#"from metaflow import FlowSpec, Parameter, step, retry, resources

class NineStepFlow(FlowSpec):
    n = Parameter("n", default=10)

    @step
    def start(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.next(self.join)

    @retry(times=2)
    @step
    def right(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.items = list(range(self.n))
        self.next(self.fan)

    @step
    def fan(self):
        self.next(self.work, foreach="items")

    @resources(cpu=2, memory=8000)
    @step
    def work(self):
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.next(self.report)

    @step
    def report(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    NineStepFlow()
"#;

/// A flow of `diamonds` branch/join diamonds and a foreach every tenth: 5 steps each.
fn generated_flow(diamonds: usize) -> String {
    let mut src = String::from("from metaflow import FlowSpec, step\n\nclass BigFlow(FlowSpec):\n");
    src.push_str("    @step\n    def start(self):\n        self.items = [1, 2]\n        self.next(self.s0)\n\n");
    for i in 0..diamonds {
        let next = if i + 1 == diamonds {
            "end".to_string()
        } else {
            format!("s{}", i + 1)
        };
        if i % 10 == 0 {
            let _ = write!(
                src,
                "    @step\n    def s{i}(self):\n        self.next(self.a{i}, foreach='items')\n\n    @step\n    def a{i}(self):\n        self.next(self.b{i})\n\n    @step\n    def b{i}(self):\n        self.next(self.c{i})\n\n    @step\n    def c{i}(self):\n        self.next(self.j{i})\n\n"
            );
        } else {
            let _ = write!(
                src,
                "    @step\n    def s{i}(self):\n        self.next(self.a{i}, self.b{i}, self.c{i})\n\n    @step\n    def a{i}(self):\n        self.next(self.j{i})\n\n    @step\n    def b{i}(self):\n        self.next(self.j{i})\n\n    @step\n    def c{i}(self):\n        self.next(self.j{i})\n\n"
            );
        }
        let _ = write!(
            src,
            "    @step\n    def j{i}(self, inputs):\n        self.next(self.{next})\n\n"
        );
    }
    src.push_str("    @step\n    def end(self):\n        pass\n");
    src
}

fn compile_source(name: &str, source: &str) -> usize {
    let package =
        package::read_bytes(name, source.as_bytes(), &Limits::default()).expect("package");
    let checked = pipeline::check(&package).expect("lint clean");
    let deployment = pipeline::compile(
        &checked,
        &DeployOptions::default(),
        &Platform::default(),
        &BTreeMap::new(),
    )
    .expect("compiles");
    deployment.definition.to_json().len()
}

fn benches(c: &mut Criterion) {
    c.bench_function("compile 9-step branch+foreach flow", |b| {
        b.iter(|| compile_source("nine_step_flow.py", NINE_STEPS))
    });
    let big = generated_flow(100);
    let bytes = compile_source("big_flow.py", &big);
    eprintln!(
        "500-step flow: {} lines of Python, {bytes} bytes of ASL",
        big.lines().count()
    );
    c.bench_function("compile generated 502-step flow", |b| {
        b.iter(|| compile_source("big_flow.py", &big))
    });
}

criterion_group!(compile, benches);
criterion_main!(compile);
