//! `infra/template.yaml` as the tests need it: decoded by the pinned cfn-lint's parser
//! (intrinsic functions become `Fn::*` / `Ref` objects), and the IAM parts resolved with
//! the test's own values for parameters, pseudo parameters and the resources the policies
//! name, as CloudFormation would resolve them on deployment.
//!
//! The resolver knows the intrinsic functions the template uses (`Ref`, `Fn::GetAtt`,
//! `Fn::Sub` in both forms, `Fn::If`, `Fn::Join`, `Fn::Split`, `Fn::Select`,
//! `Fn::Equals`, `Fn::Not`, `AWS::NoValue`) and panics, naming what it met, on anything
//! else, so a template change that it cannot follow fails loudly instead of granting
//! something else than AWS would.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{Map, Value};

use crate::repo_root;

/// `infra/template.yaml` decoded by cfn-lint (the venv's), as JSON.
///
/// # Panics
/// When the venv's cfn-lint cannot decode it.
pub fn decoded_template() -> Value {
    let python = crate::python();
    let out = Command::new(&python)
        .args([
            "-c",
            "import json, sys\n\
             from cfnlint.decode import decode\n\
             template, problems = decode(sys.argv[1])\n\
             assert not problems, problems\n\
             print(json.dumps(template))",
        ])
        .arg(repo_root().join("infra/template.yaml"))
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", python.display()));
    assert!(
        out.status.success(),
        "decoding infra/template.yaml failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cfn-lint printed JSON")
}

/// What `Ref` and `Fn::GetAtt` stand for: parameter values, pseudo parameters
/// (`AWS::StackName`, ...) and resources (`Ref` as `"Name"`, attributes as
/// `"Name.Arn"`).
#[derive(Debug, Clone, Default)]
pub struct Values {
    values: BTreeMap<String, Value>,
}

impl Values {
    /// Sets `name` (a parameter, pseudo parameter, resource or `Resource.Attribute`).
    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        self.values.insert(name.to_string(), value.into());
        self
    }

    fn get(&self, name: &str) -> Value {
        self.values
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("the test gives no value for {name:?}"))
    }
}

/// Resolves intrinsic functions in `template`'s values.
pub struct Resolver<'t> {
    template: &'t Value,
    values: &'t Values,
}

/// The marker `AWS::NoValue` resolves to: removed from lists and objects.
const NO_VALUE: &str = "\u{0}AWS::NoValue";

impl<'t> Resolver<'t> {
    /// A resolver of `template` (decoded) with `values`.
    pub fn new(template: &'t Value, values: &'t Values) -> Self {
        Self { template, values }
    }

