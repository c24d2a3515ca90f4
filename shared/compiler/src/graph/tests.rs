//! Graph attributes for every flow shape. The expected summaries were produced by
//! Metaflow 2.19.39's own `FlowGraph` on the same sources.

use super::*;
use crate::python::parse_module;

/// A flow class around `body`: the class is on line 3 and the body starts on line 4
/// (a blank line, as the bodies below start with one).
fn graph(body: &str) -> FlowGraph {
    let source =
        format!("from metaflow import FlowSpec, step\n\nclass ShapeFlow(FlowSpec):\n{body}");
    let module = parse_module("shape_flow.py", &source).expect("valid Python");
    FlowGraph::new(&module.flows[0])
}

/// One line per node, alphabetical, in the same format as the Metaflow dump.
fn summary(graph: &FlowGraph) -> String {
    let mut out = format!(
        "start {} end {} sorted {}\n",
        graph.start_step.as_deref().unwrap_or("-"),
        graph.end_step.as_deref().unwrap_or("-"),
        graph.sorted_nodes.join(" ")
    );
    for node in graph.nodes() {
        let mut parts = vec![format!(
            "{}: {}",
            node.name,
            node.node_type.map_or("none", NodeType::as_str)
        )];
        for (label, list) in [
            ("in", &node.in_funcs),
            ("out", &node.out_funcs),
            ("parents", &node.split_parents),
            ("branches", &node.split_branches),
        ] {
            if !list.is_empty() {
                parts.push(format!("{label} {}", list.join(" ")));
            }
        }
        if let Some(join) = &node.matching_join {
            parts.push(format!("join {join}"));
        }
        if node.is_inside_foreach {
            parts.push("inside foreach".to_string());
        }
        out.push_str(&parts.join(" | "));
        out.push('\n');
    }
    out
}

fn assert_shape(body: &str, expected: &str) {
    assert_eq!(summary(&graph(body)), expected.trim_start());
}

#[test]
fn linear() {
    assert_shape(
        r#"
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
        "
start start end end sorted start middle end
end: end | in middle
middle: linear | in start | out end
start: start | out middle
",
    );
}

const SPLIT_JOIN: &str = r#"
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"#;

#[test]
fn split_and_join() {
    assert_shape(
        SPLIT_JOIN,
        "
start start end end sorted start a b join end
a: linear | in start | out join | parents start | branches a
b: linear | in start | out join | parents start | branches b
end: end | in join
join: join | in a b | out end | parents start
start: split | out a b | join join
",
    );
}

const FOREACH: &str = r#"
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"#;

#[test]
fn foreach() {
    assert_shape(
        FOREACH,
        "
start start end end sorted start work join end
end: end | in join
join: join | in work | out end | parents start
start: foreach | out work | join join
work: linear | in start | out join | parents start | branches work | inside foreach
",
    );
    let graph = graph(FOREACH);
    assert_eq!(graph.node("start").foreach_param.as_deref(), Some("items"));
    assert!(!graph.node("start").parallel_foreach);
}

#[test]
fn nested_foreach() {
    assert_shape(
        r#"
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
"#,
        "
start start end end sorted start outer inner join_inner join_outer end
end: end | in join_outer
inner: linear | in outer | out join_inner | parents start outer | branches outer inner | inside foreach
join_inner: join | in inner | out join_outer | parents start outer | branches outer | inside foreach
join_outer: join | in join_inner | out end | parents start
outer: foreach | in start | out inner | parents start | branches outer | join join_inner | inside foreach
start: foreach | out outer | join join_outer
",
    );
}

#[test]
fn split_inside_foreach() {
    assert_shape(
        r#"
    @step
    def start(self):
        self.next(self.fan, foreach="xs")

    @step
    def fan(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join_split)

    @step
    def b(self):
        self.next(self.join_split)

    @step
    def join_split(self, inputs):
        self.next(self.join_foreach)

    @step
    def join_foreach(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
        "
start start end end sorted start fan a b join_split join_foreach end
a: linear | in fan | out join_split | parents start fan | branches fan a | inside foreach
b: linear | in fan | out join_split | parents start fan | branches fan b | inside foreach
end: end | in join_foreach
fan: split | in start | out a b | parents start | branches fan | join join_split | inside foreach
join_foreach: join | in join_split | out end | parents start
join_split: join | in a b | out join_foreach | parents start fan | branches fan | inside foreach
start: foreach | out fan | join join_foreach
",
    );
}

#[test]
fn foreach_inside_split() {
    assert_shape(
        r#"
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.each, foreach="xs")

    @step
    def each(self):
        self.next(self.join_each)

    @step
    def join_each(self, inputs):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
        "
start start end end sorted start a each join_each b join end
a: foreach | in start | out each | parents start | branches a | join join_each
b: linear | in start | out join | parents start | branches b
each: linear | in a | out join_each | parents start a | branches a each | inside foreach
end: end | in join
join: join | in b join_each | out end | parents start
join_each: join | in each | out join | parents start a | branches a
start: split | out a b | join join
",
    );
}

