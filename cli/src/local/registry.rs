//! The functions the local Lambda Invoke API hosts: a name → async handler map, so adding
//! a function to the local stack is one `register` call.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

/// A handler's failure as Lambda reports it: Step Functions' `Retry`/`Catch` match
/// `error_type`, and the execution's error shows both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeError {
    /// Lambda's `errorType` (e.g. `dropflow.InvalidEvent`).
    pub error_type: String,
    /// Lambda's `errorMessage`.
    pub message: String,
}

impl InvokeError {
    /// An error of `error_type` saying `message`.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            message: message.into(),
        }
    }

    /// The Invoke API's error body: `{"errorType", "errorMessage"}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"errorType": self.error_type, "errorMessage": self.message})
    }
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for InvokeError {}

/// What a handler returns.
pub type HandlerResult = Result<Value, InvokeError>;
/// A handler's future.
pub type HandlerFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send + 'static>>;
/// A hosted function: the payload in, its JSON result or error out.
pub type Handler = Arc<dyn Fn(Value) -> HandlerFuture + Send + Sync + 'static>;

/// Functions by name (the name in `arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
#[derive(Clone, Default)]
pub struct Registry {
    handlers: BTreeMap<String, Handler>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.handlers.keys()).finish()
    }
}

impl Registry {
    /// No functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hosts `handler` as `name` (replacing any function of that name).
    pub fn register<F, Fut>(&mut self, name: impl Into<String>, handler: F) -> &mut Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |payload| Box::pin(handler(payload)));
        self.handlers.insert(name.into(), handler);
        self
    }

    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<Handler> {
        self.handlers.get(name).cloned()
    }

    /// Every function's name, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.handlers.keys().map(String::as_str).collect()
    }

    /// Adds every function of `other` (its functions win on equal names).
    pub fn extend(&mut self, other: Registry) {
        self.handlers.extend(other.handlers);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn registered_functions_are_found_by_name() {
        let mut registry = Registry::new();
        registry
            .register("echo", |payload| async move { Ok(payload) })
            .register("fail", |_| async {
                Err(InvokeError::new("dropflow.Boom", "it broke"))
            });
        assert_eq!(registry.names(), ["echo", "fail"]);
        let echo = registry.get("echo").unwrap();
        assert_eq!(echo(json!({"a": 1})).await.unwrap(), json!({"a": 1}));
        let error = registry.get("fail").unwrap()(json!({})).await.unwrap_err();
        assert_eq!(
            error.to_json(),
            json!({"errorType": "dropflow.Boom", "errorMessage": "it broke"})
        );
        assert!(registry.get("missing").is_none());
    }
}
