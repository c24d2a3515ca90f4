//! The scale model of a foreach: from the generated definition (no execution), the
//! history events, state transitions and Map input bytes of an execution of
//! `ForeachFlow` (start → N × square → collect → end) at widths up to 100,000, for both
//! Map shapes. Events per state are Step Functions' documented history events; the model
//! gives exactly what the local stack measured for this flow (3 wide before each task
//! had its `S.cloned` Choice: 108 events inline, 56 with a Distributed Map; since, 62
//! with a Distributed Map, 2 wide). `cargo test -p dropflow-tests --test foreach_scale --
//! --nocapture` prints the table the README quotes.

use std::collections::BTreeMap;

use dropflow_compiler::asl::{Mode, State, StateMachine, States};
use dropflow_compiler::compile::{DeployOptions, OptionsLayer, Platform};
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;
use dropflow_task::width::{INLINE_MAX_WIDTH, items_json};
use dropflow_tests::repo_root;

/// AWS fails an execution whose history reaches 25,000 events.
const HISTORY_LIMIT: u64 = 25_000;
/// The largest input or output of a state: 256 KiB.
const PAYLOAD_LIMIT: usize = 256 * 1024;
/// ExecutionStarted, ExecutionSucceeded.
const EXECUTION_EVENTS: u64 = 2;
/// TaskStateEntered, LambdaFunctionScheduled/Started/Succeeded, TaskStateExited.
const LAMBDA_TASK_EVENTS: u64 = 5;
/// TaskStateEntered, TaskScheduled/Started/Submitted/Succeeded, TaskStateExited.
const BATCH_SYNC_TASK_EVENTS: u64 = 6;
/// ChoiceStateEntered/Exited (a task's `S.cloned`, which a task that runs leaves by its
/// default, its job).
const CHOICE_EVENTS: u64 = 2;
/// MapStateEntered/Started/Succeeded/Exited.
const MAP_EVENTS: u64 = 4;
/// MapIterationStarted/Succeeded, per inline iteration.
const ITERATION_EVENTS: u64 = 2;
/// MapRunStarted/Succeeded (a Distributed Map's iterations are child executions).
const MAP_RUN_EVENTS: u64 = 2;

/// What one successful execution costs, as the model counts it.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Cost {
    /// Events in the (parent) execution's history.
    parent_events: u64,
    /// Events in each child execution's history (Distributed Map).
    child_events: u64,
    /// State transitions in all executions (what Standard workflows are billed by).
    transitions: u64,
}

/// The success path of a scope from `start_at`, each Map iterated `width` times.
fn scope_cost(states: &States, start_at: &str, width: u64) -> Cost {
    let mut cost = Cost::default();
    let mut name = start_at.to_string();
    loop {
        let state = &states[&name];
        cost.transitions += 1;
        let next = match state {
            State::Task(task) => {
                cost.parent_events += if task.resource.contains(":batch:") {
                    BATCH_SYNC_TASK_EVENTS
                } else {
                    LAMBDA_TASK_EVENTS
                };
                task.transition.target()
            }
            State::Map(map) => {
                let processor = &map.item_processor;
                let body = scope_cost(&processor.states, &processor.start_at, width);
                cost.transitions += width * body.transitions;
                match processor.processor_config.mode {
                    Mode::Inline => {
                        cost.parent_events +=
                            MAP_EVENTS + width * (ITERATION_EVENTS + body.parent_events);
                    }
                    Mode::Distributed => {
                        cost.parent_events += MAP_EVENTS + MAP_RUN_EVENTS;
                        cost.child_events = EXECUTION_EVENTS + body.parent_events;
                    }
                }
                map.transition.target()
            }
            State::Choice(choice) => {
                cost.parent_events += CHOICE_EVENTS;
                choice.default.as_deref()
            }
            other => panic!("the model covers tasks, choices and maps, not {other:?}"),
        };
        match next {
            Some(next) => name = next.to_string(),
            None => return cost,
        }
    }
}

fn execution_cost(machine: &StateMachine, width: u64) -> Cost {
    let mut cost = scope_cost(&machine.states, &machine.start_at, width);
    cost.parent_events += EXECUTION_EVENTS;
    cost
}

