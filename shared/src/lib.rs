//! dropflow's library: everything that is not a Lambda entry point.
//!
//! The compile pipeline is a chain of small modules, each its own stage:
//! [`package`] (read a tarball safely) → [`python`] (parse the flow file) →
//! [`graph`] (Metaflow's node model) → [`lint`] (Metaflow's rules and messages) →
//! [`compile`] (state machine, schedule, job definitions, manifest), with
//! [`asl`] (typed Amazon States Language), [`schedule`] and [`naming`] beside it.
//! [`task`] is the step Lambda's protocol (task ids, input paths, job commands, datastore
//! reads). No AWS client lives here: AWS calls are made by the functions, behind traits.

pub mod asl;
pub mod compile;
pub mod deploy;
pub mod deploy_time;
pub mod discover;
pub mod events;
pub mod flow_inputs;
pub mod graph;
pub mod lint;
pub mod metadata;
pub mod naming;
pub mod package;
pub mod pipeline;
pub mod python;
pub mod schedule;
pub mod task;
