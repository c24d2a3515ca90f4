//! The answers as the trigger API sends them (taken from its answers over the in-memory
//! ports) read and written back byte for byte: no field added, dropped, reordered or
//! turned from `null` to absent.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::*;

/// `text` read as `T` and written back as the API writes answers.
fn round_trip<T: Serialize + DeserializeOwned>(text: &str) -> String {
    let value: T = serde_json::from_str(text).unwrap();
    let mut written = serde_json::to_string_pretty(&value).unwrap();
    written.push('\n');
    written
}

const RUN_DETAIL: &str = r#"{
  "run_id": "sfn-k-1",
  "flow": "ParameterFlow",
  "state_machine": "ParameterFlow",
  "execution_arn": "arn:aws:states:us-east-1:000000000000:execution:ParameterFlow:k-1",
  "status": "RUNNING",
  "start_date": "2026-01-01T00:00:01Z",
  "stop_date": null,
  "version": "699e9dad2760bf13",
  "parameters": {
    "alpha": 0.5
  },
  "error": null,
  "cause": null,
  "steps": [
    {
      "step": "start",
      "tasks": 1,
      "attempts": 1,
      "status": {
        "succeeded": 1
      },
      "started_at": "2026-01-01T00:00:07Z",
      "finished_at": "2026-01-01T00:00:20Z"
    },
    {
      "step": "end",
      "tasks": 1,
      "attempts": 1,
      "status": {
        "failed": 1
      },
      "started_at": "2026-01-01T00:00:08Z",
      "finished_at": "2026-01-01T00:01:00Z",
      "failed": [
        {
          "task": "2",
          "attempt": 0,
          "error": "boom",
          "log": "/flows/ParameterFlow/runs/sfn-k-1/logs?step=end&task=2&attempt=0&stream=stderr"
        }
      ]
    }
  ],
  "steps_partial": false,
  "triggered_by": null
}
"#;

const EVENT_RUN_DETAIL: &str = r#"{
  "run_id": "sfn-ev-1",
  "flow": "ParameterFlow",
  "state_machine": "Other",
  "execution_arn": "arn:aws:states:us-east-1:000000000000:execution:Other:ev-1",
  "status": "RUNNING",
  "start_date": "2026-01-01T00:00:08Z",
  "stop_date": null,
  "version": "699e9dad2760bf13",
  "parameters": {
    "alpha": 0.5
  },
  "error": null,
  "cause": null,
  "steps": [],
  "steps_partial": false,
  "triggered_by": [
    {
      "id": "e-1",
      "name": "data_ready"
    }
  ]
}
"#;

const FLOW_LIST: &str = r#"{
  "flows": [
    {
      "name": "Other",
      "flow": "ParameterFlow",
      "version": "699e9dad2760bf13",
      "schedule": null,
      "source_key": "team/other.tar.gz",
      "last_report": {
        "status": null,
        "summary": null
      }
    },
    {
      "name": "ParameterFlow",
      "flow": "ParameterFlow",
      "version": "699e9dad2760bf13",
      "schedule": {
        "name": "s",
        "expression": "cron(0 * * * ? *)",
        "timezone": "Europe/Paris"
      },
      "source_key": "team/parameter_flow.tar.gz",
      "last_report": {
        "status": "deployed",
        "summary": "deployed it"
      }
    }
  ]
}
"#;

const FLOW_DETAIL: &str = r#"{
  "name": "ParameterFlow",
  "flow": "ParameterFlow",
  "file": "parameter_flow.py",
  "project": {
    "name": "demo",
    "branch": "prod"
  },
  "version": "699e9dad2760bf13",
  "version_arn": "arn:aws:states:us-east-1:000000000000:stateMachine:ParameterFlow:1",
  "alias_arn": "arn:aws:states:us-east-1:000000000000:stateMachine:ParameterFlow:live",
  "state_machine_arn": "arn:aws:states:us-east-1:000000000000:stateMachine:ParameterFlow",
  "source_key": "team/parameter_flow.tar.gz",
  "parameters": [
    {
      "name": "alpha",
      "type": "float",
      "default": 0.01,
      "required": false,
      "help": "Learning rate",
      "deploy_time": false,
      "include_file": false
    }
  ],
  "configs": {},
  "schedule": {
    "name": "s",
    "expression": "cron(0 * * * ? *)",
    "timezone": "Europe/Paris"
  },
  "versions": [
    {
      "version": "699e9dad2760bf13",
      "deployed_at": "2026-01-01T00:00:01Z",
      "live": true
    }
  ],
  "last_report": {
    "status": "deployed",
    "summary": "deployed it",
    "key": "flows/team/parameter_flow.tar.gz",
    "version": "699e9dad2760bf13",
    "errors": [],
    "warnings": [
      "careful"
    ]
  }
}
"#;

const RUN_RESUMED: &str = r#"{
  "run_id": "sfn-resume-k-1-r-1",
  "origin_run_id": "sfn-k-1",
  "from_step": "end",
  "rerun": [
    "end"
  ],
  "execution_arn": "arn:aws:states:us-east-1:000000000000:execution:ParameterFlow:resume-k-1-r-1",
  "flow": "ParameterFlow",
  "state_machine": "ParameterFlow",
  "version": "699e9dad2760bf13",
  "status": "RUNNING",
  "start_date": "2026-01-01T00:00:06Z",
  "parameters": {
    "alpha": 0.5
  }
}
"#;

const ERROR: &str = r#"{
  "error": "invalid_parameters",
  "message": "expected a number, got string \"x\"; unknown parameter \"beta\" (valid parameters: alpha)",
  "request_id": "req-1",
  "problems": [
    {
      "parameter": "alpha",
      "problem": "expected a number, got string \"x\""
    },
    {
      "parameter": "beta",
      "problem": "unknown parameter \"beta\""
    }
  ],
  "valid_parameters": [
    "alpha"
  ]
}
"#;

#[test]
fn answers_are_written_back_as_sent() {
    assert_eq!(round_trip::<RunDetail>(RUN_DETAIL), RUN_DETAIL);
    assert_eq!(round_trip::<RunDetail>(EVENT_RUN_DETAIL), EVENT_RUN_DETAIL);
    assert_eq!(round_trip::<FlowList>(FLOW_LIST), FLOW_LIST);
    assert_eq!(round_trip::<FlowDetail>(FLOW_DETAIL), FLOW_DETAIL);
    assert_eq!(round_trip::<RunResumed>(RUN_RESUMED), RUN_RESUMED);
    assert_eq!(round_trip::<ApiErrorBody>(ERROR), ERROR);
}

#[test]
fn error_details_follow_the_fixed_fields() {
    let body: ApiErrorBody = serde_json::from_str(ERROR).unwrap();
    assert_eq!(body.error, "invalid_parameters");
    assert_eq!(body.request_id, "req-1");
    let details: Vec<&str> = body.details.keys().map(String::as_str).collect();
    assert_eq!(details, ["problems", "valid_parameters"]);
}

#[test]
fn a_resumed_run_reads_as_a_started_one() {
    let resumed: RunResumed = serde_json::from_str(RUN_RESUMED).unwrap();
    let started = RunStarted::from(resumed.clone());
    assert_eq!(started.run_id, resumed.run_id);
    assert_eq!(started.parameters, resumed.parameters);
    // What a start answers is what a resume answers, less what it resumes.
    let mut expected = serde_json::to_value(&resumed).unwrap();
    for field in ["origin_run_id", "from_step", "rerun"] {
        expected.as_object_mut().unwrap().shift_remove(field);
    }
    assert_eq!(serde_json::to_value(&started).unwrap(), expected);
}
