//! The deployment bucket on the emulator, as the stack creates it.

/// Creates `bucket` with versioning enabled, as dropflow's deployment bucket is (uploads
/// and their reports are matched by S3 version id).
///
/// # Panics
/// When the emulator refuses either call.
pub async fn versioned(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
}
