//! [`ObjectListing`] over S3 (`ListObjectsV2`): the trigger API lists deployed state
//! machines (`deployments/<name>/`), a state machine's versions and a run's task records.

use aws_sdk_s3::primitives::DateTimeFormat;
use dropflow_contract::ports::{ListedObject, Listing, ObjectListing, ServiceResult};

use crate::S3Objects;
use crate::error::service_error;

impl ObjectListing for S3Objects {
    /// Follows continuation tokens until `max_keys` entries have been seen.
    async fn list(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        max_keys: usize,
    ) -> ServiceResult<Listing> {
        let operation = || format!("s3:ListObjectsV2 s3://{}/{prefix}", self.bucket());
        let mut listing = Listing::default();
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client()
                .list_objects_v2()
                .bucket(self.bucket())
                .prefix(prefix)
                .set_delimiter(delimiter.map(String::from))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| service_error(operation(), e))?;
            for object in output.contents() {
                let Some(key) = object.key() else { continue };
                listing.objects.push(ListedObject {
                    key: key.to_string(),
                    size: object.size().unwrap_or(0).max(0) as u64,
                    last_modified: object
                        .last_modified()
                        .and_then(|d| d.fmt(DateTimeFormat::DateTime).ok()),
                });
            }
            listing.prefixes.extend(
                output
                    .common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(String::from)),
            );
            if listing.objects.len() + listing.prefixes.len() >= max_keys {
                listing.truncated = output.is_truncated().unwrap_or(false)
                    || listing.objects.len() + listing.prefixes.len() > max_keys;
                listing.objects.truncate(max_keys);
                listing
                    .prefixes
                    .truncate(max_keys.saturating_sub(listing.objects.len()));
                return Ok(listing);
            }
            match output.next_continuation_token() {
                Some(next) if output.is_truncated().unwrap_or(false) => {
                    token = Some(next.to_string());
                }
                _ => return Ok(listing),
            }
        }
    }
}
