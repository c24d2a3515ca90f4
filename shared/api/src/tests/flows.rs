//! The flow routes, the answers for unknown paths and methods, and failed AWS calls.

use super::*;

#[tokio::test]
async fn deployed_flows_are_listed_and_described() {
    let (deps, state) = deployed();
    let (status, answer) = call(&deps, "GET", "/flows", None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["flows"][0]["name"], "ParameterFlow");
    assert_eq!(answer["flows"][0]["version"], state.version);
    assert_eq!(answer["flows"].as_array().unwrap().len(), 1);

    let (status, answer) = call(&deps, "GET", "/flows/ParameterFlow", None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["version"], state.version);
    assert_eq!(answer["version_arn"], state.version_arn);
    assert_eq!(answer["parameters"][0]["name"], "alpha");
    assert_eq!(answer["parameters"][0]["required"], false);
    assert_eq!(answer["versions"][0]["live"], true);
}

#[tokio::test]
async fn unknown_paths_flows_and_methods_are_answered() {
    let (deps, _) = deployed();
    let (status, answer) = call(&deps, "GET", "/nowhere", None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("not_found")),
        "{answer}"
    );
    assert!(answer["request_id"].is_string(), "{answer}");

    let (status, answer) = call(&deps, "GET", "/flows/NoSuchFlow", None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("flow_not_found")),
        "{answer}"
    );
    let (status, answer) = call(&deps, "POST", "/flows/NoSuchFlow/runs", Some("{}")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("flow_not_found")),
        "{answer}"
    );

    let answer = send(&deps, "PUT", "/flows/ParameterFlow/runs", Some("{}"), &[]).await;
    assert_eq!(answer.status, 405, "{}", answer.body);
    assert_eq!(answer.body["error"], "method_not_allowed");
    let allow = answer.headers["allow"].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
}

#[tokio::test]
async fn a_failed_aws_call_is_a_500_that_does_not_leak_its_text() {
    let (deps, _) = deployed();
    deps.objects.fail(Some("s3:list"));
    let (status, answer) = call(&deps, "GET", "/flows", None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (500, Some("internal")),
        "{answer}"
    );
    assert!(!answer.to_string().contains("InjectedFailure"), "{answer}");
    deps.objects.fail(None);

    deps.executions.fail(Some("sfn:start"));
    let (status, answer) = call(&deps, "POST", "/flows/ParameterFlow/runs", Some("{}")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (500, Some("internal")),
        "{answer}"
    );
}
