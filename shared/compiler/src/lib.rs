//! dropflow's compiler: a flow package in, a deployment out (the state machine, its
//! schedule, the Batch job definitions and the manifest of `dropflow-contract`). Pure: no
//! AWS client, no clock beyond deploy-time defaults.
//!
//! The stages, in the order [`pipeline`] runs them:
//!
//! 1. [`package`]: read the uploaded tarball safely (paths, sizes, Metaflow's layout);
//! 2. [`discover`] and [`python`]: find the one flow file and parse it (Astral's parser)
//!    into a flow model, with Metaflow's load checks (run once: their result,
//!    `compile::LoadedFlow`, is what compile takes);
//! 3. [`graph`]: Metaflow's node model of the flow;
//! 4. [`lint`]: Metaflow's graph rules and messages;
//! 5. [`flow_inputs`]: `Config` and `IncludeFile` values read from the package;
//! 6. [`deploy_time`]: deploy-time parameter defaults, evaluated in a sandbox;
//! 7. [`compile`]: state machine, schedule, job definitions, manifest;
//!
//! with [`events`] (`@trigger`/`@trigger_on_finish`: read by the compiler, delivered at
//! run time), [`asl`] (typed Amazon States Language), [`schedule`] (`@schedule` to cron) and
//! [`naming`] (resource names) beside them. The modules form cycles (lint ↔ graph,
//! deploy-time ↔ flow inputs ↔ compile), which is why they share one crate.

pub mod asl;
pub mod compile;
pub mod deploy_time;
pub mod discover;
pub mod events;
pub mod flow_inputs;
pub mod graph;
pub mod lint;
pub mod naming;
pub mod package;
pub mod pipeline;
pub mod python;
pub mod schedule;
