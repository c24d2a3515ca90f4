//! dropflow's bucket layout, in one place: every key the compile side writes and the
//! runtime side reads (the compile, step, trigger and metadata Lambdas and the CLI) is
//! built here.
//!
//! ```text
//! flows/<key>                                        uploads (the default prefix)
//! sources/<key>.json                                 which version an upload deployed
//! reports/<key>.json, reports/latest/<Flow>.json     deploy reports (the last one that did work)
//! reports/versions/<key>/<S3 version>.json           every event's own report
//! deployments/<sm>/current.json, owner.json          what is live, and who owns it
//! deployments/<sm>/<version>/deployment.json         a version's manifest
//! deployments/<sm>/<version>/code.tar.gz             a version's code package
//! dropflow/runs/<sm>/<run>/<step>/<task>/<n>.json    task attempt records
//! dropflow/inputs/<sm>/<run>/<step>/<task>/<name>    files a task fetches at start
//! events/pending/<rule>.json                         a multi-event flow's arrivals so far
//! events/runs/<sm>/<execution>.json                  the events that started a run
//! events/rejected/<sm>/<execution>.json              an event set that started no run
//! ```

/// The default prefix uploads deploy from (`DROPFLOW_FLOWS_PREFIX` overrides it).
pub const FLOWS_PREFIX: &str = "flows/";
/// Prefix of everything deployed (versions, what is live, owners).
pub const DEPLOYMENTS_PREFIX: &str = "deployments/";
/// Prefix of the per-upload source records.
pub const SOURCES_PREFIX: &str = "sources/";
/// Prefix of the deploy reports.
pub const REPORTS_PREFIX: &str = "reports/";
/// Prefix of all task records.
pub const RUNS_PREFIX: &str = "dropflow/runs/";
/// Prefix of the files tasks fetch at start.
pub const INPUTS_PREFIX: &str = "dropflow/inputs/";
/// Prefix of the event delivery records (pending arrivals, triggered runs, rejections).
pub const EVENTS_PREFIX: &str = "events/";
/// A version's manifest, in its version directory.
pub const MANIFEST_FILE: &str = "deployment.json";
/// A version's code package, in its version directory.
pub const CODE_PACKAGE_FILE: &str = "code.tar.gz";

/// `deployments/<sm>/`: everything deployed for one state machine.
pub fn state_machine_prefix(state_machine: &str) -> String {
    format!("{DEPLOYMENTS_PREFIX}{state_machine}/")
}

/// `deployments/<sm>/<version>`: one version's directory (no trailing slash).
pub fn version_directory(state_machine: &str, version: &str) -> String {
    format!("{}{version}", state_machine_prefix(state_machine))
}

/// `deployments/<sm>/<version>/deployment.json`.
pub fn manifest_key(state_machine: &str, version: &str) -> String {
    format!(
        "{}/{MANIFEST_FILE}",
        version_directory(state_machine, version)
    )
}

/// `deployments/<sm>/current.json`: what is live.
pub fn current_key(state_machine: &str) -> String {
    format!("{}current.json", state_machine_prefix(state_machine))
}

/// `events/pending/<rule>.json`: the arrivals a multi-event flow is waiting with.
pub fn pending_events_key(rule: &str) -> String {
    format!("{EVENTS_PREFIX}pending/{rule}.json")
}

/// `events/runs/<sm>/<execution>.json`: the events that started (claimed) a run.
pub fn triggered_run_key(state_machine: &str, execution: &str) -> String {
    format!("{EVENTS_PREFIX}runs/{state_machine}/{execution}.json")
}

/// `events/rejected/<sm>/`: the event sets refused for a flow.
pub fn rejections_prefix(state_machine: &str) -> String {
    format!("{EVENTS_PREFIX}rejected/{state_machine}/")
}

/// `events/rejected/<sm>/<execution>.json`: one refused event set.
pub fn rejection_key(state_machine: &str, execution: &str) -> String {
    format!("{}{execution}.json", rejections_prefix(state_machine))
}

/// `deployments/<sm>/owner.json`: which upload owns the state machine.
pub fn owner_key(state_machine: &str) -> String {
    format!("{}owner.json", state_machine_prefix(state_machine))
}