    /// `value` with every intrinsic function resolved.
    pub fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.resolve(item))
                    .filter(|item| item != NO_VALUE)
                    .collect(),
            ),
            Value::Object(object) if object.len() == 1 => {
                let (name, argument) = object.iter().next().expect("one entry");
                if name == "Ref" || name.starts_with("Fn::") {
                    self.function(name, argument)
                } else {
                    Value::Object(self.resolve_object(object))
                }
            }
            Value::Object(object) => Value::Object(self.resolve_object(object)),
            other => other.clone(),
        }
    }

    /// Condition `name` of the template's `Conditions`.
    pub fn condition(&self, name: &str) -> bool {
        let condition = &self.template["Conditions"][name];
        assert!(!condition.is_null(), "no condition {name}");
        self.resolve(condition)
            .as_bool()
            .unwrap_or_else(|| panic!("condition {name} is not a boolean"))
    }

    fn resolve_object(&self, object: &Map<String, Value>) -> Map<String, Value> {
        object
            .iter()
            .map(|(k, v)| (k.clone(), self.resolve(v)))
            .filter(|(_, v)| v != NO_VALUE)
            .collect()
    }

    fn function(&self, name: &str, argument: &Value) -> Value {
        let args = || -> Vec<Value> {
            argument
                .as_array()
                .unwrap_or_else(|| panic!("{name} takes a list: {argument}"))
                .clone()
        };
        match name {
            "Ref" => {
                let target = argument.as_str().expect("Ref names a string");
                if target == "AWS::NoValue" {
                    Value::String(NO_VALUE.into())
                } else {
                    self.values.get(target)
                }
            }
            "Fn::GetAtt" => {
                let path = match argument {
                    Value::Array(parts) => parts
                        .iter()
                        .map(|p| p.as_str().expect("GetAtt parts are strings"))
                        .collect::<Vec<_>>()
                        .join("."),
                    Value::String(path) => path.clone(),
                    other => panic!("Fn::GetAtt {other}"),
                };
                self.values.get(&path)
            }
            "Fn::Sub" => match argument {
                Value::String(text) => Value::String(self.substitute(text, &BTreeMap::new())),
                Value::Array(parts) => {
                    let text = parts[0].as_str().expect("Fn::Sub's text");
                    let vars = parts[1]
                        .as_object()
                        .expect("Fn::Sub's variables")
                        .iter()
                        .map(|(k, v)| (k.clone(), self.resolve(v)))
                        .collect();
                    Value::String(self.substitute(text, &vars))
                }
                other => panic!("Fn::Sub {other}"),
            },
            "Fn::If" => {
                let args = args();
                let branch = if self.condition(args[0].as_str().expect("condition name")) {
                    &args[1]
                } else {
                    &args[2]
                };
                self.resolve(branch)
            }
            "Fn::Join" => {
                let args = args();
                let separator = args[0].as_str().expect("Fn::Join's separator");
                let items = self.resolve(&args[1]);
                let parts: Vec<String> = items
                    .as_array()
                    .expect("Fn::Join joins a list")
                    .iter()
                    .map(text_of)
                    .collect();
                Value::String(parts.join(separator))
            }
            "Fn::Split" => {
                let args = args();
                let separator = args[0].as_str().expect("Fn::Split's separator");
                let whole = text_of(&self.resolve(&args[1]));
                Value::Array(
                    whole
                        .split(separator)
                        .map(|part| Value::String(part.into()))
                        .collect(),
                )
            }
            "Fn::Select" => {
                let args = args();
                let index = match &args[0] {
                    Value::Number(n) => n.as_u64().expect("an index"),
                    Value::String(s) => s.parse().expect("an index"),
                    other => panic!("Fn::Select index {other}"),
                } as usize;
                let list = self.resolve(&args[1]);
                list.as_array()
                    .and_then(|items| items.get(index).cloned())
                    .unwrap_or_else(|| panic!("Fn::Select {index} of {list}"))
            }
            "Fn::Equals" => {
                let args = args();
                Value::Bool(self.resolve(&args[0]) == self.resolve(&args[1]))
            }
            "Fn::Not" => {
                let args = args();
                Value::Bool(!self.resolve(&args[0]).as_bool().expect("Fn::Not of a bool"))
            }
            "Condition" => Value::Bool(self.condition(argument.as_str().expect("a name"))),
            other => panic!("the test's resolver does not know {other}: teach tests/src/cfn.rs"),
        }
    }

    /// `${Name}`, `${Name.Attribute}` and `${AWS::...}` in `text`; `${!Literal}` stays.
    fn substitute(&self, text: &str, vars: &BTreeMap<String, Value>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').expect("a closing brace in Fn::Sub");
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else {
                let value = vars
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| self.values.get(name));
                out.push_str(&text_of(&value));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// An IAM role of the template, resolved: its trust policy and its inline policies.
#[derive(Debug, Clone)]
pub struct Role {
    /// The template's logical id (`CompileRole`).
    pub logical_id: String,
    /// `AssumeRolePolicyDocument`.
    pub trust_policy: Value,
    /// `Policies`: name and document.
    pub policies: Vec<(String, Value)>,
}

/// Every `AWS::IAM::Role` of `template`, resolved.
pub fn roles(template: &Value, values: &Values) -> Vec<Role> {
    let resolver = Resolver::new(template, values);
    resources_of_type(template, "AWS::IAM::Role")
        .into_iter()
        .map(|(logical_id, properties)| Role {
            logical_id,
            trust_policy: resolver.resolve(&properties["AssumeRolePolicyDocument"]),
            policies: properties["Policies"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(|p| {
                            (
                                p["PolicyName"].as_str().expect("a policy name").to_string(),
                                resolver.resolve(&p["PolicyDocument"]),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// The document of the `AWS::IAM::ManagedPolicy` `logical_id`, resolved.
pub fn managed_policy(template: &Value, values: &Values, logical_id: &str) -> Value {
    let resource = &template["Resources"][logical_id];
    assert_eq!(
        resource["Type"], "AWS::IAM::ManagedPolicy",
        "{logical_id} is not a managed policy"
    );
    Resolver::new(template, values).resolve(&resource["Properties"]["PolicyDocument"])
}

fn resources_of_type(template: &Value, kind: &str) -> Vec<(String, Value)> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.clone(), r["Properties"].clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values() -> Values {
        let mut values = Values::default();
        values
            .set("AWS::StackName", "st")
            .set("AWS::Region", "us-east-1")
            .set("AWS::AccountId", "123456789012")
            .set("AWS::Partition", "aws")
            .set("Root", "")
            .set("Role.Arn", "arn:aws:iam::123456789012:role/r");
        values
    }

    #[test]
    fn resolves_the_functions_the_template_uses() {
        let template = json!({"Conditions": {
            "HasRoot": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Root"}, ""]}]}
        }});
        let values = values();
        let resolver = Resolver::new(&template, &values);
        let policy = json!({
            "Resource": [
                {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::StackName}-${AWS::AccountId}/*"},
                {"Fn::If": ["HasRoot", "yes", {"Ref": "AWS::NoValue"}]},
                {"Fn::GetAtt": ["Role", "Arn"]},
                {"Fn::Sub": ["${Bucket}/x ${!Literal}", {"Bucket": {"Fn::Select": [0,
                    {"Fn::Split": ["/", "b/prefix"]}]}}]},
                {"Fn::Join": [",", ["a", "b"]]}
            ]
        });
        assert_eq!(
            resolver.resolve(&policy),
            json!({"Resource": [
                "arn:aws:s3:::st-123456789012/*",
                "arn:aws:iam::123456789012:role/r",
                "b/x ${Literal}",
                "a,b"
            ]})
        );
        assert!(!resolver.condition("HasRoot"));
    }

    #[test]
    #[should_panic(expected = "the test gives no value for \"Unknown\"")]
    fn an_unknown_name_fails_loudly() {
        let template = json!({});
        let values = values();
        Resolver::new(&template, &values).resolve(&json!({"Ref": "Unknown"}));
    }
}
