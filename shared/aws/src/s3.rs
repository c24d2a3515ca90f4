//! The deployment bucket over S3 (path-style addressing, so emulators on an IP work).

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::primitives::ByteStream;
use dropflow_contract::ports::{
    ConditionalPutError, ObjectHead, ObjectStore, Precondition, ServiceResult, StoredObject,
};

use crate::error::service_error;

/// S3's code for a version id that does not exist (not modelled as a typed error).
const NO_SUCH_VERSION: &str = "NoSuchVersion";

/// S3's answers that mean a conditional write lost: `412 PreconditionFailed`;
/// `409 ConditionalRequestConflict` (a concurrent conditional write to the same key);
/// `404 NoSuchKey` (`If-Match` on a key that no longer exists).
const CONDITION_LOST: [&str; 3] = [
    "PreconditionFailed",
    "ConditionalRequestConflict",
    "NoSuchKey",
];

/// One bucket.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Objects {
    /// A client for `bucket`.
    pub fn new(sdk: &SdkConfig, bucket: &str) -> Self {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(config),
            bucket: bucket.to_string(),
        }
    }

    /// The underlying client.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

impl ObjectStore for S3Objects {
    async fn get(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> ServiceResult<Option<StoredObject>> {
        let operation = || format!("s3:GetObject s3://{}/{key}", self.bucket);
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version_id.map(String::from))
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                let error = error.into_service_error();
                return match error {
                    GetObjectError::NoSuchKey(_) => Ok(None),
                    error if error.code() == Some(NO_SUCH_VERSION) => Ok(None),
                    error => Err(service_error(operation(), error)),
                };
            }
        };
        let metadata: BTreeMap<String, String> = output
            .metadata()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let version_id = output.version_id().map(String::from);
        let etag = output.e_tag().map(String::from);
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| dropflow_contract::ports::ServiceError::new(operation(), e.to_string()))?
            .into_bytes()
            .to_vec();
        Ok(Some(StoredObject {
            bytes,
            metadata,
            version_id,
            etag,
        }))
    }

    async fn head(&self, key: &str) -> ServiceResult<Option<ObjectHead>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(ObjectHead {
                size: output.content_length().unwrap_or(0).max(0) as u64,
                version_id: output.version_id().map(String::from),
            })),
            Err(error) => match error.into_service_error() {
                HeadObjectError::NotFound(_) => Ok(None),
                error => Err(service_error(
                    format!("s3:HeadObject s3://{}/{key}", self.bucket),
                    error,
                )),
            },
        }
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> ServiceResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| service_error(format!("s3:PutObject s3://{}/{key}", self.bucket), e))?;
        Ok(())
    }

    async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        precondition: &Precondition,
    ) -> Result<String, ConditionalPutError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes));
        let request = match precondition {
            Precondition::Absent => request.if_none_match("*"),
            Precondition::Matches(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(output) => Ok(output.e_tag().unwrap_or_default().to_string()),
            Err(error) => {
                let status = error.raw_response().map(|r| r.status().as_u16());
                let code = error.code().map(String::from);
                if matches!(status, Some(409 | 412))
                    || code.as_deref().is_some_and(|c| CONDITION_LOST.contains(&c))
                {
                    return Err(ConditionalPutError::PreconditionFailed {
                        key: key.to_string(),
                    });
                }
                Err(service_error(format!("s3:PutObject s3://{}/{key}", self.bucket), error).into())
            }
        }
    }

    async fn delete(&self, key: &str) -> ServiceResult<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| service_error(format!("s3:DeleteObject s3://{}/{key}", self.bucket), e))?;
        Ok(())
    }
}
