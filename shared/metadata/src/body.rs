//! Request bodies, as Metaflow's `service` provider sends them
//! (`metaflow/metadata_provider/metadata.py`: `_flow_to_json`, `_run_to_json`,
//! `_task_to_json`, `_artifacts_to_json`, `_metadata_to_json`), and the typed inputs the
//! step Lambda uses to write the same records without HTTP. Fields the path already
//! fixes (`flow_id`, `run_number`, `step_name`, `task_id` of artifacts) and `ts_epoch`
//! (the service's clock decides) are ignored. A field of the wrong type is a 400 naming
//! the field.

use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;
use super::model::Id;

/// `POST /flows/{flow}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct NewFlow {
    /// Who registers it.
    #[serde(default)]
    pub user_name: Option<String>,
    /// User tags.
    #[serde(default, deserialize_with = "tags")]
    pub tags: Vec<String>,
    /// System tags.
    #[serde(default, deserialize_with = "tags")]
    pub system_tags: Vec<String>,
}

/// `POST /flows/{flow}/run`, and `POST …/steps/{step}/step` (`run_number` unused there).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct NewRun {
    /// The run's name (`sfn-…`, `argo-…`); absent: the service assigns a number.
    #[serde(default)]
    pub run_number: Option<Id>,
    /// Who started it.
    #[serde(default)]
    pub user_name: Option<String>,
    /// User tags.
    #[serde(default, deserialize_with = "tags")]
    pub tags: Vec<String>,
    /// System tags.
    #[serde(default, deserialize_with = "tags")]
    pub system_tags: Vec<String>,
}

/// `POST …/steps/{step}/task`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct NewTask {
    /// The task's name (`square-3`); absent: the service assigns a number.
    #[serde(default)]
    pub task_id: Option<Id>,
    /// Who registered it.
    #[serde(default)]
    pub user_name: Option<String>,
    /// User tags.
    #[serde(default, deserialize_with = "tags")]
    pub tags: Vec<String>,
    /// System tags.
    #[serde(default, deserialize_with = "tags")]
    pub system_tags: Vec<String>,
}

/// One element of `POST …/tasks/{task}/artifact`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct NewArtifact {
    /// Artifact name.
    pub name: String,
    /// The attempt that produced it.
    #[serde(default)]
    pub attempt_id: u32,
    /// Location (`:root:<datastore root>`).
    #[serde(default)]
    pub location: String,
    /// Datastore type.
    #[serde(default)]
    pub ds_type: String,
    /// sha1 of the pickle.
    #[serde(default)]
    pub sha: String,
    /// `metaflow.artifact`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// `gzip+pickle-v4`.
    #[serde(default)]
    pub content_type: String,
    /// Who produced it.
    #[serde(default)]
    pub user_name: Option<String>,
}

/// One element of `POST …/tasks/{task}/metadata`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct NewMetadatum {
    /// Field name.
    pub field_name: String,
    /// Value: text as Metaflow sends almost always, but any JSON is kept as sent
    /// (`foreach-stack` is a list of strings).
    pub value: Value,
    /// Type (Metaflow repeats the field name).
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Who recorded it.
    #[serde(default)]
    pub user_name: Option<String>,
    /// Its tags (`attempt_id:<n>`).
    #[serde(default, deserialize_with = "tags")]
    pub tags: Vec<String>,
    /// Its system tags.
    #[serde(default, deserialize_with = "tags")]
    pub system_tags: Vec<String>,
}

/// `PATCH /flows/{flow}/runs/{run}/tag/mutate`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TagMutation {
    /// User tags to add (system tags are never added as user tags).
    #[serde(default, deserialize_with = "tags")]
    pub tags_to_add: Vec<String>,
    /// User tags to remove (removals apply before additions).
    #[serde(default, deserialize_with = "tags")]
    pub tags_to_remove: Vec<String>,
}

/// `null` or a list of strings.
fn tags<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Parses a JSON object body; an empty body is `{}`.
pub fn object<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<T, ApiError> {
    let value = parse(body, what)?;
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "{what}: expected a JSON object, found {}",
            kind_of(&value)
        )));
    }
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

/// Parses a JSON list body, every element an object of `T`; the first bad element is a
/// 400 naming its index, and nothing is written.
pub fn list<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<Vec<T>, ApiError> {
    let value = parse(body, what)?;
    let Value::Array(items) = value else {
        return Err(ApiError::bad_request(format!(
            "{what}: expected a JSON list, found {}",
            kind_of(&value)
        )));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            if !item.is_object() {
                return Err(ApiError::bad_request(format!(
                    "{what}[{i}]: expected an object, found {}",
                    kind_of(&item)
                )));
            }
            serde_json::from_value(item)
                .map_err(|e| ApiError::bad_request(format!("{what}[{i}]: {e}")))
        })
        .collect()
}

fn parse(body: &[u8], what: &str) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("{what}: the body is not JSON ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metaflows_bodies_parse() {
        let run: NewRun = object(
            br#"{"run_number": "sfn-x", "flow_id": "F", "user_name": "alice", "tags": [],
                 "system_tags": ["runtime:dev"], "ts_epoch": 1}"#,
            "run",
        )
        .unwrap();
        assert_eq!(run.run_number, Some(Id::Name("sfn-x".into())));
        assert_eq!(run.system_tags, ["runtime:dev"]);
        let run: NewRun = object(b"", "run").unwrap();
        assert_eq!(run, NewRun::default());
        let data: Vec<NewMetadatum> = list(
            br#"[{"field_name": "attempt", "value": "0", "type": "attempt", "tags": ["attempt_id:0"]},
                 {"field_name": "n", "value": 3}]"#,
            "metadata",
        )
        .unwrap();
        assert_eq!(data[1].value, serde_json::json!(3));
    }

    #[test]
    fn wrong_shapes_are_400_naming_the_field() {
        let e = object::<NewRun>(b"[1]", "run").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("expected a JSON object"), "{e}");
        let e = object::<NewRun>(br#"{"tags": "x"}"#, "run").unwrap_err();
        assert!(e.message.contains("run:"), "{e}");
        let e = object::<NewRun>(b"{", "run").unwrap_err();
        assert!(e.message.contains("not JSON"), "{e}");
        let e =
            list::<NewArtifact>(br#"[{"name": "a"}, {"attempt_id": 0}]"#, "artifacts").unwrap_err();
        assert!(e.message.starts_with("artifacts[1]"), "{e}");
        let e = list::<NewArtifact>(br#"{"name": "a"}"#, "artifacts").unwrap_err();
        assert!(e.message.contains("expected a JSON list"), "{e}");
        let e = list::<NewMetadatum>(br#"[{"field_name": "a"}]"#, "metadata").unwrap_err();
        assert!(e.message.contains("missing field `value`"), "{e}");
        let e =
            list::<NewArtifact>(br#"[{"name": "a", "attempt_id": -1}]"#, "artifacts").unwrap_err();
        assert_eq!(e.status, 400);
    }
}
