//! Where an event's report is written. Every event with an S3 version id gets its own
//! `reports/versions/<key>/<version>.json`, so whoever uploaded (or deleted) that version
//! finds the outcome of exactly its event. `reports/<key>.json` and
//! `reports/latest/<Flow>.json` hold the last report of an event that did the work: a
//! superseded or duplicate event's report would hide it, so those go only to the version's
//! own key.

use super::Deployer;
use super::created::aws_finding;
use super::ports::StateMachines;
use super::ports::{ConditionalPutError, JobDefinitions, ObjectStore, Precondition, Schedules};
use super::report::Report;
use super::state::{self, write_json, write_json_if};

/// Which handler a report comes from, deciding which keys it may replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Writer {
    /// The handler held the key's claim: its report is the event's outcome and replaces
    /// any earlier one, the version's included.
    Claimed,
    /// The handler could not claim the key, or was refused before claiming (a claim held
    /// too long, no sequencer): its report replaces the key's report, but the version's
    /// only if that has none yet (a duplicate's timeout must not hide the outcome its twin
    /// wrote).
    Unclaimed,
    /// The event needed no work (superseded, a duplicate): only the version's own report,
    /// if it has none yet.
    Bystander,
}

impl<O, M, J, S> Deployer<O, M, J, S>
where
    O: ObjectStore,
    M: StateMachines,
    J: JobDefinitions,
    S: Schedules,
{
    /// Writes `report` for the event on `flow_key` where `writer` may. A report that cannot
    /// be written says so in itself (and in the log), and is retryable.
    pub(super) async fn write_report(&self, flow_key: &str, report: &mut Report, writer: Writer) {
        if writer != Writer::Bystander {
            let mut keys = vec![state::report_key(flow_key)];
            if let Some(flow) = &report.flow {
                keys.push(state::latest_report_key(flow));
            }
            for key in keys {
                if let Err(error) = write_json(&self.objects, &key, &*report).await {
                    report.errors.push(aws_finding(&error));
                    report.retryable = true;
                }
            }
        }
        let Some(version_id) = report.version_id.clone() else {
            return;
        };
        let key = state::version_report_key(flow_key, &version_id);
        let written = match writer {
            Writer::Claimed => write_json(&self.objects, &key, &*report).await,
            Writer::Unclaimed | Writer::Bystander => {
                match write_json_if(&self.objects, &key, &*report, &Precondition::Absent).await {
                    Ok(_) | Err(ConditionalPutError::PreconditionFailed { .. }) => Ok(()),
                    Err(ConditionalPutError::Service(error)) => Err(error),
                }
            }
        };
        if let Err(error) = written {
            report.errors.push(aws_finding(&error));
            report.retryable = true;
        }
    }
}