const SWITCH: &str = r#"
    @step
    def start(self):
        self.next({"high": self.high, "low": self.low}, condition="level")

    @step
    def high(self):
        self.next(self.end)

    @step
    def low(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"#;

#[test]
fn switch() {
    assert_shape(
        SWITCH,
        "
start start end end sorted start high low end
end: end | in high low
high: linear | in start | out end
low: linear | in start | out end
start: split-switch | out high low
",
    );
    let graph = graph(SWITCH);
    let start = graph.node("start");
    assert_eq!(start.condition.as_deref(), Some("level"));
    assert_eq!(
        start.switch_cases.get("high").map(String::as_str),
        Some("high")
    );
    assert_eq!(
        start.switch_cases.get("low").map(String::as_str),
        Some("low")
    );
}

#[test]
fn switch_inside_foreach() {
    assert_shape(
        r#"
    @step
    def start(self):
        self.next(self.route, foreach="xs")

    @step
    def route(self):
        self.next({"a": self.a, "b": self.b}, condition="kind")

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
        "
start start end end sorted start route a b join end
a: linear | in route | out join | parents start | branches route | inside foreach
b: linear | in route | out join | parents start | branches route | inside foreach
end: end | in join
join: join | in a b | out end | parents start
route: split-switch | in start | out a b | parents start | branches route | inside foreach
start: foreach | out route | join join
",
    );
}

const RECURSIVE_SWITCH: &str = r#"
    @step
    def start(self):
        self.next(self.poll)

    @step
    def poll(self):
        self.next({"again": self.poll, "done": self.end}, condition="status")

    @step
    def end(self):
        pass
"#;

#[test]
fn recursive_switch() {
    // The self-loop is cut by the traversal's loop guard: `poll` is not its own input.
    assert_shape(
        RECURSIVE_SWITCH,
        "
start start end end sorted start poll end
end: end | in poll
poll: split-switch | in start | out poll end
start: start | out poll
",
    );
}

#[test]
fn custom_start_and_end_names() {
    assert_shape(
        r#"
    @step(start=True)
    def begin(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        pass
"#,
        "
start begin end finish sorted begin middle finish
begin: start | out middle
finish: end | in middle
middle: linear | in begin | out finish
",
    );
}

#[test]
fn annotated_split_start_keeps_its_split_type() {
    assert_shape(
        r#"
    @step(start=True)
    def begin(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
        "
start begin end end sorted begin a b join end
a: linear | in begin | out join | parents begin | branches a
b: linear | in begin | out join | parents begin | branches b
begin: split | out a b | join join
end: end | in join
join: join | in a b | out end | parents begin
",
    );
}

#[test]
fn single_step_flow_is_its_own_start_and_end() {
    assert_shape(
        r#"
    @step
    def only(self):
        pass
"#,
        "
start only end only sorted only
only: end
",
    );
}

#[test]
fn several_start_annotations_leave_no_start() {
    let graph = graph(
        r#"
    @step(start=True)
    def a(self):
        self.next(self.end)

    @step(start=True)
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
    );
    assert_eq!(graph.start_step, None);
    assert_eq!(graph.end_step.as_deref(), Some("end"));
    assert!(graph.sorted_nodes.is_empty());
    assert_eq!(graph.node("a").node_type, Some(NodeType::Linear));
}

#[test]
fn unknown_targets_are_ignored_by_traversal() {
    assert_shape(
        r#"
    @step
    def start(self):
        self.next(self.a, self.ghost)

    @step
    def a(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
        "
start start end end sorted start a join end
a: linear | in start | out join | parents start | branches a
end: end | in join
join: join | in a | out end | parents start
start: split | out a ghost | join join
",
    );
}

#[test]
fn missing_transition_has_no_type() {
    let graph = graph(
        r#"
    @step
    def start(self):
        self.next(self.work)

    @step
    def work(self):
        x = 1

    @step
    def end(self):
        pass
"#,
    );
    let work = graph.node("work");
    assert_eq!(work.node_type, None);
    assert!(!work.has_tail_next);
    assert_eq!((work.func_lineno, work.tail_next_lineno), (10, 0));
    assert_eq!(graph.node("start").tail_next_lineno, 7);
}

#[test]
fn parallel_fan_out_and_parallel_step() {
    let graph = graph(
        r#"
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
"#,
    );
    let start = graph.node("start");
    assert_eq!(start.node_type, Some(NodeType::Foreach));
    assert!(start.parallel_foreach && !start.parallel_step);
    assert_eq!(start.foreach_param, None);
    assert!(graph.node("train").parallel_step);
    assert!(graph.node("train").is_inside_foreach);
    assert_eq!(graph.node("start").matching_join.as_deref(), Some("join"));
}

#[test]
fn nodes_iterate_alphabetically_and_lookups_work() {
    let graph = graph(SPLIT_JOIN);
    let names: Vec<&str> = graph.nodes().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "end", "join", "start"]);
    assert_eq!(graph.len(), 5);
    assert!(!graph.is_empty());
    assert!(graph.contains("join") && !graph.contains("ghost"));
    assert!(graph.get("ghost").is_none());
    assert_eq!(graph.node("join").func_lineno, 18);
}

#[test]
#[should_panic(expected = "has no step named ghost")]
fn node_panics_on_unknown_name() {
    graph(SPLIT_JOIN).node("ghost");
}

#[test]
fn node_type_serializes_as_metaflow_spells_it() {
    assert_eq!(
        serde_json::to_value(NodeType::SplitSwitch).unwrap(),
        "split-switch"
    );
    assert_eq!(NodeType::SplitSwitch.to_string(), "split-switch");
    let start = serde_json::to_value(graph(SWITCH).node("start")).unwrap();
    assert_eq!(start["node_type"], "split-switch");
}

/// A flow of `count` sequential split/join diamonds: 5 steps each, plus start and end.
fn diamonds(count: usize) -> String {
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
            "end".to_string()
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
    body
}

#[test]
fn hundred_sequential_diamonds_build_fast() {
    // Metaflow walks all 2^100 paths here; the memoized walk visits each state once.
    let graph = graph(&diamonds(100));
    assert_eq!(graph.len(), 502);
    assert_eq!(graph.sorted_nodes.len(), 502);
    assert!(graph.is_fully_traversed());
    // Same order as Metaflow gives for 10 diamonds: fork, left, right, join, after...
    let expected: Vec<String> =
        std::iter::once("start".to_string())
            .chain((0..100).flat_map(|i| {
                ["fork", "left", "right", "join", "after"].map(|s| format!("{s}_{i}"))
            }))
            .chain(std::iter::once("end".to_string()))
            .collect();
    assert_eq!(graph.sorted_nodes, expected);
    let join = graph.node("join_99");
    assert_eq!(join.in_funcs, ["left_99", "right_99"]);
    assert_eq!(join.split_parents, ["fork_99"]);
    assert!(join.split_branches.is_empty());
    assert_eq!(
        graph.node("fork_99").matching_join.as_deref(),
        Some("join_99")
    );
    assert_eq!(graph.node("right_42").split_branches, ["right_42"]);
    assert_eq!(crate::lint::lint(graph.clone()).map(drop), Ok(()));
}

#[test]
fn mermaid_picture() {
    let graph = graph(
        r#"
    @step
    def start(self):
        self.next(self.fan, foreach="items")

    @step
    def fan(self):
        self.next({"big": self.big, "small": self.small}, condition="size")

    @step
    def big(self):
        self.next(self.join)

    @step
    def small(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"#,
    );
    insta::assert_snapshot!(graph.to_mermaid(), @r#"
    flowchart TD
        step_start(["start<br/>foreach"])
        step_fan{{"fan<br/>switch: size"}}
        step_big["big<br/>linear"]
        step_small["small<br/>linear"]
        step_join["join<br/>join"]
        step_end(["end<br/>end"])
        step_start -->|"foreach items"| step_fan
        step_fan -->|"big"| step_big
        step_fan -->|"small"| step_small
        step_big --> step_join
        step_small --> step_join
        step_join --> step_end
    "#);
}

/// `count` splits in a row whose branches never join: 2^count distinct split states.
fn unjoined_splits(count: usize) -> String {
    let mut body = String::new();
    let mut step = |name: &str, next: &str| {
        body.push_str(&format!(
            "    @step\n    def {name}(self):\n        {next}\n\n"
        ));
    };
    step("start", "self.next(self.fork_0)");
    for i in 0..count {
        let after = if i + 1 < count {
            format!("fork_{}", i + 1)
        } else {
            "end".to_string()
        };
        step(
            &format!("fork_{i}"),
            &format!("self.next(self.left_{i}, self.right_{i})"),
        );
        step(&format!("left_{i}"), &format!("self.next(self.{after})"));
        step(&format!("right_{i}"), &format!("self.next(self.{after})"));
    }
    step("end", "pass");
    body
}

#[test]
fn exponential_malformed_flows_stop_at_the_work_bound() {
    // Metaflow would walk 2^60 paths; the walk stops and says so.
    let started = std::time::Instant::now();
    let graph = graph(&unjoined_splits(60));
    assert!(!graph.is_fully_traversed());
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    // Lint still rejects the flow, with Metaflow's message for the first problem.
    let error = crate::lint::lint(graph.clone()).map(drop).unwrap_err();
    assert_eq!(error.check, "check_split_join_balance");
}
