//! The compile function's environment as the emulator tests give it: one account, one
//! queue, one image, fixed role ARNs.

/// The value of compile-function variable `name` for a deployer on `bucket`, or `None`
/// where the tests leave it unset (optional variables, unknown names).
pub fn compile_variable(bucket: &str, name: &str) -> Option<String> {
    Some(
        match name {
            "DROPFLOW_BUCKET" => bucket,
            "DROPFLOW_STEP_FUNCTION_ARN" => {
                "arn:aws:lambda:us-east-1:123456789012:function:dropflow-step"
            }
            "DROPFLOW_STATE_MACHINE_ROLE_ARN" => "arn:aws:iam::123456789012:role/dropflow-sfn",
            "DROPFLOW_SCHEDULER_ROLE_ARN" => "arn:aws:iam::123456789012:role/dropflow-scheduler",
            "DROPFLOW_JOB_QUEUE" => "dropflow-queue",
            "DROPFLOW_DEFAULT_IMAGE" => "python:3.12",
            _ => return None,
        }
        .to_string(),
    )
}
