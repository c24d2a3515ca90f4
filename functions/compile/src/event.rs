//! S3 notification records as the deploy logic needs them: kind, bucket, URL-decoded key,
//! version id, sequencer and uploader.

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use dropflow_deploy::ObjectEvent;

/// What a record announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// `ObjectCreated:*` (Put, Post, Copy, CompleteMultipartUpload).
    Created,
    /// `ObjectRemoved:*` (Delete, DeleteMarkerCreated).
    Removed,
    /// Anything else (restore, replication, ...): not handled.
    Other,
}

/// One record, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// What happened.
    pub kind: RecordKind,
    /// The event name as S3 sent it.
    pub event_name: String,
    /// The bucket.
    pub bucket: String,
    /// The object, key decoded.
    pub object: ObjectEvent,
}

/// Decodes the records of `event`, each on its own: a key that does not decode is an
/// error naming it, and does not stop the other records.
pub fn records(event: &S3Event) -> Vec<Result<EventRecord, String>> {
    event.records.iter().map(record).collect()
}

fn record(record: &S3EventRecord) -> Result<EventRecord, String> {
    let event_name = record.event_name.clone().unwrap_or_default();
    let kind = if event_name.starts_with("ObjectCreated:") {
        RecordKind::Created
    } else if event_name.starts_with("ObjectRemoved:") {
        RecordKind::Removed
    } else {
        RecordKind::Other
    };
    let raw_key = record.s3.object.key.clone().unwrap_or_default();
    let key = decode_key(&raw_key)?;
    Ok(EventRecord {
        kind,
        event_name,
        bucket: record.s3.bucket.name.clone().unwrap_or_default(),
        object: ObjectEvent {
            key,
            version_id: record
                .s3
                .object
                .version_id
                .clone()
                .filter(|v| !v.is_empty()),
            sequencer: record.s3.object.sequencer.clone().filter(|s| !s.is_empty()),
            principal: record
                .principal_id
                .principal_id
                .clone()
                .filter(|p| !p.is_empty()),
        },
    })
}

/// Decodes an S3 notification key: form encoding, so `+` is a space and `%XX` a byte
/// (S3 writes `/` as `%2F` in some emulators and `(` as `%28`); the bytes must be UTF-8.
pub fn decode_key(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("S3 key {raw:?} has a bad %-escape at byte {i}"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("S3 key {raw:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_keys_as_s3_encodes_them() {
        assert_eq!(
            decode_key("flows/my+flow.tgz").unwrap(),
            "flows/my flow.tgz"
        );
        assert_eq!(
            decode_key("flows%2Fteam%2Fa.tgz").unwrap(),
            "flows/team/a.tgz"
        );
        assert_eq!(
            decode_key("flows/a%2Bb%28c%29.tgz").unwrap(),
            "flows/a+b(c).tgz"
        );
        assert_eq!(decode_key("flows/caf%C3%A9.tgz").unwrap(), "flows/café.tgz");
        assert!(decode_key("flows/%zz.tgz").is_err());
        assert!(decode_key("flows/%2").is_err());
        assert!(decode_key("flows/%FF.tgz").is_err());
    }

    #[test]
    fn reads_the_fixture() {
        let event: S3Event =
            serde_json::from_str(include_str!("../fixtures/example-s3-event.json")).unwrap();
        let records = records(&event);
        assert_eq!(records.len(), 1);
        let record = records[0].as_ref().unwrap();
        assert_eq!(record.kind, RecordKind::Created);
        assert_eq!(record.bucket, "sourcebucket");
        assert_eq!(record.object.key, "Happy Face.jpg");
        assert_eq!(record.object.version_id.as_deref(), Some("version"));
        assert_eq!(record.object.sequencer.as_deref(), Some("Happy Sequencer"));
        assert_eq!(record.object.principal.as_deref(), Some("EXAMPLE"));
    }
}
