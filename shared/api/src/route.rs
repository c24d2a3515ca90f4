//! The API's routes: a method and a path (stage already removed) to a [`Route`].
//!
//! Routing is done here, not by API Gateway route keys, so that one `ANY /{proxy+}`
//! integration, a plain HTTP listener on the local stack and the tests all route alike.

use lambda_http::http::Method;
use percent_encoding::percent_decode_str;

/// What a request asks for. `flow` is a state machine name or a flow class name; `run` a
/// run id (`sfn-<execution name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /flows`.
    ListFlows,
    /// `GET /flows/{flow}`.
    GetFlow { flow: String },
    /// `POST /flows/{flow}/runs`.
    StartRun { flow: String },
    /// `GET /flows/{flow}/runs`.
    ListRuns { flow: String },
    /// `GET /flows/{flow}/runs/{run}`.
    GetRun { flow: String, run: String },
    /// `DELETE /flows/{flow}/runs/{run}`.
    StopRun { flow: String, run: String },
    /// `GET /flows/{flow}/runs/{run}/logs`.
    GetLogs { flow: String, run: String },
    /// `POST /events`.
    PublishEvent,
    /// `GET /flows/{flow}/events/rejected`.
    ListRejections { flow: String },
    /// `POST /flows/{flow}/runs/{run}/resume`.
    ResumeRun { flow: String, run: String },
}

/// Every route, as API Gateway must forward it: method and path, `{name}` for a path
/// parameter. The template declares exactly these (`tests/tests/template.rs`), each one
/// behind IAM; a route missing there would be unreachable on AWS.
pub const ROUTES: [(&str, &str); 10] = [
    ("POST", "/events"),
    ("GET", "/flows/{flow}/events/rejected"),
    ("POST", "/flows/{flow}/runs"),
    ("GET", "/flows"),
    ("GET", "/flows/{flow}"),
    ("GET", "/flows/{flow}/runs"),
    ("GET", "/flows/{flow}/runs/{run_id}"),
    ("DELETE", "/flows/{flow}/runs/{run_id}"),
    ("GET", "/flows/{flow}/runs/{run_id}/logs"),
    ("POST", "/flows/{flow}/runs/{run_id}/resume"),
];

/// Why a request has no route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    /// No such path.
    NotFound,
    /// The path exists; these methods are allowed on it (the `Allow` header).
    MethodNotAllowed(&'static str),
}

