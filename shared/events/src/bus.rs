//! Events put on dropflow's EventBridge bus (`aws events put-events`). The documented
//! shape: `DetailType` is the Metaflow event name (`data_ready`), `Detail` its payload, a
//! JSON object whose fields map to parameters as in `ArgoEvent(name).publish(payload)`.
//! `Source` is the publisher's own (any value; the bus's rule takes every event). The
//! delivery id is the detail's `id` when it has one (a publisher's own dedupe key), else
//! EventBridge's event id, which every redelivery of one `PutEvents` entry keeps: a
//! duplicate delivery starts no second run.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use dropflow_contract::triggers::MetaflowEvent;

/// An EventBridge event as a rule's Lambda target receives it (only what delivery reads).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BusEvent {
    /// EventBridge's event id (kept across redeliveries).
    pub id: String,
    /// The event name.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// The publisher (`Source`).
    pub source: String,
    /// When it was put (RFC 3339), if EventBridge says.
    #[serde(default)]
    pub time: Option<String>,
    /// The payload.
    #[serde(default)]
    pub detail: Value,
}

/// The fields that tell an EventBridge event from other payloads, unparsed.
#[derive(Deserialize)]
struct BusEventShape<'a> {
    #[serde(rename = "detail-type", borrow)]
    detail_type: Option<&'a RawValue>,
    #[serde(borrow)]
    source: Option<&'a RawValue>,
    #[serde(borrow)]
    id: Option<&'a RawValue>,
}

/// Why a bus event cannot be delivered (nothing a retry would change).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusEventError {
    /// `DetailType` is empty.
    #[error(
        "the event from {publisher} has an empty detail-type; put events with DetailType set to the Metaflow event name"
    )]
    NoName {
        /// The event's source.
        publisher: String,
    },
    /// `Detail` is not a JSON object.
    #[error(
        "event {name} from {publisher}: the detail is {found}, not a JSON object; put the payload as Detail, for example '{{\"alpha\": \"0.5\"}}'"
    )]
    DetailNotObject {
        /// The event name.
        name: String,
        /// The event's source.
        publisher: String,
        /// What the detail was (`a list`, `null`...).
        found: &'static str,
    },
}

impl BusEvent {
    /// Whether a Lambda invocation's payload (JSON text) is an EventBridge event (and
    /// not, say, an API Gateway request): an object whose `detail-type`, `source` and `id`
    /// are strings. Only those three fields are looked at; nothing else is kept.
    pub fn is_bus_event(payload: &str) -> bool {
        let is_string = |field: Option<&RawValue>| field.is_some_and(|v| v.get().starts_with('"'));
        // An object only (serde would also read a struct from an array of three values).
        payload.trim_start().starts_with('{')
            && serde_json::from_str::<BusEventShape>(payload).is_ok_and(|shape| {
                is_string(shape.detail_type) && is_string(shape.source) && is_string(shape.id)
            })
    }

    /// The Metaflow event and its delivery id. The payload gets what Metaflow's publisher
    /// always sends when the detail lacks it: `name`, `id` (the delivery id),
    /// `timestamp` (seconds, from the event's `time`) and `utc_date`.
    pub fn into_delivery(self) -> Result<(MetaflowEvent, String), BusEventError> {
        let name = self.detail_type.trim().to_string();
        if name.is_empty() {
            return Err(BusEventError::NoName {
                publisher: self.source,
            });
        }
        let payload: Map<String, Value> = match self.detail {
            Value::Object(map) => map,
            other => {
                return Err(BusEventError::DetailNotObject {
                    name,
                    publisher: self.source,
                    found: kind(&other),
                });
            }
        };
        let mut event = MetaflowEvent { name, payload };
        let id = event.payload_id().unwrap_or(self.id);
        let put_at = self
            .time
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        let payload = &mut event.payload;
        payload
            .entry("name")
            .or_insert_with(|| Value::String(event.name.clone()));
        payload
            .entry("id")
            .or_insert_with(|| Value::String(id.clone()));
        if let Some(put_at) = put_at {
            payload
                .entry("timestamp")
                .or_insert_with(|| Value::from(put_at.timestamp()));
            payload
                .entry("utc_date")
                .or_insert_with(|| Value::String(put_at.format("%Y%m%d").to_string()));
        }
        Ok((event, id))
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail: Value) -> Value {
        json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "data_ready",
            "source": "acme.ingest",
            "account": "123456789012",
            "time": "2026-12-07T12:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": detail
        })
    }

    #[test]
    fn an_eventbridge_event_becomes_metaflows_event() {
        let raw = event(json!({"alpha": "0.5"}));
        assert!(BusEvent::is_bus_event(&raw.to_string()));
        let bus: BusEvent = serde_json::from_value(raw).unwrap();
        let (event, id) = bus.into_delivery().unwrap();
        assert_eq!(id, "6a7e8feb-b491-4cf7-a9f1-bf3703467718");
        assert_eq!(event.name, "data_ready");
        assert_eq!(
            Value::Object(event.payload),
            json!({
                "alpha": "0.5",
                "name": "data_ready",
                "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
                "timestamp": 1_796_644_800,
                "utc_date": "20261207"
            })
        );
    }

    #[test]
    fn the_details_own_id_and_fields_win() {
        let raw = event(json!({"id": "batch-42", "name": "other", "timestamp": 5}));
        let (event, id) = serde_json::from_value::<BusEvent>(raw)
            .unwrap()
            .into_delivery()
            .unwrap();
        assert_eq!(id, "batch-42");
        // The event name is the detail-type; the payload keeps its own fields.
        assert_eq!(event.name, "data_ready");
        assert_eq!(event.payload["name"], "other");
        assert_eq!(event.payload["timestamp"], 5);
    }

    #[test]
    fn bad_events_say_what_to_put() {
        for (detail, found) in [(json!([1]), "a list"), (json!("x"), "a string")] {
            let error = serde_json::from_value::<BusEvent>(event(detail))
                .unwrap()
                .into_delivery()
                .unwrap_err();
            assert_eq!(
                error,
                BusEventError::DetailNotObject {
                    name: "data_ready".into(),
                    publisher: "acme.ingest".into(),
                    found
                }
            );
            assert!(error.to_string().contains("put the payload as Detail"));
        }
        let mut raw = event(json!({}));
        raw["detail-type"] = json!(" ");
        let error = serde_json::from_value::<BusEvent>(raw)
            .unwrap()
            .into_delivery()
            .unwrap_err();
        assert!(error.to_string().contains("DetailType"), "{error}");
    }

    #[test]
    fn api_gateway_requests_are_not_bus_events() {
        let request = json!({"version": "2.0", "routeKey": "POST /events", "rawPath": "/events", "requestContext": {}, "isBase64Encoded": false});
        assert!(!BusEvent::is_bus_event(&request.to_string()));
    }

    #[test]
    fn only_an_object_with_string_names_is_a_bus_event() {
        let shape = r#"{"detail-type": "d", "source": "s", "id": "i"}"#;
        assert!(BusEvent::is_bus_event(shape));
        assert!(!BusEvent::is_bus_event(r#"["d", "s", "i"]"#));
        assert!(!BusEvent::is_bus_event(
            r#"{"detail-type": 1, "source": "s", "id": "i"}"#
        ));
        assert!(!BusEvent::is_bus_event(r#"{"source": "s", "id": "i"}"#));
        assert!(!BusEvent::is_bus_event("not json"));
    }
}