fn foreach_flow(distributed: bool) -> StateMachine {
    let path = repo_root().join("tests/flows/shapes/foreach.py");
    let package = package::read_path(&path, &Limits::default()).expect("readable");
    let checked = pipeline::check(&package).expect("checks");
    let mut options = DeployOptions::default();
    OptionsLayer {
        distributed_map: Some(distributed),
        ..Default::default()
    }
    .apply(&mut options);
    pipeline::compile(&checked, &options, &Platform::default(), &BTreeMap::new())
        .expect("compiles")
        .definition
}

/// The Map state's input: the foreach step's finish output (`ctx` as a run has it).
fn map_input_bytes(distributed: bool, width: u32) -> usize {
    let ctx = r#"{"ctx":{"manifest":"s3://dropflow-bucket/deployments/ForeachFlow/0123456789abcdef/deployment.json","run":"sfn-01234567-89ab-cdef-0123-456789abcdef","task":"start/start"},"width":100000,"#;
    let items = if distributed {
        r#""items":{"Bucket":"dropflow-bucket","Key":"dropflow/runs/ForeachFlow/sfn-01234567-89ab-cdef-0123-456789abcdef/start/start/items.json"}}"#.len()
    } else {
        r#""splits":}"#.len() + items_json(width).len()
    };
    ctx.len() + items
}

#[test]
fn a_distributed_map_keeps_the_parent_history_flat_at_any_width() {
    let inline = foreach_flow(false);
    let distributed = foreach_flow(true);
    // What the local stack measured for this flow (distributed, 2 wide), and the model
    // for inline 3 wide (measured 108 before `S.cloned` added 2 events per task).
    assert_eq!(execution_cost(&inline, 3).parent_events, 120);
    assert_eq!(execution_cost(&distributed, 3).parent_events, 62);

    let mut table = String::from(
        "width | inline: parent events, Map input bytes | distributed: parent events, events per child, Map input bytes | state transitions (both)\n",
    );
    for width in [1u64, 3, 40, 1_000, 1_248, 2_000, 10_000, 100_000] {
        let (i, d) = (
            execution_cost(&inline, width),
            execution_cost(&distributed, width),
        );
        let w = u32::try_from(width).unwrap();
        let (i_bytes, d_bytes) = (map_input_bytes(false, w), map_input_bytes(true, w));
        table.push_str(&format!(
            "{width} | {}, {i_bytes} | {}, {}, {d_bytes} | {}\n",
            i.parent_events, d.parent_events, d.child_events, d.transitions
        ));
        // The parent's history and the Map's input do not grow with a Distributed Map.
        assert_eq!(d.parent_events, 62, "width {width}");
        assert_eq!(d.child_events, 20, "width {width}");
        assert!(d_bytes < 1024, "width {width}: {d_bytes}");
        // Both shapes run the same states: 4 per task, 13 outside the foreach.
        assert_eq!(i.transitions, d.transitions);
        assert_eq!(d.transitions, 13 + 4 * width);
        // An inline Map adds 20 events per item to the parent.
        assert_eq!(i.parent_events, 60 + 20 * width);
    }
    eprintln!("{table}");
    // Where an inline Map stops working: the history limit at 1,248 items, the payload
    // limit further out. dropflow refuses inline foreaches over INLINE_MAX_WIDTH.
    let last_inline = (HISTORY_LIMIT - 60) / 20;
    assert_eq!(last_inline, 1_247);
    assert!(execution_cost(&inline, last_inline + 1).parent_events >= HISTORY_LIMIT);
    assert!(u64::from(INLINE_MAX_WIDTH) < last_inline);
    assert!(map_input_bytes(false, INLINE_MAX_WIDTH) < PAYLOAD_LIMIT);
    assert!(map_input_bytes(false, 100_000) > PAYLOAD_LIMIT);
}

#[test]
fn definition_sizes_of_both_shapes() {
    let (inline, distributed) = (foreach_flow(false), foreach_flow(true));
    let (i, d) = (inline.to_json().len(), distributed.to_json().len());
    eprintln!("ForeachFlow definition: inline Map {i} bytes, Distributed Map {d} bytes");
    // The distributed shape adds its ItemReader, ResultWriter and the children's own
    // failure states, once per foreach: not per item.
    assert!(d > i && d < i + 1_500, "inline {i}, distributed {d}");
}