/// The route for `method` on `path`.
pub fn route(method: &Method, path: &str) -> Result<Route, NoRoute> {
    let segments: Option<Vec<String>> = path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned())
        })
        .collect();
    let segments = segments.ok_or(NoRoute::NotFound)?;
    if segments.iter().any(String::is_empty) {
        return Err(NoRoute::NotFound);
    }
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (parts.as_slice(), method) {
        (["flows"], &Method::GET) => Ok(Route::ListFlows),
        (["flows"], _) => Err(NoRoute::MethodNotAllowed("GET")),
        (["flows", flow], &Method::GET) => Ok(Route::GetFlow {
            flow: flow.to_string(),
        }),
        (["flows", _], _) => Err(NoRoute::MethodNotAllowed("GET")),
        (["flows", flow, "runs"], &Method::POST) => Ok(Route::StartRun {
            flow: flow.to_string(),
        }),
        (["flows", flow, "runs"], &Method::GET) => Ok(Route::ListRuns {
            flow: flow.to_string(),
        }),
        (["flows", _, "runs"], _) => Err(NoRoute::MethodNotAllowed("GET, POST")),
        (["flows", flow, "runs", run], &Method::GET) => Ok(Route::GetRun {
            flow: flow.to_string(),
            run: run.to_string(),
        }),
        (["flows", flow, "runs", run], &Method::DELETE) => Ok(Route::StopRun {
            flow: flow.to_string(),
            run: run.to_string(),
        }),
        (["flows", _, "runs", _], _) => Err(NoRoute::MethodNotAllowed("GET, DELETE")),
        (["flows", flow, "runs", run, "logs"], &Method::GET) => Ok(Route::GetLogs {
            flow: flow.to_string(),
            run: run.to_string(),
        }),
        (["flows", _, "runs", _, "logs"], _) => Err(NoRoute::MethodNotAllowed("GET")),
        (["events"], &Method::POST) => Ok(Route::PublishEvent),
        (["events"], _) => Err(NoRoute::MethodNotAllowed("POST")),
        (["flows", flow, "events", "rejected"], &Method::GET) => Ok(Route::ListRejections {
            flow: flow.to_string(),
        }),
        (["flows", _, "events", "rejected"], _) => Err(NoRoute::MethodNotAllowed("GET")),
        (["flows", flow, "runs", run, "resume"], &Method::POST) => Ok(Route::ResumeRun {
            flow: flow.to_string(),
            run: run.to_string(),
        }),
        (["flows", _, "runs", _, "resume"], _) => Err(NoRoute::MethodNotAllowed("POST")),
        _ => Err(NoRoute::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_route_is_routed_and_every_route_is_listed() {
        let mut kinds = std::collections::HashSet::new();
        for (method, path) in ROUTES {
            let path = path.replace("{flow}", "F").replace("{run_id}", "sfn-1");
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let routed = route(&method, &path).unwrap_or_else(|e| panic!("{path}: {e:?}"));
            kinds.insert(std::mem::discriminant(&routed));
        }
        // One listed route per variant of `Route`.
        assert_eq!(kinds.len(), ROUTES.len());
        let every_variant = [
            Route::ListFlows,
            Route::GetFlow { flow: flow("F") },
            Route::StartRun { flow: flow("F") },
            Route::ListRuns { flow: flow("F") },
            Route::GetRun {
                flow: flow("F"),
                run: flow("r"),
            },
            Route::StopRun {
                flow: flow("F"),
                run: flow("r"),
            },
            Route::GetLogs {
                flow: flow("F"),
                run: flow("r"),
            },
            Route::PublishEvent,
            Route::ListRejections { flow: flow("F") },
            Route::ResumeRun {
                flow: flow("F"),
                run: flow("r"),
            },
        ];
        let all: std::collections::HashSet<_> =
            every_variant.iter().map(std::mem::discriminant).collect();
        assert_eq!(all, kinds);
    }

    fn flow(name: &str) -> String {
        name.to_string()
    }

    #[test]
    fn routes() {
        assert_eq!(route(&Method::GET, "/flows"), Ok(Route::ListFlows));
        assert_eq!(route(&Method::GET, "/flows/"), Ok(Route::ListFlows));
        assert_eq!(
            route(&Method::GET, "/flows/demo_project.prod.Flow"),
            Ok(Route::GetFlow {
                flow: flow("demo_project.prod.Flow")
            })
        );
        assert_eq!(
            route(&Method::POST, "/flows/ParameterFlow/runs"),
            Ok(Route::StartRun {
                flow: flow("ParameterFlow")
            })
        );
        assert_eq!(
            route(&Method::GET, "/flows/ParameterFlow/runs"),
            Ok(Route::ListRuns {
                flow: flow("ParameterFlow")
            })
        );
        assert_eq!(
            route(&Method::GET, "/flows/F/runs/sfn-1"),
            Ok(Route::GetRun {
                flow: flow("F"),
                run: "sfn-1".into()
            })
        );
        assert_eq!(
            route(&Method::DELETE, "/flows/F/runs/sfn-1"),
            Ok(Route::StopRun {
                flow: flow("F"),
                run: "sfn-1".into()
            })
        );
        assert_eq!(
            route(&Method::GET, "/flows/F/runs/sfn-1/logs"),
            Ok(Route::GetLogs {
                flow: flow("F"),
                run: "sfn-1".into()
            })
        );
        assert_eq!(
            route(&Method::POST, "/flows/F/runs/sfn-1/logs"),
            Err(NoRoute::MethodNotAllowed("GET"))
        );
        assert_eq!(
            route(&Method::POST, "/flows/F/runs/sfn-1/resume"),
            Ok(Route::ResumeRun {
                flow: flow("F"),
                run: "sfn-1".into()
            })
        );
        assert_eq!(
            route(&Method::GET, "/flows/F/runs/sfn-1/resume"),
            Err(NoRoute::MethodNotAllowed("POST"))
        );
        // Percent-encoded segments are decoded.
        assert_eq!(
            route(&Method::GET, "/flows/a%2Eb"),
            Ok(Route::GetFlow { flow: flow("a.b") })
        );
    }

    #[test]
    fn event_routes() {
        assert_eq!(route(&Method::POST, "/events"), Ok(Route::PublishEvent));
        assert_eq!(
            route(&Method::GET, "/events"),
            Err(NoRoute::MethodNotAllowed("POST"))
        );
        assert_eq!(
            route(&Method::GET, "/flows/F/events/rejected"),
            Ok(Route::ListRejections { flow: flow("F") })
        );
        assert_eq!(
            route(&Method::POST, "/flows/F/events/rejected"),
            Err(NoRoute::MethodNotAllowed("GET"))
        );
        assert_eq!(
            route(&Method::GET, "/flows/F/events"),
            Err(NoRoute::NotFound)
        );
    }

    #[test]
    fn wrong_methods_and_unknown_paths() {
        assert_eq!(
            route(&Method::POST, "/flows"),
            Err(NoRoute::MethodNotAllowed("GET"))
        );
        assert_eq!(
            route(&Method::PUT, "/flows/F/runs"),
            Err(NoRoute::MethodNotAllowed("GET, POST"))
        );
        assert_eq!(
            route(&Method::POST, "/flows/F/runs/r"),
            Err(NoRoute::MethodNotAllowed("GET, DELETE"))
        );
        for path in [
            "/",
            "/flow",
            "/flows/F/other",
            "/flows//runs",
            "/flows/F/runs/r/x",
            "/flows/F/runs/r/logs/x",
            "/flows/%FF",
        ] {
            assert_eq!(route(&Method::GET, path), Err(NoRoute::NotFound), "{path}");
        }
    }
}
