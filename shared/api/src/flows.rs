//! The flow routes: `GET /flows` (what is deployed) and `GET /flows/{flow}` (one
//! deployment: parameters, schedule, versions, last report).

use dropflow_contract::api::{FlowDetail, FlowList, FlowSummary, FlowVersion, LastReport};
use futures_util::{StreamExt, TryStreamExt, stream};
use lambda_http::http::StatusCode;

use crate::answer::{Answer, answer};
use crate::catalog;
use crate::deps::{ApiPorts, Deps};

/// `GET /flows`: every deployed state machine with its flow class, live version (as
/// recorded at deploy), schedule and the status of its upload's last report.
pub async fn list<P: ApiPorts>(deps: &Deps<P>) -> Answer {
    let states = catalog::deployed(deps).await?;
    let flows: Vec<FlowSummary> = stream::iter(states)
        .map(|state| async move {
            let report = catalog::last_report(deps, &state).await?;
            Ok::<_, dropflow_contract::ServiceError>(FlowSummary {
                name: state.state_machine,
                flow: state.flow,
                version: state.version,
                schedule: state.schedule,
                source_key: state.source_key,
                last_report: LastReport {
                    status: report.as_ref().map(|r| r.status),
                    summary: report.map(|r| r.summary),
                },
            })
        })
        .buffered(16)
        .try_collect()
        .await?;
    Ok(answer(StatusCode::OK, &FlowList { flows }))
}

/// `GET /flows/{flow}`: the deployment, with the version the `live` alias runs.
pub async fn get<P: ApiPorts>(deps: &Deps<P>, flow: &str) -> Answer {
    let state = catalog::resolve(deps, flow).await?;
    let live = catalog::live_version(deps, &state).await?;
    let manifest = catalog::manifest(deps, &state.state_machine, &live.version).await?;
    let mut versions = catalog::versions(deps, &state.state_machine).await?;
    // Newest first; S3 dates are to the second, so on a tie the live one leads.
    versions.sort_by(|a, b| {
        b.deployed_at
            .cmp(&a.deployed_at)
            .then_with(|| (b.version == live.version).cmp(&(a.version == live.version)))
    });
    let report = catalog::last_report(deps, &state).await?;
    let versions = versions
        .into_iter()
        .map(|v| FlowVersion {
            live: v.version == live.version,
            version: v.version,
            deployed_at: v.deployed_at,
        })
        .collect();
    let detail = FlowDetail {
        name: state.state_machine,
        flow: state.flow,
        file: manifest.flow.file,
        project: manifest.project,
        version: live.version,
        version_arn: live.version_arn,
        alias_arn: state.alias_arn,
        state_machine_arn: state.state_machine_arn,
        source_key: state.source_key,
        parameters: manifest.parameters.iter().map(Into::into).collect(),
        configs: manifest.configs,
        schedule: manifest.schedule,
        versions,
        last_report: report,
    };
    Ok(answer(StatusCode::OK, &detail))
}