/// `sources/<key>.json`, for an upload's key below the flows prefix.
pub fn source_key(flow_key: &str) -> String {
    format!("{SOURCES_PREFIX}{flow_key}.json")
}

/// `reports/<key>.json`, for an upload's key below the flows prefix.
pub fn report_key(flow_key: &str) -> String {
    format!("{REPORTS_PREFIX}{flow_key}.json")
}

/// `reports/latest/<Flow>.json`: the newest report of a flow, whatever its upload key.
pub fn latest_report_key(flow: &str) -> String {
    format!("{REPORTS_PREFIX}latest/{flow}.json")
}

/// `reports/versions/<key>/<S3 version>.json`: the report of the event for one S3 version
/// of an upload (or delete marker), whatever the event's outcome. A client waiting for its
/// upload's report reads this one key: `reports/<key>.json` holds only the last report of
/// an event that did work, so an event that was superseded or a duplicate is found here.
pub fn version_report_key(flow_key: &str, version_id: &str) -> String {
    format!("{REPORTS_PREFIX}versions/{flow_key}/{version_id}.json")
}

/// The prefix of one run's records: `dropflow/runs/<state machine>/<run>/`.
pub fn run_prefix(state_machine: &str, run: &str) -> String {
    format!("{RUNS_PREFIX}{state_machine}/{run}/")
}

/// The key of one attempt's record:
/// `dropflow/runs/<state machine>/<run>/<step>/<task>/<attempt>.json`.
pub fn record_key(state_machine: &str, run: &str, step: &str, task: &str, attempt: u32) -> String {
    format!(
        "{}{step}/{task}/{attempt}.json",
        run_prefix(state_machine, run)
    )
}

/// The key of a foreach task's split indices (a JSON array, `[0, 1, …, n-1]`).
pub fn items_key(state_machine: &str, run: &str, step: &str, task: &str) -> String {
    format!("{}{step}/{task}/items.json", run_prefix(state_machine, run))
}

/// The key where a child execution of the Distributed Map of `foreach_step` leaves its
/// failure; `stack` is the foreach step's own foreach index stack (its task's).
pub fn failure_key(state_machine: &str, run: &str, foreach_step: &str, stack: &[u32]) -> String {
    let indices: String = stack.iter().map(|i| format!("-{i}")).collect();
    format!(
        "{}_failures/{foreach_step}{indices}.json",
        run_prefix(state_machine, run)
    )
}

/// The key of a task's file `name` (`input-paths`, `parameters.env`).
pub fn input_file_key(
    state_machine: &str,
    run: &str,
    step: &str,
    task: &str,
    name: &str,
) -> String {
    format!("{INPUTS_PREFIX}{state_machine}/{run}/{step}/{task}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_layout() {
        assert_eq!(manifest_key("F", "v1"), "deployments/F/v1/deployment.json");
        assert_eq!(version_directory("F", "v1"), "deployments/F/v1");
        assert_eq!(current_key("F"), "deployments/F/current.json");
        assert_eq!(owner_key("F"), "deployments/F/owner.json");
        assert_eq!(source_key("team/f.tgz"), "sources/team/f.tgz.json");
        assert_eq!(report_key("team/f.tgz"), "reports/team/f.tgz.json");
        assert_eq!(latest_report_key("F"), "reports/latest/F.json");
        assert_eq!(
            record_key("F", "sfn-1", "square", "square-3", 1),
            "dropflow/runs/F/sfn-1/square/square-3/1.json"
        );
        assert_eq!(
            items_key("F", "sfn-1", "start", "start"),
            "dropflow/runs/F/sfn-1/start/start/items.json"
        );
        assert_eq!(
            failure_key("F", "sfn-1", "each", &[2]),
            "dropflow/runs/F/sfn-1/_failures/each-2.json"
        );
        assert_eq!(
            input_file_key("F", "sfn-1", "join", "join", "input-paths"),
            "dropflow/inputs/F/sfn-1/join/join/input-paths"
        );
        assert_eq!(pending_events_key("F"), "events/pending/F.json");
        assert_eq!(triggered_run_key("F", "ev-1"), "events/runs/F/ev-1.json");
        assert_eq!(rejection_key("F", "ev-1"), "events/rejected/F/ev-1.json");
        assert!(rejection_key("F", "ev-1").starts_with(&rejections_prefix("F")));
    }
}
