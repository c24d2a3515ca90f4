//! The event routes. `POST /events` takes Metaflow's event body as
//! `ArgoEvent(name).publish(payload)` sends it (`{"name": ..., "payload": {"name": ...,
//! "id": ..., "timestamp": ..., ...}}`, `Content-Type: application/json`), matches it
//! against the triggers of every deployed flow's live version, and delivers it to each
//! flow it matches ([`dropflow_events::deliver`]): a run started, a multi-event flow
//! waiting, a duplicate, or a payload refused. `GET /flows/{flow}/events/rejected` lists
//! the refused event sets with their reasons. [`deliver_bus_event`] delivers an event
//! from dropflow's EventBridge bus the same way.

use dropflow_contract::ports::ObjectListing;
use dropflow_contract::records::DeploymentState;
use dropflow_contract::{Manifest, ServiceError, layout};
use dropflow_events::{
    BucketPending, BucketRejections, BusEvent, Delivered, EventAnswer, FlowDelivery, FlowTarget,
    MetaflowEvent, Rejection, RejectionEntry, Rejections, deliver, matching_trigger,
};
use futures_util::{StreamExt, TryStreamExt, stream};
use lambda_http::http::StatusCode;
use serde_json::Value;

use crate::answer::{Answer, answer};
use crate::catalog;
use crate::deps::{ApiPorts, Deps};
use crate::error::{ApiError, code};
use crate::event_runs::SfnRuns;
use crate::names;
use crate::params::MAX_BODY_BYTES;
use crate::request::ApiRequest;

/// Flows read at once when an event is matched.
const CONCURRENT_READS: usize = 16;

/// Rejections listed unless `limit` says otherwise, and the most `limit` takes.
const DEFAULT_REJECTIONS: usize = 50;
const MAX_REJECTIONS: usize = 1000;

/// `POST /events`: delivers one event to every deployed flow waiting for it. 200 with
/// what it did per flow ([`EventAnswer`]); an event for no flow is accepted (no flows).
pub async fn publish<P: ApiPorts>(deps: &Deps<P>, request: &ApiRequest) -> Answer {
    let event = parse(&request.body).map_err(|e| *e)?;
    let id = delivery_id(&event);
    let delivered = deliver_everywhere(deps, event, id).await?;
    Ok(answer(StatusCode::OK, &delivered))
}

/// An event from dropflow's EventBridge bus (the bus rule's target is the trigger
/// function): delivered as `POST /events` delivers its body. An error is worth a retry
/// (Lambda retries the asynchronous invocation, then hands it to the failure queue);
/// a refused payload is not an error (it is recorded with its reason).
pub async fn deliver_bus_event<P: ApiPorts>(
    deps: &Deps<P>,
    event: BusEvent,
) -> Result<EventAnswer, ApiError> {
    let source = event.source.clone();
    let (event, id) = event
        .into_delivery()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, code::INVALID_EVENT, e.to_string()))?;
    tracing::info!(event = %event.name, event_id = %id, source = %source, "bus event");
    deliver_everywhere(deps, event, id).await
}

/// Delivers `event` (delivery id `id`) to each deployed flow whose live version waits for it.
async fn deliver_everywhere<P: ApiPorts>(
    deps: &Deps<P>,
    event: MetaflowEvent,
    id: String,
) -> Result<EventAnswer, ApiError> {
    let targets = waiting_flows(deps, &event).await?;
    let mut flows = Vec::new();
    for (state, manifest) in &targets {
        let Some(triggers) = &manifest.triggers else {
            continue;
        };
        let target = FlowTarget {
            state_machine: &state.state_machine,
            triggers,
            parameters: &manifest.parameters,
        };
        let ports = (
            &BucketPending(&deps.objects),
            &SfnRuns { deps, state },
            &BucketRejections(&deps.objects),
        );
        let delivered = deliver(ports, &target, &id, event.clone()).await?;
        let run_id = match &delivered {
            Delivered::NoMatch => continue,
            Delivered::Started { execution_name }
            | Delivered::AlreadyStarted { execution_name } => Some(names::run_id(execution_name)),
            _ => None,
        };
        tracing::info!(
            event = %event.name,
            event_id = %id,
            state_machine = %state.state_machine,
            delivered = ?delivered,
            "event delivered"
        );
        flows.push(FlowDelivery {
            flow: state.flow.clone(),
            state_machine: state.state_machine.clone(),
            run_id,
            delivery: delivered,
        });
    }
    Ok(EventAnswer {
        name: event.name,
        id,
        flows,
    })
}

/// The event in a body, or a 400 naming the expected form.
fn parse(body: &[u8]) -> Result<MetaflowEvent, Box<ApiError>> {
    const FORM: &str = "send Metaflow's event body, {\"name\": \"<event>\", \"payload\": {...}} (what ArgoEvent(name).publish(payload) posts)";
    if body.len() > MAX_BODY_BYTES {
        return Err(Box::new(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::INPUT_TOO_LARGE,
            format!(
                "the event is {} bytes; events take at most {MAX_BODY_BYTES}",
                body.len()
            ),
        )));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Box::new(ApiError::new(
            StatusCode::BAD_REQUEST,
            code::MALFORMED_JSON,
            format!("the body is not JSON ({e}); {FORM}"),
        ))
    })?;
    let event: MetaflowEvent = serde_json::from_value(value).map_err(|e| {
        Box::new(ApiError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_EVENT,
            format!("the body is not an event ({e}); {FORM}"),
        ))
    })?;
    if event.name.trim().is_empty() {
        return Err(Box::new(ApiError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_EVENT,
            format!("the event name is empty; {FORM}"),
        )));
    }
    Ok(event)
}

