//! Payload templates: JSON objects whose keys ending in `.$` take their value from a
//! JSONPath (or an intrinsic function) at run time.

use dropflow_contract::payload::{Field, Payload};
use serde_json::{Map, Value};

/// Builds a payload template field by field, so a path is never mistaken for a literal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Template {
    fields: Map<String, Value>,
}

impl Template {
    /// An empty template.
    pub fn new() -> Self {
        Self::default()
    }

    /// A literal field: `"name": value`.
    pub fn value(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_string(), value.into());
        self
    }

    /// A field read at run time: `"name.$": path` (a JSONPath, `$$.` context path or
    /// intrinsic function call).
    pub fn path(mut self, name: &str, path: &str) -> Self {
        self.fields
            .insert(format!("{name}.$"), Value::String(path.to_string()));
        self
    }

    /// A nested template: `"name": {...}`.
    pub fn nested(mut self, name: &str, template: Template) -> Self {
        self.fields.insert(name.to_string(), template.into());
        self
    }
}

impl From<Payload> for Template {
    /// The contract's payload template, field by field.
    fn from(payload: Payload) -> Self {
        payload
            .fields()
            .iter()
            .fold(Self::new(), |template, (key, field)| match field {
                Field::Value(value) => template.value(key, value.clone()),
                Field::Path(path) => template.path(key, path),
            })
    }
}

impl From<Template> for Value {
    fn from(template: Template) -> Self {
        Value::Object(template.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_payloads_keep_their_fields_and_order() {
        let value: Value = Template::from(Payload::finish("a")).into();
        assert_eq!(
            serde_json::to_string(&value).ok().as_deref(),
            Some(r#"{"phase":"finish","step":"a","task.$":"$.task","batch.$":"$.batch"}"#)
        );
    }

    #[test]
    fn paths_get_the_dollar_suffix_and_literals_do_not() {
        let value: Value = Template::new()
            .value("kind", "fixed")
            .path("data", "$")
            .nested("inner", Template::new().path("n", "$$.Execution.Name"))
            .into();
        assert_eq!(
            value,
            serde_json::json!({"kind": "fixed", "data.$": "$", "inner": {"n.$": "$$.Execution.Name"}})
        );
    }
}
