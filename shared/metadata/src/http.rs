//! A request and a response as plain data, so one handler serves API Gateway (through
//! the Lambda adapter), a local HTTP listener and unit tests alike.

use serde_json::Value;

use super::error::ApiError;

/// The header every answer carries; Metaflow's client reads the service version from it
/// (`GET /ping`) to decide which features it may use.
pub const VERSION_HEADER: &str = "METADATA_SERVICE_VERSION";

/// The header carrying the API key (`METAFLOW_SERVICE_AUTH_KEY` on the client side).
pub const API_KEY_HEADER: &str = "x-api-key";

/// An HTTP request, taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, `PATCH`, …
    pub method: String,
    /// The path as sent (still percent-encoded), without the query.
    pub path: String,
    /// The query string without `?` (percent-encoded).
    pub query: String,
    /// Headers (names in any case).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A request for `method` on `path` (which may carry `?query`).
    pub fn new(method: &str, path: &str) -> Self {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        Self {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            ..Self::default()
        }
    }

    /// The same request with a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The same request with a body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The same request with a JSON body.
    pub fn json(self, body: &Value) -> Self {
        self.body(body.to_string())
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The decoded value of query parameter `name` (`+` is a space).
    pub fn query_value(&self, name: &str) -> Result<Option<String>, ApiError> {
        for pair in self.query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if decode(k, true)? == name {
                return decode(v, true).map(Some);
            }
        }
        Ok(None)
    }
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `application/json` or `text/plain`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// The methods a 405 allows.
    pub allow: Option<&'static str>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
            allow: None,
        }
    }

    /// A text response.
    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
            allow: None,
        }
    }

    /// The error's JSON answer.
    pub fn error(error: &ApiError) -> Self {
        Self {
            allow: error.allow,
            ..Self::json(error.status, &error.body())
        }
    }

    /// Every header to send: content type, the service version, and `Allow` on a 405.
    pub fn headers(&self, version: &str) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Content-Type", self.content_type.to_string()),
            (VERSION_HEADER, version.to_string()),
        ];
        if let Some(allow) = self.allow {
            headers.push(("Allow", allow.to_string()));
        }
        headers
    }

    /// The body parsed as JSON (tests and adapters).
    pub fn json_body(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Percent-decodes `s` (and `+` as a space when `plus_is_space`); the result must be UTF-8.
pub fn decode(s: &str, plus_is_space: bool) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("bad percent-encoding in {s:?}"))
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request(format!("{s:?} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_and_plus() {
        assert_eq!(decode("a%20b+c", false).unwrap(), "a b+c");
        assert_eq!(decode("a%20b+c", true).unwrap(), "a b c");
        assert_eq!(decode("caf%C3%A9", false).unwrap(), "café");
        assert_eq!(decode("%2", false).unwrap_err().status, 400);
        assert_eq!(decode("%zz", false).unwrap_err().status, 400);
        assert_eq!(decode("%ff", false).unwrap_err().status, 400);
    }

    #[test]
    fn query_values_and_headers() {
        let r = Request::new(
            "GET",
            "/x?pattern=a%2Bb&metadata_field_name=attempt+ok&flag",
        )
        .header("X-Api-Key", "k");
        assert_eq!(r.path, "/x");
        assert_eq!(r.query_value("pattern").unwrap().as_deref(), Some("a+b"));
        assert_eq!(
            r.query_value("metadata_field_name").unwrap().as_deref(),
            Some("attempt ok")
        );
        assert_eq!(r.query_value("flag").unwrap().as_deref(), Some(""));
        assert_eq!(r.query_value("other").unwrap(), None);
        assert_eq!(r.header_value("x-api-key"), Some("k"));
    }
}
