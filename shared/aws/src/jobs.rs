//! [`JobEnds`] over Batch (`ListJobs` by job name): how a task attempt's job ended, for
//! the trigger API's run view when the task's record still says `submitted`.

use aws_config::SdkConfig;
use aws_sdk_batch::primitives::{DateTime, DateTimeFormat};
use aws_sdk_batch::types::{JobStatus, KeyValuesPair};
use dropflow_contract::ServiceError;
use dropflow_contract::ports::{JobEnd, JobEnds};

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
}

impl JobEnds for BatchJobs {
    /// How the newest job named `job_name` on `queue` ended; `None` while it has not (or
    /// when there is none).
    async fn end_of(&self, queue: &str, job_name: &str) -> Result<Option<JobEnd>, ServiceError> {
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
