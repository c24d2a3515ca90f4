use super::*;
use crate::python::parse_module;

fn graph(body: &str) -> FlowGraph {
    let source = format!(
        "from metaflow import FlowSpec, step, parallel\n\nclass LintFlow(FlowSpec):\n{body}"
    );
    let module = parse_module("lint_flow.py", &source).expect("valid Python");
    FlowGraph::new(&module.flows[0])
}

/// Lints a copy of `graph`, keeping only the verdict.
fn lint_ref(graph: &FlowGraph) -> Result<(), LintError> {
    lint(graph.clone()).map(drop)
}

fn lint_body(body: &str) -> Result<(), LintError> {
    lint_ref(&graph(body))
}

const VALID_FLOWS: &[&str] = &[
    // linear
    r#"
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
    // foreach with a split and a switch inside
    r#"
    @step
    def start(self):
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next({"x": self.x, "y": self.y}, condition="route")

    @step
    def x(self):
        self.next(self.after_switch)

    @step
    def y(self):
        self.next(self.after_switch)

    @step
    def after_switch(self):
        self.next(self.join_split)

    @step
    def b(self):
        self.next(self.join_split)

    @step
    def join_split(self, inputs):
        self.next(self.join_each)

    @step
    def join_each(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
    // recursive switch
    r#"
    @step
    def start(self):
        self.next(self.poll)

    @step
    def poll(self):
        self.next({"again": self.poll, "done": self.end}, condition="status")

    @step
    def end(self):
        pass
"#,
    // custom start and end
    r#"
    @step(start=True)
    def begin(self):
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        pass
"#,
    // single step
    r#"
    @step
    def only(self):
        pass
"#,
];

#[test]
fn valid_flows_pass() {
    for body in VALID_FLOWS {
        assert_eq!(lint_body(body), Ok(()), "{body}");
    }
}

const NESTED_FOREACH: &str = r#"
    @step
    def start(self):
        self.next(self.outer, foreach="xs")

    @step
    def outer(self):
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"#;

#[test]
fn nested_foreach_is_only_rejected_on_request() {
    let graph = graph(NESTED_FOREACH);
    assert_eq!(lint_ref(&graph), Ok(()));
    let options = LintOptions {
        require_non_nested_foreach: true,
        ..LintOptions::default()
    };
    let error = lint_with(&graph, &options).unwrap_err();
    assert_eq!(error.check, "check_nested_foreach");
    assert_eq!(
        error.message,
        "Nested foreaches are not allowed: Step outer is a foreach split that is nested under \
         another foreach split."
    );
    assert_eq!(error.line, Some(10));
}

#[test]
fn disabled_groups_do_not_run() {
    // A missing transition is a static-graph problem; a reserved name is fundamental.
    let graph = graph(
        r#"
    @step
    def start(self):
        self.next(self.cmd)

    @step
    def cmd(self):
        pass

    @step
    def end(self):
        pass
"#,
    );
    assert_eq!(lint_ref(&graph).unwrap_err().check, "check_reserved_words");
    let static_only = LintOptions {
        require_fundamentals: false,
        ..LintOptions::default()
    };
    assert_eq!(
        lint_with(&graph, &static_only).unwrap_err().check,
        "check_static_transitions"
    );
    let nothing = LintOptions {
        require_static_graph: false,
        require_fundamentals: false,
        require_acyclicity: false,
        require_non_nested_foreach: false,
    };
    assert_eq!(lint_with(&graph, &nothing), Ok(()));
}

#[test]
fn display_has_file_and_line_when_known() {
    let error = lint_body(
        r#"
    @step
    def start(self):
        self.next(self.work)

    @step
    def work(self):
        pass

    @step
    def end(self):
        pass
"#,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "lint_flow.py:10: Step work is missing a self.next() transition to the next step. Add a \
         self.next() as the last line in the function."
    );
    let json = serde_json::to_value(&error).unwrap();
    assert_eq!(json["check"], "check_static_transitions");
    assert_eq!(json["line"], 10);

    let error = lint_body(
        r#"
    @step
    def begin(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
    )
    .unwrap_err();
    assert_eq!(error.line, None);
    assert!(
        error
            .to_string()
            .starts_with("lint_flow.py: Your flow must have exactly one start")
    );
}

const PARALLEL: &str = r#"
    @step
    def start(self):
        self.next(self.train, num_parallel=4)

    @parallel
    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"#;

/// `@parallel` is Metaflow-valid; lint only applies Metaflow's own parallel checks (the
/// compiler rejects `@parallel` separately, as unsupported on Step Functions).
#[test]
fn parallel_flows_get_only_metaflows_parallel_checks() {
    assert_eq!(lint_body(PARALLEL), Ok(()));

    let undecorated = PARALLEL.replace("    @parallel\n", "");
    let error = lint_body(&undecorated).unwrap_err();
    assert_eq!(error.check, "check_parallel_step_after_next");

    let not_fanned_out = PARALLEL.replace(", num_parallel=4", "");
    let error = lint_body(&not_fanned_out).unwrap_err();
    // Without the fan-out the join is unmatched, which Metaflow reports first.
    assert_eq!(error.check, "check_split_join_balance");
}

#[test]
fn parallel_end_step_is_reported_not_a_crash() {
    let error = lint_body(
        r#"
    @step
    def start(self):
        self.next(self.end)

    @parallel
    @step
    def end(self):
        pass
"#,
    )
    .unwrap_err();
    assert_eq!(error.check, "check_join_followed_by_parallel_step");
    assert_eq!(error.line, Some(11));
}

/// `count` sequential split/join diamonds after `start`; the last one continues to
/// `last`, and `tail` adds more steps.
fn diamonds(count: usize, last: &str, tail: &str) -> String {
    let mut body = String::new();
    let mut step = |name: &str, args: &str, next: &str| {
        body.push_str(&format!(
            "    @step\n    def {name}({args}):\n        {next}\n\n"
        ));
    };
    step("start", "self", "self.next(self.fork_0)");
    for i in 0..count {
        let after = if i + 1 < count {
            format!("fork_{}", i + 1)
        } else {
            last.to_string()
        };
        step(
            &format!("fork_{i}"),
            "self",
            &format!("self.next(self.left_{i}, self.right_{i})"),
        );
        step(
            &format!("left_{i}"),
            "self",
            &format!("self.next(self.join_{i})"),
        );
        step(
            &format!("right_{i}"),
            "self",
            &format!("self.next(self.join_{i})"),
        );
        step(
            &format!("join_{i}"),
            "self, inputs",
            &format!("self.next(self.after_{i})"),
        );
        step(
            &format!("after_{i}"),
            "self",
            &format!("self.next(self.{after})"),
        );
    }
    step("end", "self", "pass");
    body + tail
}

#[test]
fn loop_after_many_diamonds_is_found_fast_with_metaflows_path() {
    let tail = r#"
    @step
    def loop_a(self):
        self.next(self.loop_b)

    @step
    def loop_b(self):
        self.next(self.loop_a)
"#;
    let error = lint_body(&diamonds(60, "loop_a", tail)).unwrap_err();
    assert_eq!(error.check, "check_for_acyclicity");
    // Metaflow starts from the alphabetically first step (`after_0`) and prints the
    // path after it; checked against Metaflow with 5 diamonds.
    let mut path: Vec<String> = (1..60)
        .flat_map(|i| ["fork", "left", "join", "after"].map(|s| format!("{s}_{i}")))
        .collect();
    path.extend(["loop_a", "loop_b", "loop_a"].map(String::from));
    assert_eq!(
        error.message,
        format!(
            "There is a loop in your flow: {}. Break the loop by fixing self.next() transitions.",
            path.join("->")
        )
    );
}

#[test]
fn unjoined_split_after_many_diamonds_is_found_fast() {
    let tail = r#"
    @step
    def fan(self):
        self.next(self.x, self.y)

    @step
    def x(self):
        self.next(self.end)

    @step
    def y(self):
        self.next(self.end)
"#;
    let error = lint_body(&diamonds(60, "fan", tail)).unwrap_err();
    assert_eq!(error.check, "check_split_join_balance");
    assert_eq!(
        error.message,
        "The terminal step end was reached before a split started at step(s) x, y were joined. \
         Add a join step before end."
    );
}

#[test]
fn orphans_are_reported_alphabetically() {
    let error = lint_body(
        r#"
    @step
    def start(self):
        self.next(self.end)

    @step
    def zeta(self):
        self.next(self.end)

    @step
    def alpha(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
    )
    .unwrap_err();
    assert_eq!(error.check, "check_for_orphans");
    assert!(error.message.starts_with("Step alpha is unreachable"));
}

#[test]
fn long_chains_do_not_overflow_the_stack() {
    // Metaflow itself hits Python's recursion limit on chains of ~1000 steps; the graph
    // walk and the recursive checks here must not overflow a 2 MiB test thread.
    let mut body = String::from("    @step\n    def start(self):\n        self.next(self.s0)\n\n");
    for i in 0..2000 {
        let next = if i + 1 < 2000 {
            format!("s{}", i + 1)
        } else {
            "end".to_string()
        };
        body.push_str(&format!(
            "    @step\n    def s{i}(self):\n        self.next(self.{next})\n\n"
        ));
    }
    body.push_str("    @step\n    def end(self):\n        pass\n");
    let graph = graph(&body);
    assert_eq!(graph.sorted_nodes.len(), 2002);
    assert_eq!(lint_ref(&graph), Ok(()));
}

#[test]
fn a_graph_too_complex_to_analyse_is_rejected_last() {
    let source = format!(
        "from metaflow import FlowSpec, step\n\nclass LintFlow(FlowSpec):\n{}",
        diamonds(3, "end", "")
    );
    let module = parse_module("lint_flow.py", &source).expect("valid Python");
    let partial = FlowGraph::with_traversal_budget(&module.flows[0], 10);
    assert!(!partial.is_fully_traversed());
    let error = lint_ref(&partial).unwrap_err();
    assert_eq!(error.check, "check_graph_complexity");
    assert_eq!(error.line, None);
    assert!(
        error
            .message
            .starts_with("Flow LintFlow has too many distinct paths")
    );
}

/// What lint proved comes back with the graph: start, end, and the join of every split
/// and foreach (the compiler reads these instead of unwrapping the graph's options).
#[test]
fn a_linted_graph_names_its_start_end_and_joins() {
    let linted = lint(graph(
        r#"
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.next(self.fork)

    @step
    def fork(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.next(self.meet)

    @step
    def right(self):
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
    ))
    .expect("a valid flow");
    assert_eq!(linted.start(), "start");
    assert_eq!(linted.end(), "end");
    assert_eq!(linted.join_of("start"), Some("gather"));
    assert_eq!(linted.join_of("fork"), Some("meet"));
    assert_eq!(linted.join_of("gather"), None);
    assert_eq!(linted.join_of("each"), None);
    assert_eq!(linted.graph().name, "LintFlow");
}
