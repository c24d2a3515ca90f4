//! Writing a package back out as the code package tasks download: a `.tar.gz` of its
//! files, byte-for-byte reproducible (sorted entries, mtime 0, mode 0644, uid/gid 0, no
//! user names, gzip header without time or name), so the same files give the same bytes.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::SourcePackage;

impl SourcePackage {
    /// The files as a deterministic gzip-compressed tar.
    pub fn to_tar_gz(&self) -> Vec<u8> {
        let encoder = GzEncoder::new(Vec::new(), Compression::default());
        let mut builder = tar::Builder::new(encoder);
        builder.mode(tar::HeaderMode::Deterministic);
        // `files` is a BTreeMap: entries come out in path order.
        for (path, bytes) in &self.files {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            builder
                .append_data(&mut header, path, bytes.as_slice())
                .expect("writing a tar to memory cannot fail");
        }
        let mut encoder = builder
            .into_inner()
            .expect("writing a tar to memory cannot fail");
        encoder.flush().expect("writing to memory cannot fail");
        encoder
            .finish()
            .expect("writing a gzip stream to memory cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{Limits, PackageFormat, read_bytes};
    use super::*;

    fn package(files: &[(&str, &str)]) -> SourcePackage {
        SourcePackage {
            files: files
                .iter()
                .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
                .collect::<BTreeMap<_, _>>(),
            script_hint: None,
            format: PackageFormat::Directory,
            sha256: String::new(),
        }
    }

    #[test]
    fn same_files_same_bytes_and_round_trips() {
        let long = format!("{}/deep.py", "d".repeat(120));
        let a = package(&[
            ("flow.py", "print(1)\n"),
            ("lib/util.py", "x = 1\n"),
            (&long, ""),
        ]);
        let bytes = a.to_tar_gz();
        assert_eq!(bytes, a.clone().to_tar_gz());
        let read = read_bytes("code.tar.gz", &bytes, &Limits::default()).unwrap();
        assert_eq!(read.files, a.files);
        assert_eq!(read.format, PackageFormat::TarGz);
        assert_ne!(bytes, package(&[("flow.py", "print(2)\n")]).to_tar_gz());
    }
}
