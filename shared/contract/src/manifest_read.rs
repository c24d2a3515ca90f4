//! Reading a manifest back: its `schema` is checked before anything else, so a manifest
//! written by another dropflow fails with both versions named, not with a field error.

use serde::Deserialize;

use crate::DROPFLOW_VERSION;
use crate::manifest::{MANIFEST_SCHEMA, Manifest};

/// Why a manifest cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// Not JSON, or not a manifest of this schema.
    #[error("not a valid dropflow manifest: {0}")]
    Invalid(String),
    /// Written with another manifest schema than the one this dropflow reads.
    #[error(
        "manifest schema {found} (written by dropflow {written_by}) is not schema {expected}, the one dropflow {reader} reads: deploy the flow again with dropflow {reader}, or run the functions of the dropflow that deployed it"
    )]
    Schema {
        /// The manifest's `schema`.
        found: u32,
        /// [`MANIFEST_SCHEMA`].
        expected: u32,
        /// The manifest's `dropflow_version`, when it has one.
        written_by: String,
        /// This dropflow's version.
        reader: String,
    },
}

/// The fields every manifest schema has.
#[derive(Deserialize)]
struct Header {
    schema: u32,
    #[serde(default)]
    dropflow_version: Option<String>,
}

impl Manifest {
    /// Parses a manifest, checking its `schema` against [`MANIFEST_SCHEMA`] first.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let header: Header =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        if header.schema != MANIFEST_SCHEMA {
            return Err(ManifestError::Schema {
                found: header.schema,
                expected: MANIFEST_SCHEMA,
                written_by: header
                    .dropflow_version
                    .unwrap_or_else(|| "unknown".to_string()),
                reader: DROPFLOW_VERSION.to_string(),
            });
        }
        serde_json::from_slice(bytes).map_err(|e| ManifestError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_schema_names_both_versions() {
        let text = br#"{"schema": 2, "dropflow_version": "9.0.0", "new_field": true}"#;
        let error = Manifest::from_json(text).unwrap_err();
        assert_eq!(
            error,
            ManifestError::Schema {
                found: 2,
                expected: MANIFEST_SCHEMA,
                written_by: "9.0.0".to_string(),
                reader: DROPFLOW_VERSION.to_string(),
            }
        );
        let message = error.to_string();
        assert!(
            message.contains("manifest schema 2 (written by dropflow 9.0.0)"),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "schema {MANIFEST_SCHEMA}, the one dropflow {DROPFLOW_VERSION} reads"
            )),
            "{message}"
        );
    }

    #[test]
    fn a_manifest_without_schema_is_invalid() {
        let error = Manifest::from_json(br#"{"flow": {}}"#).unwrap_err();
        assert!(
            matches!(&error, ManifestError::Invalid(m) if m.contains("schema")),
            "{error}"
        );
    }

    #[test]
    fn this_schema_with_a_bad_field_is_invalid_not_a_schema_error() {
        let text = format!(r#"{{"schema": {MANIFEST_SCHEMA}, "flow": 3}}"#);
        let error = Manifest::from_json(text.as_bytes()).unwrap_err();
        assert!(matches!(error, ManifestError::Invalid(_)), "{error}");
    }
}
