//! The two pinned Amazon States Language validators, run on a definition.
//!
//! statelint (PyPI, AWS's rules) and asl-validator (npm, JSON schema plus path checks)
//! catch different mistakes — statelint insists on a float `BackoffRate`, for one — so a
//! definition dropflow emits must pass both.
//!
//! One gap of statelint is bridged: statelint 3.1.0 (the newest on PyPI) does not know
//! `ItemReader.ReaderConfig.InputType`, which Step Functions requires for a Distributed
//! Map reading a JSON item list with `s3:getObject` (and without which moto hands the
//! Map the file's text). statelint checks each definition without that one field;
//! asl-validator, which knows it, checks the definition whole.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{repo_root, resolve_tool};

/// Validates an ASL definition with both statelint and asl-validator.
///
/// Both tools always run; when either rejects, the error holds both tools' verdicts and
/// output.
///
/// # Panics
/// When a validator is not installed (see [`statelint_path`], [`asl_validator_path`]).
pub fn validate_asl(definition_json: &str) -> Result<(), String> {
    let file = definition_file(definition_json);
    let for_statelint = definition_file(&without_reader_input_type(definition_json));
    let verdicts = [
        run(&statelint_path(), &[], for_statelint.path()),
        run(&asl_validator_path(), &["--json-path"], file.path()),
    ];
    if verdicts.iter().all(|verdict| verdict.accepted) {
        return Ok(());
    }
    Err(verdicts
        .iter()
        .map(Verdict::report)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Validates many ASL definitions, each named by its label, with one run of each
/// validator for all of them (a validator's start-up is most of its cost). When either
/// rejects, each definition is validated alone and the error names the rejected ones
/// with both tools' verdicts, as [`validate_asl`] gives them.
///
/// # Panics
/// When a validator is not installed (see [`statelint_path`], [`asl_validator_path`]).
pub fn validate_asl_all(definitions: &[(String, String)]) -> Result<(), String> {
    let files: Vec<_> = definitions
        .iter()
        .map(|(_, json)| definition_file(json))
        .collect();
    let for_statelint: Vec<_> = definitions
        .iter()
        .map(|(_, json)| definition_file(&without_reader_input_type(json)))
        .collect();
    let paths = |files: &[tempfile::NamedTempFile]| -> Vec<PathBuf> {
        files.iter().map(|f| f.path().to_path_buf()).collect()
    };
    let statelint_ok = run_on(&statelint_path(), &[], &paths(&for_statelint)).accepted;
    let asl_validator_ok = run_on(&asl_validator_path(), &["--json-path"], &paths(&files)).accepted;
    if statelint_ok && asl_validator_ok {
        return Ok(());
    }
    let rejected: Vec<String> = definitions
        .iter()
        .filter_map(|(label, json)| {
            validate_asl(json)
                .err()
                .map(|report| format!("{label}:\n{report}"))
        })
        .collect();
    if rejected.is_empty() {
        return Err("the validators rejected the batch but accept each definition alone".into());
    }
    Err(rejected.join("\n\n"))
}

/// Panics with both validators' output unless `definition_json` passes both.
#[track_caller]
pub fn assert_valid_asl(definition_json: &str) {
    if let Err(report) = validate_asl(definition_json) {
        panic!("ASL definition rejected:\n{report}\ndefinition:\n{definition_json}");
    }
}

/// `definition_json` without `InputType: "JSON"` in any `ItemReader.ReaderConfig` (and
/// without the then empty `ReaderConfig`): what statelint 3.1.0 can check. Text that is
/// not JSON is returned unchanged, for the validators to reject.
pub fn without_reader_input_type(definition_json: &str) -> String {
    fn strip(value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(reader)) = map.get_mut("ItemReader")
                    && let Some(Value::Object(config)) = reader.get_mut("ReaderConfig")
                    && config.get("InputType") == Some(&Value::from("JSON"))
                {
                    config.remove("InputType");
                    if config.is_empty() {
                        reader.remove("ReaderConfig");
                    }
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    match serde_json::from_str::<serde_json::Value>(definition_json) {
        Ok(mut value) => {
            strip(&mut value);
            serde_json::to_string(&value).expect("JSON serialises")
        }
        Err(_) => definition_json.to_string(),
    }
}

/// Runs statelint alone: `statelint FILE` (on the definition as given: see
/// [`without_reader_input_type`] for the field it does not know).
pub fn statelint(definition_json: &str) -> Result<(), String> {
    let file = definition_file(definition_json);
    run(&statelint_path(), &[], file.path()).into_result()
}

/// Runs asl-validator alone: `asl-validator --json-path FILE`.
pub fn asl_validator(definition_json: &str) -> Result<(), String> {
    let file = definition_file(definition_json);
    run(&asl_validator_path(), &["--json-path"], file.path()).into_result()
}

/// statelint's path: `$DROPFLOW_STATELINT`, else `<repo>/.venv/bin/statelint`.
///
/// # Panics
/// When it is not installed.
pub fn statelint_path() -> PathBuf {
    resolve_tool(
        "statelint",
        "validators",
        std::env::var_os("DROPFLOW_STATELINT"),
        &repo_root().join(".venv/bin/statelint"),
    )
}

/// asl-validator's path: `$DROPFLOW_ASL_VALIDATOR`, else
/// `<repo>/tests/node_modules/.bin/asl-validator`.
///
/// # Panics
/// When it is not installed.
pub fn asl_validator_path() -> PathBuf {
    resolve_tool(
        "asl-validator",
        "validators",
        std::env::var_os("DROPFLOW_ASL_VALIDATOR"),
        &repo_root().join("tests/node_modules/.bin/asl-validator"),
    )
}

fn definition_file(definition_json: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .prefix("dropflow-asl-")
        .suffix(".json")
        .tempfile()
        .expect("create a temporary file for the ASL definition");
    file.write_all(definition_json.as_bytes())
        .and_then(|()| file.flush())
        .expect("write the ASL definition to a temporary file");
    file
}

/// One validator's answer on one file.
struct Verdict {
    tool: String,
    accepted: bool,
    output: String,
}

impl Verdict {
    fn report(&self) -> String {
        let verdict = if self.accepted {
            "accepted"
        } else {
            "REJECTED"
        };
        format!("--- {} {verdict}:\n{}", self.tool, self.output.trim_end())
    }

    fn into_result(self) -> Result<(), String> {
        if self.accepted {
            Ok(())
        } else {
            Err(self.report())
        }
    }
}

/// Runs `tool ARGS FILE`; exit status 0 means accepted. A tool that cannot be started is a
/// broken install, not a verdict, so that panics.
fn run(tool: &Path, args: &[&str], file: &Path) -> Verdict {
    run_on(tool, args, &[file.to_path_buf()])
}

/// Runs `tool ARGS FILE1 ARGS FILE2 ...` (`args` before every file: asl-validator takes
/// `--json-path` once per file; statelint takes the files alone).
fn run_on(tool: &Path, args: &[&str], files: &[PathBuf]) -> Verdict {
    let name = tool.file_name().map_or_else(
        || tool.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut command = Command::new(tool);
    for file in files {
        command.args(args).arg(file);
    }
    let out = command.env("NO_COLOR", "1").output().unwrap_or_else(|err| {
        panic!(
            "validator {name} could not be started ({}): {err}; run `bash tests/run.sh` \
                 once (it installs the pinned validators; asl-validator also needs node on PATH)",
            tool.display()
        )
    });
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    if out.status.code().is_none() {
        output.push_str(&format!("\n({name} was killed: {})", out.status));
    }
    Verdict {
        tool: name,
        accepted: out.status.success(),
        output,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shapes dropflow emits: Lambda and Batch tasks with Retry/Catch, Choice, inline and
    /// distributed Map with ItemSelector/ItemProcessor/ResultWriter, Parallel, Wait, and a
    /// Fail that takes its error and cause from the input.
    const GOOD: &str = r#"{
      "Comment": "known-good definition for the harness",
      "StartAt": "start",
      "TimeoutSeconds": 3600,
      "States": {
        "start": {
          "Type": "Task",
          "Resource": "arn:aws:states:::lambda:invoke",
          "Parameters": {
            "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:dropflow-step",
            "Payload": {"step": "start", "input.$": "$", "execution.$": "$$.Execution.Name"}
          },
          "ResultSelector": {"job.$": "$.Payload"},
          "ResultPath": "$.task",
          "Next": "start.job"
        },
        "start.job": {
          "Type": "Task",
          "Resource": "arn:aws:states:::batch:submitJob.sync",
          "Parameters": {
            "JobName.$": "$.task.job.name",
            "JobQueue.$": "$.task.job.queue",
            "JobDefinition.$": "$.task.job.definition",
            "ContainerOverrides": {
              "Environment": [
                {"Name": "RETRY", "Value.$": "States.Format('{}', $$.State.RetryCount)"}
              ]
            }
          },
          "ResultPath": null,
          "Retry": [{
            "ErrorEquals": ["Batch.AWSBatchException"],
            "IntervalSeconds": 2, "BackoffRate": 2.0, "MaxAttempts": 10,
            "MaxDelaySeconds": 60, "JitterStrategy": "FULL"
          }],
          "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
          "Next": "route"
        },
        "route": {
          "Type": "Choice",
          "Choices": [{"Variable": "$.switch", "StringEquals": "a", "Next": "each"}],
          "Default": "Failed"
        },
        "each": {
          "Type": "Map",
          "ItemsPath": "$.foreach",
          "MaxConcurrency": 40,
          "ItemSelector": {"ctx.$": "$.ctx", "index.$": "$$.Map.Item.Index"},
          "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "inner",
            "States": {"inner": {"Type": "Pass", "End": true}}
          },
          "ResultPath": null,
          "Next": "wide"
        },
        "wide": {
          "Type": "Map",
          "ItemsPath": "$.foreach",
          "ItemSelector": {"ctx.$": "$.ctx", "index.$": "$$.Map.Item.Index"},
          "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "inner2",
            "States": {"inner2": {"Type": "Pass", "End": true}}
          },
          "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "bucket", "Prefix": "results"}
          },
          "ResultPath": null,
          "Next": "both"
        },
        "both": {
          "Type": "Parallel",
          "Branches": [
            {"StartAt": "left", "States": {"left": {"Type": "Pass", "End": true}}},
            {"StartAt": "right", "States": {"right": {"Type": "Pass", "End": true}}}
          ],
          "ResultPath": null,
          "Next": "pause"
        },
        "pause": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
      }
    }"#;

    const MISSING_NEXT_TARGET: &str = r#"{
      "StartAt": "a",
      "States": {
        "a": {"Type": "Pass", "Next": "nowhere"},
        "b": {"Type": "Succeed"}
      }
    }"#;

    const DUPLICATE_ACROSS_PARALLEL_BRANCHES: &str = r#"{
      "StartAt": "fork",
      "States": {
        "fork": {
          "Type": "Parallel",
          "Branches": [
            {"StartAt": "same", "States": {"same": {"Type": "Pass", "End": true}}},
            {"StartAt": "same", "States": {"same": {"Type": "Pass", "End": true}}}
          ],
          "End": true
        }
      }
    }"#;

    const INTEGER_BACKOFF_RATE: &str = r#"{
      "StartAt": "t",
      "States": {
        "t": {
          "Type": "Task",
          "Resource": "arn:aws:states:::lambda:invoke",
          "Parameters": {"FunctionName": "f"},
          "Retry": [{"ErrorEquals": ["States.TaskFailed"], "BackoffRate": 2}],
          "End": true
        }
      }
    }"#;

    #[test]
    fn known_good_definition_passes_both() {
        assert_valid_asl(GOOD);
    }

    #[test]
    fn missing_next_target_fails_each_validator() {
        let statelint_err = statelint(MISSING_NEXT_TARGET).unwrap_err();
        assert!(statelint_err.contains("nowhere"), "{statelint_err}");
        asl_validator(MISSING_NEXT_TARGET).unwrap_err();
        let both = validate_asl(MISSING_NEXT_TARGET).unwrap_err();
        assert!(both.contains("--- statelint REJECTED"), "{both}");
        assert!(both.contains("--- asl-validator REJECTED"), "{both}");
    }

    #[test]
    fn duplicate_state_names_across_parallel_branches_fail_each_validator() {
        statelint(DUPLICATE_ACROSS_PARALLEL_BRANCHES).unwrap_err();
        let err = asl_validator(DUPLICATE_ACROSS_PARALLEL_BRANCHES).unwrap_err();
        assert!(err.contains("same"), "{err}");
        validate_asl(DUPLICATE_ACROSS_PARALLEL_BRANCHES).unwrap_err();
    }

    /// Why both validators run: asl-validator accepts an integer BackoffRate, statelint
    /// wants a float.
    #[test]
    fn integer_backoff_rate_is_rejected_by_statelint_only() {
        let err = statelint(INTEGER_BACKOFF_RATE).unwrap_err();
        assert!(err.contains("BackoffRate"), "{err}");
        asl_validator(INTEGER_BACKOFF_RATE).unwrap();
        let both = validate_asl(INTEGER_BACKOFF_RATE).unwrap_err();
        assert!(both.contains("--- statelint REJECTED"), "{both}");
        assert!(both.contains("--- asl-validator accepted"), "{both}");
        validate_asl(&INTEGER_BACKOFF_RATE.replace("\"BackoffRate\": 2", "\"BackoffRate\": 2.0"))
            .unwrap();
    }

    /// One run of each tool for many definitions; a rejection names the rejected ones only.
    #[test]
    fn a_batch_passes_when_all_pass_and_names_each_rejected_definition() {
        let named = |label: &str, json: &str| (label.to_string(), json.to_string());
        validate_asl_all(&[named("good", GOOD), named("good again", GOOD)]).unwrap();
        let err = validate_asl_all(&[
            named("good", GOOD),
            named("missing next", MISSING_NEXT_TARGET),
            named("integer backoff", INTEGER_BACKOFF_RATE),
        ])
        .unwrap_err();
        assert!(
            err.contains("missing next:\n--- statelint REJECTED"),
            "{err}"
        );
        assert!(
            err.contains("integer backoff:\n--- statelint REJECTED"),
            "{err}"
        );
        assert!(!err.contains("good:"), "{err}");
    }

    #[test]
    fn malformed_json_is_rejected() {
        validate_asl("{\"StartAt\": ").unwrap_err();
    }

    #[test]
    #[should_panic(
        expected = "validator statelint not installed: run `bash tests/run.sh` once (it installs the pinned validators)"
    )]
    fn missing_validator_panics_with_the_fix() {
        resolve_tool(
            "statelint",
            "validators",
            Some("/nonexistent/dropflow/statelint".into()),
            Path::new("/unused"),
        );
    }
}
