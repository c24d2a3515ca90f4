//! The multi-event rule: a flow waiting for several events starts once every one of them
//! has arrived (as on Argo, where a sensor's dependencies are combined with `&&`). The
//! arrivals are kept in one small record per flow; a run starts when the record holds an
//! arrival for every event, and starting it resets the record (the newest arrival per
//! event name counts). The ids of events that started a run are remembered (the last
//! [`REMEMBERED_IDS`]), so a duplicate delivered after the reset starts nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use dropflow_contract::triggers::Arrival;
use dropflow_contract::triggers::{EVENT_EXECUTION_PREFIX, Triggers};

/// How many consumed event ids a record remembers.
pub const REMEMBERED_IDS: usize = 256;

/// What a flow is waiting for: the latest arrival per event name, and recently consumed ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// Event name → its latest arrival not yet used by a run.
    #[serde(default)]
    pub arrived: BTreeMap<String, Arrival>,
    /// Ids of events that started (or were refused for) a run, newest last.
    #[serde(default)]
    pub consumed: Vec<String>,
}

/// What one arrival leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Already counted (the same id arrived before).
    Duplicate,
    /// Recorded; these event names are still missing.
    Waiting(Vec<String>),
    /// Every event has arrived: start a run named `execution_name` with these arrivals
    /// (in the order of the flow's triggers), then store the reset record.
    Complete {
        /// Execution name derived from the arrivals' ids: the same set, the same name.
        execution_name: String,
        /// The arrivals, one per trigger.
        arrivals: Vec<Arrival>,
    },
}

impl Pending {
    /// Records `arrival` (which satisfies the trigger for its name) and says what follows.
    /// On [`Outcome::Complete`], `self` is already the reset record.
    pub fn record(&mut self, triggers: &Triggers, arrival: Arrival) -> Outcome {
        let seen = self.consumed.contains(&arrival.id)
            || self.arrived.values().any(|a| a.id == arrival.id);
        if seen {
            return Outcome::Duplicate;
        }
        self.arrived.insert(arrival.event.name.clone(), arrival);
        let missing: Vec<String> = triggers
            .events
            .iter()
            .filter(|t| !self.arrived.contains_key(&t.name))
            .map(|t| t.name.clone())
            .collect();
        if !missing.is_empty() {
            return Outcome::Waiting(missing);
        }
        let arrivals: Vec<Arrival> = triggers
            .events
            .iter()
            .filter_map(|t| self.arrived.remove(&t.name))
            .collect();
        self.consumed.extend(arrivals.iter().map(|a| a.id.clone()));
        let overflow = self.consumed.len().saturating_sub(REMEMBERED_IDS);
        self.consumed.drain(..overflow);
        Outcome::Complete {
            execution_name: execution_name(arrivals.iter().map(|a| a.id.as_str())),
            arrivals,
        }
    }
}

/// The execution started by a set of events: `ev-` and 32 hex characters of a SHA-256
/// over their ids, so every handler that completes the same set names the same
/// execution, and Step Functions starts it once.
pub fn execution_name<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for id in ids {
        hasher.update((id.len() as u64).to_be_bytes());
        hasher.update(id.as_bytes());
    }
    format!(
        "{EVENT_EXECUTION_PREFIX}{}",
        &data_encoding::HEXLOWER.encode(&hasher.finalize())[..32]
    )
}
