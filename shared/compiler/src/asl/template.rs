//! Payload templates: JSON objects whose keys ending in `.$` take their value from a
//! JSONPath (or an intrinsic function) at run time.

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

impl From<Template> for Value {
    fn from(template: Template) -> Self {
        Value::Object(template.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_get_the_dollar_suffix_and_literals_do_not() {
        let value: Value = Template::new()
            .value("phase", "start")
            .path("input", "$")
            .nested("inner", Template::new().path("n", "$$.Execution.Name"))
            .into();
        assert_eq!(
            value,
            serde_json::json!({"phase": "start", "input.$": "$", "inner": {"n.$": "$$.Execution.Name"}})
        );
    }
}
