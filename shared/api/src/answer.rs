//! A route's answer: a status and a JSON body, serialised from one of the contract's
//! answer types ([`dropflow_contract::api`]) or another typed answer (event deliveries,
//! log pages).

use lambda_http::http::StatusCode;
use serde::Serialize;

use crate::error::ApiError;

/// A route's answer: a status and its body, or an error.
pub type Answer = Result<(StatusCode, JsonBody), ApiError>;

/// A JSON answer body, serialised as it is sent: pretty, with a final newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBody(String);

impl JsonBody {
    /// `value`'s JSON.
    pub fn of(value: &impl Serialize) -> Self {
        let mut text = serde_json::to_string_pretty(value).expect("answers serialise");
        text.push('\n');
        Self(text)
    }

    /// The text to send.
    pub fn into_text(self) -> String {
        self.0
    }
}

/// `status` with `body`'s JSON.
pub fn answer(status: StatusCode, body: &impl Serialize) -> (StatusCode, JsonBody) {
    (status, JsonBody::of(body))
}
