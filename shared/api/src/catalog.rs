//! What is deployed, read from the compile Lambda's records in the bucket:
//! `deployments/<state machine>/current.json` ([`DeploymentState`]), the immutable
//! manifests `deployments/<state machine>/<version>/deployment.json` ([`Manifest`]) and the
//! reports `reports/<upload key>.json` (read as the library's [`Report`]). Which version runs is the `live` alias's business:
//! [`live_version`] asks Step Functions, so a rollback made by moving the alias is seen.

use dropflow_contract::ServiceError;
use dropflow_contract::ports::{Executions, ObjectListing, ObjectStore};
use dropflow_contract::records::{
    DEPLOYMENTS_PREFIX, DeploymentState, current_key, read_json, report_key,
};
use dropflow_contract::report::{Report, ReportSummary};
use dropflow_contract::{Manifest, layout};
use futures_util::{StreamExt, TryStreamExt, stream};
use lambda_http::http::StatusCode;

use crate::deps::{ApiPorts, Deps};
use crate::error::{ApiError, code};

/// Reads done at once when many records are needed.
const CONCURRENT_READS: usize = 16;

/// At most this many state machines are listed.
const MAX_DEPLOYMENTS: usize = 10_000;

pub use dropflow_contract::layout::manifest_key;

/// Whether `name` can be a state machine (or flow class) name: anything else is refused
/// before it becomes part of an S3 key.
fn is_plausible_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name != "."
        && name != ".."
}

/// The deployment of the state machine named `name`; `None` when not deployed.
pub async fn current<P: ApiPorts>(
    deps: &Deps<P>,
    name: &str,
) -> Result<Option<DeploymentState>, ServiceError> {
    if !is_plausible_name(name) {
        return Ok(None);
    }
    read_json(&deps.objects, &current_key(name)).await
}

/// Every deployed state machine, by name.
pub async fn deployed<P: ApiPorts>(deps: &Deps<P>) -> Result<Vec<DeploymentState>, ServiceError> {
    let listing = deps
        .objects
        .list(DEPLOYMENTS_PREFIX, Some("/"), MAX_DEPLOYMENTS)
        .await?;
    if listing.truncated {
        tracing::warn!(
            limit = MAX_DEPLOYMENTS,
            "more deployments than listed; the rest are not shown"
        );
    }
    let names: Vec<String> = listing
        .prefixes
        .iter()
        .filter_map(|p| p.strip_prefix(DEPLOYMENTS_PREFIX)?.strip_suffix('/'))
        .map(String::from)
        .collect();
    let mut states: Vec<DeploymentState> = stream::iter(names)
        .map(|name| async move { current(deps, &name).await })
        .buffer_unordered(CONCURRENT_READS)
        .try_filter_map(|state| async move { Ok(state) })
        .try_collect()
        .await?;
    states.sort_by(|a, b| a.state_machine.cmp(&b.state_machine));
    Ok(states)
}

/// The deployment `flow` names: a state machine name, else a flow class name that only one
/// deployed state machine runs.
pub async fn resolve<P: ApiPorts>(deps: &Deps<P>, flow: &str) -> Result<DeploymentState, ApiError> {
    if !is_plausible_name(flow) {
        return Err(ApiError::flow_not_found(flow));
    }
    if let Some(state) = current(deps, flow).await? {
        return Ok(state);
    }
    let mut matches: Vec<DeploymentState> = deployed(deps)
        .await?
        .into_iter()
        .filter(|state| state.flow == flow)
        .collect();
    match matches.len() {
        0 => Err(ApiError::flow_not_found(flow)),
        1 => Ok(matches.remove(0)),
        _ => {
            let names: Vec<String> = matches.into_iter().map(|s| s.state_machine).collect();
            Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                code::AMBIGUOUS_FLOW,
                format!(
                    "flow {flow} is deployed as {} state machines ({}); name one of them",
                    names.len(),
                    names.join(", ")
                ),
            )
            .with("candidates", names))
        }
    }
}

/// The version the `live` alias routes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveVersion {
    /// dropflow's content-derived version id.
    pub version: String,
    /// The Step Functions version ARN.
    pub version_arn: String,
}

