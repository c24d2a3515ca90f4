//! Delivering one event to one flow: match it against the flow's triggers, wait for the
//! rest of a multi-event set ([`crate::pending`]), map the payload to parameters, check
//! them exactly as `POST /flows/{flow}/runs` does ([`dropflow_task::parameters::check`]),
//! and start the run under a name derived from the event ids, so a duplicate delivery
//! (EventBridge is at least once) starts nothing new. A payload that does not fit starts
//! no run and is recorded with the reason. AWS stays behind the three small ports.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::body::{MetaflowEvent, matching_trigger};
use crate::pending::{Arrival, Outcome, Pending, execution_name};
use dropflow_contract::ParameterSpec;
use dropflow_contract::pyjson;
use dropflow_contract::triggers::Triggers;
use dropflow_contract::{ServiceError, ServiceResult};
use dropflow_task::parameters::{self, InputError, Problem};

/// Where a flow's pending arrivals live: a small record per rule, written only if it is
/// unchanged since it was read (S3 `If-Match`/`If-None-Match`, or a DynamoDB condition).
pub trait PendingStore: Send + Sync {
    /// The record of `rule` and its version tag, or `None` when there is none.
    fn load(
        &self,
        rule: &str,
    ) -> impl Future<Output = ServiceResult<Option<(Pending, String)>>> + Send;
    /// Writes the record if its version is still `expected` (`None`: if there is none);
    /// `false` when another writer came first.
    fn store(
        &self,
        rule: &str,
        pending: &Pending,
        expected: Option<&str>,
    ) -> impl Future<Output = ServiceResult<bool>> + Send;
}

/// Starts runs of a flow's `live` alias.
pub trait RunStarter: Send + Sync {
    /// Starts execution `name` with the checked parameter values and the events that
    /// triggered it; `false` when an execution of that name exists already.
    fn start(
        &self,
        state_machine: &str,
        name: &str,
        parameters: &Map<String, Value>,
        triggered_by: &[Arrival],
    ) -> impl Future<Output = ServiceResult<bool>> + Send;
}

/// Where refused events are recorded, readable through the API.
pub trait RejectionLog: Send + Sync {
    /// Records one refusal.
    fn record(&self, rejection: &Rejection) -> impl Future<Output = ServiceResult<()>> + Send;
}

/// An event set that started no run, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// The flow's state machine.
    pub state_machine: String,
    /// The execution name the run would have had.
    pub execution_name: String,
    /// The events (ids and names).
    pub events: Vec<RejectedEvent>,
    /// Why, in a sentence naming each parameter.
    pub reason: String,
}

/// One event of a [`Rejection`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedEvent {
    /// Delivery id.
    pub id: String,
    /// Event name.
    pub name: String,
}

/// The flow an event is delivered to.
#[derive(Debug, Clone, Copy)]
pub struct FlowTarget<'a> {
    /// State machine name.
    pub state_machine: &'a str,
    /// Its triggers (from the live manifest).
    pub triggers: &'a Triggers,
    /// Its parameters (from the live manifest).
    pub parameters: &'a [ParameterSpec],
}

/// What one delivery did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Delivered {
    /// The flow does not wait for this event (accepted and ignored, as EventBridge does).
    NoMatch,
    /// The same delivery id was counted before.
    Duplicate,
    /// Recorded; other events are still missing.
    Waiting {
        /// The missing event names.
        missing: Vec<String>,
    },
    /// A run was started.
    Started {
        /// Its execution name.
        execution_name: String,
    },
    /// The run of this event set was started by an earlier delivery.
    AlreadyStarted {
        /// Its execution name.
        execution_name: String,
    },
    /// The payload did not fit the parameters: no run.
    Rejected(Rejection),
}

/// How many times a delivery re-reads the pending record after losing a write race.
pub const MAX_ATTEMPTS: usize = 20;