/// The delivery id: the payload's `id` (Metaflow's publisher sets a UUID per event; a
/// finish event's is the end task's pathspec), else a fresh one.
fn delivery_id(event: &MetaflowEvent) -> String {
    event
        .payload_id()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The deployed flows whose live version has a trigger `event` satisfies, by state
/// machine name. A flow without a live alias (being deployed or removed) is skipped.
async fn waiting_flows<P: ApiPorts>(
    deps: &Deps<P>,
    event: &MetaflowEvent,
) -> Result<Vec<(DeploymentState, Manifest)>, ApiError> {
    let states = catalog::deployed(deps).await?;
    let mut found: Vec<(DeploymentState, Manifest)> = stream::iter(states)
        .map(|state| async move {
            let live = match catalog::live_version(deps, &state).await {
                Ok(live) => live,
                Err(error) if error.status == StatusCode::NOT_FOUND => return Ok(None),
                Err(error) => return Err(error),
            };
            let manifest = catalog::manifest(deps, &state.state_machine, &live.version).await?;
            let waits = manifest
                .triggers
                .as_ref()
                .is_some_and(|t| matching_trigger(t, event).is_some());
            Ok(waits.then_some((state, manifest)))
        })
        .buffer_unordered(CONCURRENT_READS)
        .try_filter_map(|found| async move { Ok(found) })
        .try_collect()
        .await?;
    found.sort_by(|a, b| a.0.state_machine.cmp(&b.0.state_machine));
    Ok(found)
}

/// `GET /flows/{flow}/events/rejected?limit=`: the flow's refused event sets, newest first.
pub async fn rejected<P: ApiPorts>(deps: &Deps<P>, request: &ApiRequest, flow: &str) -> Answer {
    let limit = match request.query_param("limit") {
        None | Some("") => DEFAULT_REJECTIONS,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_REJECTIONS).contains(&n) => n,
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    code::INVALID_QUERY,
                    format!("limit={text:?} must be a number from 1 to {MAX_REJECTIONS}"),
                ));
            }
        },
    };
    let state = catalog::resolve(deps, flow).await?;
    let prefix = layout::rejections_prefix(&state.state_machine);
    let listing = deps.objects.list(&prefix, None, 10_000).await?;
    let mut objects = listing.objects;
    objects.sort_by(|a, b| b.last_modified.cmp(&a.last_modified));
    objects.truncate(limit);
    let objects_ref = &deps.objects;
    let rejections: Vec<RejectionEntry> = stream::iter(objects)
        .map(|object| async move {
            let rejection: Option<Rejection> =
                dropflow_contract::records::read_json(objects_ref, &object.key).await?;
            Ok::<_, ServiceError>(rejection.map(|rejection| RejectionEntry {
                rejected_at: object.last_modified.clone(),
                rejection,
            }))
        })
        .buffered(CONCURRENT_READS)
        .try_filter_map(|entry| async move { Ok(entry) })
        .try_collect()
        .await?;
    let listed = Rejections {
        state_machine: state.state_machine,
        rejections,
    };
    Ok(answer(StatusCode::OK, &listed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metaflows_body_is_read_and_bad_bodies_name_the_form() {
        let body = br#"{"name": "data_ready", "payload": {"name": "data_ready", "id": "7f1c", "timestamp": 1700000000, "utc_date": "20231114", "generated-by-metaflow": true, "alpha": "0.5"}}"#;
        let event = parse(body).unwrap();
        assert_eq!(event.name, "data_ready");
        assert_eq!(event.payload["alpha"], "0.5");
        assert_eq!(delivery_id(&event), "7f1c");

        let no_payload = parse(br#"{"name": "e"}"#).unwrap();
        assert!(no_payload.payload.is_empty());
        // No id: a fresh one each time (a re-sent copy is another event).
        assert_ne!(delivery_id(&no_payload), delivery_id(&no_payload));

        for (body, error) in [
            (&b"not json"[..], code::MALFORMED_JSON),
            (br#"{"payload": {}}"#, code::INVALID_EVENT),
            (br#"{"name": 3}"#, code::INVALID_EVENT),
            (br#"{"name": "e", "payload": [1]}"#, code::INVALID_EVENT),
            (br#"{"name": " "}"#, code::INVALID_EVENT),
        ] {
            let refused = parse(body).unwrap_err();
            assert_eq!(refused.code, error, "{}", String::from_utf8_lossy(body));
            assert_eq!(refused.status, StatusCode::BAD_REQUEST);
            assert!(
                refused.message.contains("ArgoEvent(name).publish(payload)"),
                "{}",
                refused.message
            );
        }
    }
}
