//! The step Lambda's storage over S3: [`dropflow_task::Datastore`] addressed by
//! `s3://bucket/key` URLs (the manifest, Metaflow's datastore root and the task records
//! may live in different buckets). Path-style addressing, so emulators on an IP work.

use aws_config::SdkConfig;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::primitives::ByteStream;
use dropflow_contract::ports::{ServiceError, ServiceResult};
use dropflow_task::datastore::not_an_s3_url;
use dropflow_task::{Datastore, Ranged, split_s3_url};

use crate::error::service_error;

/// S3's code for a range past the end of an (empty) object.
const INVALID_RANGE: &str = "InvalidRange";

/// Any bucket the Lambda's role can reach.
#[derive(Debug, Clone)]
pub struct S3Datastore {
    client: aws_sdk_s3::Client,
}

impl S3Datastore {
    /// A client from `sdk`.
    pub fn new(sdk: &SdkConfig) -> Self {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(config),
        }
    }

    async fn get_object(&self, url: &str, range: Option<String>) -> ServiceResult<Option<Vec<u8>>> {
        let (bucket, key) = split_s3_url(url).ok_or_else(|| not_an_s3_url("s3:GetObject", url))?;
        let operation = || format!("s3:GetObject {url}");
        let output = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_range(range)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return match error.into_service_error() {
                    GetObjectError::NoSuchKey(_) => Ok(None),
                    error if error.code() == Some(INVALID_RANGE) => Ok(Some(Vec::new())),
                    error => Err(service_error(operation(), error)),
                };
            }
        };
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| ServiceError::new(operation(), e.to_string()))?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }
}

impl S3Datastore {
    /// The size of the object at `url`; `None` when absent.
    async fn size(&self, url: &str) -> ServiceResult<Option<u64>> {
        let (bucket, key) = split_s3_url(url).ok_or_else(|| not_an_s3_url("s3:HeadObject", url))?;
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(
                head.content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
            )),
            Err(error) => match error.into_service_error() {
                HeadObjectError::NotFound(_) => Ok(None),
                error => Err(service_error(format!("s3:HeadObject {url}"), error)),
            },
        }
    }
}

impl Datastore for S3Datastore {
    async fn get(&self, url: &str) -> ServiceResult<Option<Vec<u8>>> {
        self.get_object(url, None).await
    }

    async fn get_tail(&self, url: &str, max_bytes: u64) -> ServiceResult<Option<Vec<u8>>> {
        self.get_object(url, Some(format!("bytes=-{max_bytes}")))
            .await
    }

    async fn get_range(
        &self,
        url: &str,
        offset: u64,
        max_bytes: u64,
    ) -> ServiceResult<Option<Ranged>> {
        let (bucket, key) = split_s3_url(url).ok_or_else(|| not_an_s3_url("s3:GetObject", url))?;
        let operation = || format!("s3:GetObject {url}");
        let last = offset.saturating_add(max_bytes.max(1)) - 1;
        let output = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes={offset}-{last}"))
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return match error.into_service_error() {
                    GetObjectError::NoSuchKey(_) => Ok(None),
                    // At or past the end (or an empty object): nothing to read, but
                    // the size is still wanted.
                    error if error.code() == Some(INVALID_RANGE) => {
                        Ok(self.size(url).await?.map(|size| Ranged {
                            bytes: Vec::new(),
                            size,
                        }))
                    }
                    error => Err(service_error(operation(), error)),
                };
            }
        };
        // `bytes FIRST-LAST/SIZE`; without one the whole object came back.
        let total = output
            .content_range()
            .and_then(|r| r.rsplit_once('/'))
            .and_then(|(_, size)| size.parse::<u64>().ok());
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| ServiceError::new(operation(), e.to_string()))?
            .into_bytes()
            .to_vec();
        Ok(Some(match total {
            Some(size) => Ranged { bytes, size },
            None => Ranged::slice(&bytes, offset, max_bytes),
        }))
    }

    async fn put(&self, url: &str, bytes: Vec<u8>, content_type: &str) -> ServiceResult<()> {
        let (bucket, key) = split_s3_url(url).ok_or_else(|| not_an_s3_url("s3:PutObject", url))?;
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| service_error(format!("s3:PutObject {url}"), e))?;
        Ok(())
    }

    async fn exists(&self, url: &str) -> ServiceResult<bool> {
        let (bucket, key) = split_s3_url(url).ok_or_else(|| not_an_s3_url("s3:HeadObject", url))?;
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) => match error.into_service_error() {
                HeadObjectError::NotFound(_) => Ok(false),
                error => Err(service_error(format!("s3:HeadObject {url}"), error)),
            },
        }
    }

    async fn list(&self, prefix: &str) -> ServiceResult<Vec<String>> {
        let (bucket, key_prefix) =
            split_s3_url(prefix).ok_or_else(|| not_an_s3_url("s3:ListObjectsV2", prefix))?;
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(key_prefix)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| service_error(format!("s3:ListObjectsV2 {prefix}"), e))?;
            names.extend(
                output
                    .contents()
                    .iter()
                    .filter_map(|o| o.key()?.strip_prefix(key_prefix).map(String::from)),
            );
            match output.next_continuation_token() {
                Some(next) if output.is_truncated().unwrap_or(false) => token = Some(next.into()),
                _ => return Ok(names),
            }
        }
    }
}