/// The parameter values a set of arrivals gives the flow, checked as the HTTP API checks
/// a run's input: mapped payload fields present are given; absent ones leave the
/// deployed default (a required parameter without one is refused); values a Metaflow
/// command line cannot carry (a NUL byte) and an execution input over Metaflow's 20 KiB
/// are refused too.
pub fn run_parameters(
    target: &FlowTarget<'_>,
    arrivals: &[Arrival],
) -> Result<Map<String, Value>, InputError> {
    let mut given = Map::new();
    for arrival in arrivals {
        let Some(trigger) = target
            .triggers
            .events
            .iter()
            .find(|t| arrival.event.satisfies(t))
        else {
            continue;
        };
        for (parameter, field) in &trigger.parameters {
            if let Some(value) = arrival.event.payload.get(field) {
                given.insert(parameter.clone(), value.clone());
            }
        }
    }
    let valid = || target.parameters.iter().map(|s| s.name.clone()).collect();
    let unpassable = parameters::unpassable_values(&given);
    if !unpassable.is_empty() {
        return Err(InputError::Invalid {
            problems: unpassable,
            valid: valid(),
        });
    }
    let values = parameters::check(given, target.parameters)?.values;
    let size = pyjson::metaflow_input(&values).len();
    if size > parameters::MAX_INPUT_BYTES {
        return Err(InputError::Invalid {
            problems: vec![Problem {
                parameter: "Parameters".into(),
                problem: format!(
                    "the execution input would be {size} bytes; runs take at most {} bytes of parameters (Metaflow's limit for Step Functions)",
                    parameters::MAX_INPUT_BYTES
                ),
            }],
            valid: valid(),
        });
    }
    Ok(values)
}

/// Delivers one event (delivery id `id`) to one flow.
pub async fn deliver<S: PendingStore, R: RunStarter, L: RejectionLog>(
    ports: (&S, &R, &L),
    target: &FlowTarget<'_>,
    id: &str,
    event: MetaflowEvent,
) -> ServiceResult<Delivered> {
    let (store, runs, rejections) = ports;
    if matching_trigger(target.triggers, &event).is_none() {
        return Ok(Delivered::NoMatch);
    }
    let arrival = Arrival {
        id: id.to_string(),
        event,
    };
    if target.triggers.events.len() == 1 {
        let name = execution_name(std::iter::once(id));
        return start(runs, rejections, target, name, vec![arrival]).await;
    }
    for _ in 0..MAX_ATTEMPTS {
        let (mut pending, version) = match store.load(&target.triggers.rule).await? {
            Some((pending, version)) => (pending, Some(version)),
            None => (Pending::default(), None),
        };
        match pending.record(target.triggers, arrival.clone()) {
            Outcome::Duplicate => return Ok(Delivered::Duplicate),
            Outcome::Waiting(missing) => {
                if store
                    .store(&target.triggers.rule, &pending, version.as_deref())
                    .await?
                {
                    return Ok(Delivered::Waiting { missing });
                }
            }
            Outcome::Complete {
                execution_name,
                arrivals,
            } => {
                // Start first, then reset: a handler that dies in between leaves the set
                // in place, and the next delivery starts the same execution name (once).
                let done = start(runs, rejections, target, execution_name, arrivals).await?;
                if store
                    .store(&target.triggers.rule, &pending, version.as_deref())
                    .await?
                {
                    return Ok(done);
                }
            }
        }
    }
    Err(ServiceError::new(
        format!("record event {id} for {}", target.state_machine),
        format!(
            "the pending-events record kept changing ({MAX_ATTEMPTS} attempts); EventBridge will retry"
        ),
    ))
}

async fn start<R: RunStarter, L: RejectionLog>(
    runs: &R,
    rejections: &L,
    target: &FlowTarget<'_>,
    execution_name: String,
    arrivals: Vec<Arrival>,
) -> ServiceResult<Delivered> {
    match run_parameters(target, &arrivals) {
        Ok(values) => {
            let started = runs
                .start(target.state_machine, &execution_name, &values, &arrivals)
                .await?;
            Ok(if started {
                Delivered::Started { execution_name }
            } else {
                Delivered::AlreadyStarted { execution_name }
            })
        }
        Err(error) => {
            let rejection = Rejection {
                state_machine: target.state_machine.to_string(),
                execution_name,
                events: arrivals
                    .iter()
                    .map(|a| RejectedEvent {
                        id: a.id.clone(),
                        name: a.event.name.clone(),
                    })
                    .collect(),
                reason: format!("the event payload does not fit the flow's parameters: {error}"),
            };
            rejections.record(&rejection).await?;
            Ok(Delivered::Rejected(rejection))
        }
    }
}
