//! The deployment bucket, behind a small trait: put an upload, read a report, delete an
//! upload. [`S3Store`] is the AWS SDK's S3; tests of the waiting logic use a map.

use std::collections::BTreeMap;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use super::error::ClientError;

/// What `deploy` and `undeploy` need from the bucket.
pub trait Store {
    /// The bucket's name, for messages.
    fn bucket(&self) -> &str;

    /// Puts `bytes` at `key` with `metadata`; returns the new version id.
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        metadata: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Option<String>, ClientError>>;

    /// The object at `key`, if any.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, ClientError>>;

    /// Deletes `key`; returns the delete marker's version id.
    fn delete(&self, key: &str) -> impl Future<Output = Result<Option<String>, ClientError>>;
}

/// The deployment bucket on S3 (or the emulator).
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    /// `bucket` through `client`.
    pub fn new(client: aws_sdk_s3::Client, bucket: &str) -> Self {
        Self {
            client,
            bucket: bucket.to_string(),
        }
    }

    fn error(
        &self,
        operation: &'static str,
        key: &str,
        error: impl std::error::Error,
    ) -> ClientError {
        ClientError::S3 {
            operation,
            bucket: self.bucket.clone(),
            key: key.to_string(),
            message: DisplayErrorContext(&error).to_string(),
        }
    }
}

impl Store for S3Store {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ClientError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/gzip")
            .body(ByteStream::from(bytes));
        for (name, value) in metadata {
            request = request.metadata(name, value);
        }
        let output = request
            .send()
            .await
            .map_err(|e| self.error("PutObject", key, e))?;
        Ok(output.version_id)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ClientError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => {
                let bytes = output
                    .body
                    .collect()
                    .await
                    .map_err(|e| self.error("GetObject", key, e))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(error) => Err(self.error("GetObject", key, error)),
        }
    }

    async fn delete(&self, key: &str) -> Result<Option<String>, ClientError> {
        let output = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.error("DeleteObject", key, e))?;
        Ok(output.version_id)
    }
}