/// The version the `live` alias of `state` routes to, and its dropflow version id. Normally
/// the one `current.json` records; after a rollback (the alias moved by hand) the one named
/// in that version's description (`dropflow <version> from <key>`).
pub async fn live_version<P: ApiPorts>(
    deps: &Deps<P>,
    state: &DeploymentState,
) -> Result<LiveVersion, ApiError> {
    let Some(version_arn) = deps.executions.alias_version(&state.alias_arn).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            code::FLOW_NOT_FOUND,
            format!(
                "{} has no live alias (it is being deployed or removed); retry shortly",
                state.state_machine
            ),
        ));
    };
    let version = version_id(deps, state, &version_arn).await?.ok_or_else(|| {
        ApiError::internal(ServiceError::new(
            format!("resolve the live version of {}", state.state_machine),
            format!(
                "alias {} routes to {version_arn}, which is not a version dropflow published (its description does not name one)",
                state.alias_arn
            ),
        ))
    })?;
    Ok(LiveVersion {
        version,
        version_arn,
    })
}

/// The dropflow version id of a published state machine version; `None` when unknown.
pub async fn version_id<P: ApiPorts>(
    deps: &Deps<P>,
    state: &DeploymentState,
    version_arn: &str,
) -> Result<Option<String>, ServiceError> {
    if version_arn == state.version_arn {
        return Ok(Some(state.version.clone()));
    }
    let Some(info) = deps.executions.version(version_arn).await? else {
        return Ok(None);
    };
    Ok(info
        .description
        .as_deref()
        .and_then(version_from_description))
}

/// `dropflow <version> from <key>` → `<version>` (the compile Lambda's version
/// description).
fn version_from_description(description: &str) -> Option<String> {
    let version = description
        .strip_prefix("dropflow ")?
        .split_whitespace()
        .next()?;
    is_plausible_name(version).then(|| version.to_string())
}

/// The manifest at `key`, its schema checked ([`Manifest::from_json`]); `None` when absent.
pub async fn read_manifest(
    objects: &impl ObjectStore,
    key: &str,
) -> Result<Option<Manifest>, ServiceError> {
    let Some(object) = objects.get(key, None).await? else {
        return Ok(None);
    };
    Manifest::from_json(&object.bytes)
        .map(Some)
        .map_err(|e| ServiceError::new(format!("read {key}"), e.to_string()))
}

/// The manifest of `version`; a missing or unreadable one is a server-side failure.
pub async fn manifest<P: ApiPorts>(
    deps: &Deps<P>,
    state_machine: &str,
    version: &str,
) -> Result<Manifest, ApiError> {
    let key = manifest_key(state_machine, version);
    read_manifest(&deps.objects, &key).await?.ok_or_else(|| {
        ApiError::internal(ServiceError::new(
            format!("read {key}"),
            "the manifest of the live version is missing",
        ))
    })
}

/// The report of the newest event for the upload that deployed `state` (so a failed
/// upload shows even though the previous version stays live), in short; `None` before any.
pub async fn last_report<P: ApiPorts>(
    deps: &Deps<P>,
    state: &DeploymentState,
) -> Result<Option<ReportSummary>, ServiceError> {
    let report = read_json::<Report>(&deps.objects, &report_key(&state.source_key)).await?;
    Ok(report.as_ref().map(ReportSummary::from))
}

/// One published version of a state machine, from its manifest in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    /// Version id.
    pub version: String,
    /// When its manifest was written (RFC 3339).
    pub deployed_at: Option<String>,
}

/// The versions of `state_machine` whose manifests were written, newest first.
pub async fn versions<P: ApiPorts>(
    deps: &Deps<P>,
    state_machine: &str,
) -> Result<Vec<VersionRecord>, ServiceError> {
    let prefix = layout::state_machine_prefix(state_machine);
    let listing = deps.objects.list(&prefix, None, 10_000).await?;
    let mut versions: Vec<VersionRecord> = listing
        .objects
        .iter()
        .filter_map(|object| {
            let rest = object.key.strip_prefix(&prefix)?;
            let version = rest
                .strip_suffix(layout::MANIFEST_FILE)?
                .strip_suffix('/')?;
            (!version.contains('/')).then(|| VersionRecord {
                version: version.to_string(),
                deployed_at: object.last_modified.clone(),
            })
        })
        .collect();
    versions.sort_by(|a, b| b.deployed_at.cmp(&a.deployed_at));
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_descriptions() {
        assert_eq!(
            version_from_description("dropflow v1-abc123 from team/a.tgz").as_deref(),
            Some("v1-abc123")
        );
        assert_eq!(version_from_description("made by hand"), None);
        assert_eq!(version_from_description("dropflow ../x from y"), None);
    }

    #[test]
    fn names_that_cannot_be_state_machines_are_refused() {
        assert!(is_plausible_name("demo_project.prod.Flow"));
        for name in ["", ".", "..", "a/b", "a b", &"x".repeat(81)] {
            assert!(!is_plausible_name(name), "{name}");
        }
    }
}
