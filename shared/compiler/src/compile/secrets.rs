//! Metaflow's `@secrets` on dropflow's stack.
//!
//! The task itself reads its secrets (Metaflow's `SecretsDecorator.task_pre_step` calls
//! AWS Secrets Manager through boto3, as the job role) and sets them as environment
//! variables, so a step with `@secrets` only needs its job to know the backend and the
//! region, as Metaflow's Batch jobs do (`METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE`,
//! `METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION`). What cannot work on the stack is
//! refused at deploy time with the decorator's `file:line`, instead of failing the task:
//!
//! - a source for another backend (`type` other than `aws-secrets-manager`): the job role
//!   has credentials for AWS only;
//! - a secret outside the stack's `JobSecretsPrefix` (a name, or an ARN of this
//!   partition whose name is not under it, or of another account or region): the job role
//!   may read only `secret:<prefix>*`, so the task would fail with AccessDenied;
//! - a `role` (on the decorator or a source): the job role may not assume roles;
//! - anything that is not a literal (dropflow does not run the flow's Python to find
//!   out).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::error::CompileError;
use crate::python::{Decorator, FlowClass, StepDef};
use dropflow_contract::options::Platform;

/// The only backend the stack's job role can read.
pub const BACKEND: &str = "aws-secrets-manager";

/// The environment a step's job needs for its `@secrets` (empty without the decorator),
/// after checking every source against `platform`.
pub(super) fn secrets_environment(
    flow: &FlowClass,
    step: &StepDef,
    platform: &Platform,
) -> Result<BTreeMap<String, String>, CompileError> {
    let Some(decorator) = step.decorator("secrets") else {
        return Ok(BTreeMap::new());
    };
    let fail = |argument: &str, problem: String| CompileError::BadDecoratorArgument {
        file: flow.file.clone(),
        line: decorator.line,
        decorator: "secrets".into(),
        argument: argument.into(),
        problem,
    };
    if let Some(role) = literal(decorator, "role").map_err(|p| fail("role", p))?
        && !role.is_null()
    {
        return Err(fail("role", no_roles()));
    }
    let sources = match literal(decorator, "sources").map_err(|p| fail("sources", p))? {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items,
        Some(other) => {
            return Err(fail(
                "sources",
                format!("is {other}; write a list of secret names or {{\"id\": ...}} dicts"),
            ));
        }
    };
    for source in &sources {
        let id = source_id(source).map_err(|p| fail("sources", p))?;
        check_id(&id, platform).map_err(|p| fail("sources", p))?;
    }
    let mut environment = BTreeMap::from([(
        "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE".to_string(),
        BACKEND.to_string(),
    )]);
    if let Some(region) = region_of(platform) {
        environment.insert(
            "METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION".into(),
            region.to_string(),
        );
    }
    Ok(environment)
}

/// A keyword argument's literal value; `Err` names what is not a literal.
fn literal(decorator: &Decorator, name: &str) -> Result<Option<Json>, String> {
    match decorator.kwarg(name) {
        None => Ok(None),
        Some(value) => value.as_literal().cloned().map(Some).ok_or_else(|| {
            format!(
                "is `{}`, which dropflow cannot evaluate without running Python; write a literal value",
                value.describe()
            )
        }),
    }
}

fn no_roles() -> String {
    "names a role to assume, but the stack's job role may not assume roles: drop `role` \
     and give the job role (or the step's @batch(iam_role=...)) access to the secret"
        .into()
}

/// The secret id of one source, as Metaflow parses it (`SecretSpec`): `"type.id"` or a
/// bare id, or a dict with `id` and optional `type`, `options`, `role`.
fn source_id(source: &Json) -> Result<String, String> {
    match source {
        Json::String(spec) => {
            // Metaflow splits at the first '.' when there is one.
            match spec.split_once('.') {
                Some((backend, id)) => {
                    check_backend(backend)?;
                    Ok(id.to_string())
                }
                _ => Ok(spec.clone()),
            }
        }
        Json::Object(spec) => {
            if let Some(backend) = spec.get("type") {
                let backend = backend
                    .as_str()
                    .ok_or_else(|| format!("has a source whose type is {backend}, not a string"))?;
                check_backend(backend)?;
            }
            if spec.get("role").is_some_and(|r| !r.is_null()) {
                return Err(no_roles());
            }
            spec.get("id")
                .and_then(Json::as_str)
                .map(String::from)
                .ok_or_else(|| format!("has a source without a string \"id\": {source}"))
        }
        other => Err(format!(
            "has a source {other}; each must be a string or a dict (Metaflow's rule)"
        )),
    }
}

fn check_backend(backend: &str) -> Result<(), String> {
    if backend == BACKEND {
        Ok(())
    } else {
        Err(format!(
            "asks for secrets backend {backend:?}; dropflow's jobs can read only \
             {BACKEND:?} (AWS Secrets Manager, as the job role). A secret name containing \
             '.' needs the prefix: \"{BACKEND}.<name>\""
        ))
    }
}

/// The secret must be one the job role may read: under the configured prefix, in this
/// stack's account and region when given as an ARN.
fn check_id(id: &str, platform: &Platform) -> Result<(), String> {
    let Some(prefix) = &platform.job_secrets_prefix else {
        return Ok(());
    };
    let name = match id.strip_prefix("arn:") {
        Some(_) => {
            let parts: Vec<&str> = id.splitn(7, ':').collect();
            let (Some(region), Some(account), Some(name)) = (
                parts.get(3),
                parts.get(4),
                parts.get(6).filter(|_| parts.get(5) == Some(&"secret")),
            ) else {
                return Err(format!("names {id:?}, which is not a secret ARN"));
            };
            let (own_region, own_account) = (region_of(platform), account_of(platform));
            if own_region.is_some_and(|r| r != *region)
                || own_account.is_some_and(|a| a != *account)
            {
                return Err(format!(
                    "names {id:?}, in another account or region than the stack \
                     ({}:{}): the job role reads only this stack's secrets",
                    own_account.unwrap_or("?"),
                    own_region.unwrap_or("?")
                ));
            }
            // The ARN ends in the name plus Secrets Manager's '-XXXXXX' suffix.
            *name
        }
        None => id,
    };
    if prefix.is_empty() {
        return Err(format!(
            "names secret {name:?}, but this stack gives tasks no secrets (JobSecretsPrefix \
             is empty): set the stack's JobSecretsPrefix parameter"
        ));
    }
    if !name.starts_with(prefix.as_str()) {
        return Err(format!(
            "names secret {name:?}, outside the stack's JobSecretsPrefix {prefix:?}: the job \
             role may read only secrets whose names start with it; store the secret as \
             \"{prefix}...\" or change the stack's JobSecretsPrefix"
        ));
    }
    Ok(())
}

/// The stack's region, from the step Lambda's ARN.
fn region_of(platform: &Platform) -> Option<&str> {
    platform
        .step_function_arn
        .split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
}

/// The stack's account, from the step Lambda's ARN.
fn account_of(platform: &Platform) -> Option<&str> {
    platform
        .step_function_arn
        .split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
}
