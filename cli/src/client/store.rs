//! The deployment bucket, behind a small trait: put an upload, read a report (or an
//! earlier version of it), delete an upload. [`S3Store`] is the AWS SDK's S3; tests of the waiting logic use a map.

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

    /// The version ids of `key`, newest first, at most [`VERSIONS_LISTED`] (a report
    /// overwritten by a concurrent upload's is still one of them).
    fn versions(&self, key: &str) -> impl Future<Output = Result<Vec<String>, ClientError>>;

    /// Version `version_id` of `key`, if it exists.
    fn get_version(
        &self,
        key: &str,
        version_id: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, ClientError>>;
}

/// How many versions of a report are looked through for an upload's own.
pub const VERSIONS_LISTED: i32 = 50;

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

    async fn versions(&self, key: &str) -> Result<Vec<String>, ClientError> {
        let output = self
            .client
            .list_object_versions()
            .bucket(&self.bucket)
            .prefix(key)
            .max_keys(VERSIONS_LISTED)
            .send()
            .await
            .map_err(|e| self.error("ListObjectVersions", key, e))?;
        // S3 lists a key's versions newest first.
        Ok(output
            .versions()
            .iter()
            .filter(|v| v.key() == Some(key))
            .filter_map(|v| v.version_id().map(str::to_string))
            .collect())
    }

    async fn get_version(
        &self,
        key: &str,
        version_id: &str,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .version_id(version_id)
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
