//! How a task attempt's Batch job ended, when its record still says `submitted`: the
//! record is written by the step Lambda's phases, and none runs while a retried step
//! waits `minutes_between_retries` or after the run was stopped, though the job has ended.

use aws_config::SdkConfig;
use aws_sdk_batch::primitives::{DateTime, DateTimeFormat};
use aws_sdk_batch::types::{JobStatus, KeyValuesPair};
use dropflow_contract::ServiceError;

/// A job that has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEnd {
    /// `true` for SUCCEEDED, `false` for FAILED.
    pub succeeded: bool,
    /// When it stopped (RFC 3339), when Batch says.
    pub stopped_at: Option<String>,
    /// Batch's reason (`Essential container in task exited`, the stop's reason, ...).
    pub reason: Option<String>,
}

/// Batch, for the state of jobs by name.
#[derive(Debug, Clone)]
pub struct BatchJobs {
    client: aws_sdk_batch::Client,
}

impl BatchJobs {
    /// A client from `sdk`.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_batch::Client::new(sdk),
        }
    }

    /// How the newest job named `job_name` on `queue` ended; `None` while it has not (or
    /// when there is none).
    pub async fn end_of(
        &self,
        queue: &str,
        job_name: &str,
    ) -> Result<Option<JobEnd>, ServiceError> {
        let operation = || format!("batch:ListJobs {queue} {job_name}");
        // With a filter Batch lists jobs in every status.
        let output = self
            .client
            .list_jobs()
            .job_queue(queue)
            .filters(
                KeyValuesPair::builder()
                    .name("JOB_NAME")
                    .values(job_name)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                let e = e.into_service_error();
                ServiceError::new(operation(), e.to_string())
            })?;
        let newest = output
            .job_summary_list()
            .iter()
            .filter(|job| job.job_name() == Some(job_name))
            .max_by_key(|job| job.created_at().unwrap_or(0));
        Ok(newest.and_then(|job| {
            let succeeded = match job.status()? {
                JobStatus::Succeeded => true,
                JobStatus::Failed => false,
                _ => return None,
            };
            Some(JobEnd {
                succeeded,
                stopped_at: job.stopped_at().and_then(rfc3339),
                reason: job.status_reason().map(String::from),
            })
        }))
    }
}

/// Milliseconds since the epoch as RFC 3339.
fn rfc3339(millis: i64) -> Option<String> {
    DateTime::from_millis(millis)
        .fmt(DateTimeFormat::DateTime)
        .ok()
}
