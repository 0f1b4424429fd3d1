//! Uploading archived segments to an S3-compatible object store: every final-named segment
//! (receipts and context) is PUT under `<prefix><receipts|context>/<file>` with a request
//! presigned by `rusty-s3` (SigV4) and sent by the engine's HTTP client; a `<file>.uploaded`
//! marker next to it records the upload. A receipt segment is pruned from the live store only
//! once its marker exists (see `receipts::ReceiptRetention::cycle`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusty_s3::actions::{PutObject, S3Action};
use rusty_s3::{Bucket, Credentials, UrlStyle};

use crate::receipts::archive::{list_segments, receipts_dir, CONTEXT_DIR, RECEIPTS_DIR};
use crate::settings::S3Settings;

const MARKER: &str = ".uploaded";
/// How long a presigned upload stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(300);
/// The longest one upload may take.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether the segment file at `path` was uploaded.
pub fn uploaded(path: &Path) -> bool {
    marker_of(path).exists()
}

fn marker_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(MARKER);
    path.with_file_name(name)
}

/// An S3-compatible bucket archived segments are uploaded to.
pub struct ObjectStore {
    bucket: Bucket,
    credentials: Credentials,
    prefix: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    runtime: tokio::runtime::Runtime,
}

impl ObjectStore {
    pub fn new(settings: &S3Settings) -> Result<Self, String> {
        let endpoint = settings
            .endpoint
            .parse()
            .map_err(|e| format!("retention.s3.endpoint: {e}"))?;
        let style = if settings.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            endpoint,
            style,
            settings.bucket.clone(),
            settings.region.clone(),
        )
        .map_err(|e| format!("retention.s3: {e}"))?;
        let secret = match &settings.secret_access_key_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| {
                    format!(
                        "retention.s3.secret_access_key_file {}: {e}",
                        path.display()
                    )
                })?
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string(),
            None => std::env::var("AARMOR_S3_SECRET_ACCESS_KEY").map_err(|_| {
                "retention.s3: set secret_access_key_file, or AARMOR_S3_SECRET_ACCESS_KEY"
                    .to_string()
            })?,
        };
        let tls = match settings.endpoint.starts_with("https://") {
            true => Some(
                crate::tls::client_config(settings.ca_file.as_deref())
                    .map_err(|e| format!("retention.s3.{e}"))?,
            ),
            false => None,
        };
        Ok(Self {
            bucket,
            credentials: Credentials::new(settings.access_key_id.clone(), secret),
            prefix: settings.prefix.clone(),
            tls,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("retention.s3: {e}"))?,
        })
    }

    fn put(&self, key: &str, body: &[u8]) -> Result<(), String> {
        let url = PutObject::new(&self.bucket, Some(&self.credentials), key).sign(SIGNED_FOR);
        let uri: http::Uri = url
            .as_str()
            .parse()
            .map_err(|e| format!("object URL {url}: {e}"))?;
        let status = self
            .runtime
            .block_on(async {
                tokio::time::timeout(
                    UPLOAD_TIMEOUT,
                    crate::http_client::send(&uri, self.tls.as_ref(), "PUT", &[], body),
                )
                .await
            })
            .map_err(|_| format!("uploading {key}: no answer within 120 s"))?
            .map_err(|e| format!("uploading {key}: {e}"))?;
        if !(200..300).contains(&status) {
            return Err(format!(
                "uploading {key}: the object store answered {status}"
            ));
        }
        Ok(())
    }

    /// Uploads up to `max` final-named segments under `archive_dir` not uploaded yet (receipts
    /// in chain order, then context); returns how many it uploaded.
    pub fn upload_pending(&self, archive_dir: &Path, max: usize) -> Result<usize, String> {
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        let segments = list_segments(&receipts_dir(archive_dir))
            .map_err(|e| format!("archive {}: {e}", archive_dir.display()))?;
        for (range, path) in segments {
            files.push((format!("{RECEIPTS_DIR}/{}", range.file_name()), path));
        }
        let mut context: Vec<(String, PathBuf)> = std::fs::read_dir(archive_dir.join(CONTEXT_DIR))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| (e.file_name().to_string_lossy().to_string(), e.path()))
                    .filter(|(n, _)| n.starts_with("context-") && n.ends_with(".jsonl.gz"))
                    .map(|(n, p)| (format!("{CONTEXT_DIR}/{n}"), p))
                    .collect()
            })
            .unwrap_or_default();
        context.sort();
        files.extend(context);
        let mut done = 0;
        for (name, path) in files.into_iter().filter(|(_, p)| !uploaded(p)).take(max) {
            let body = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            self.put(&format!("{}{name}", self.prefix), &body)?;
            let marker = marker_of(&path);
            std::fs::write(&marker, b"")
                .and_then(|_| std::fs::File::open(path.parent().unwrap_or(archive_dir))?.sync_all())
                .map_err(|e| format!("{}: {e}", marker.display()))?;
            done += 1;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> S3Settings {
        S3Settings {
            endpoint: "http://127.0.0.1:9".into(),
            bucket: "audit".into(),
            region: "us-east-1".into(),
            access_key_id: "key".into(),
            secret_access_key_file: None,
            prefix: String::new(),
            path_style: true,
            ca_file: None,
        }
    }

    #[test]
    fn a_missing_secret_is_a_clear_error_and_markers_sit_beside_their_segment() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.secret_access_key_file = Some(dir.path().join("nope"));
        let e = ObjectStore::new(&s).err().unwrap();
        assert!(e.contains("secret_access_key_file"), "{e}");
        let segment = dir
            .path()
            .join("receipts-0000000000000001-0000000000000002.jsonl.gz");
        std::fs::write(&segment, b"x").unwrap();
        assert!(!uploaded(&segment));
        std::fs::write(marker_of(&segment), b"").unwrap();
        assert!(uploaded(&segment));
    }

    #[test]
    fn an_unreachable_store_is_an_error_and_nothing_is_marked() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s\n").unwrap();
        let mut s = settings();
        s.secret_access_key_file = Some(secret);
        let store = ObjectStore::new(&s).unwrap();
        let receipts = receipts_dir(dir.path());
        std::fs::create_dir_all(&receipts).unwrap();
        let segment = receipts.join("receipts-0000000000000001-0000000000000002.jsonl.gz");
        std::fs::write(&segment, b"x").unwrap();
        let e = store.upload_pending(dir.path(), 10).unwrap_err();
        assert!(e.contains("uploading receipts/receipts-"), "{e}");
        assert!(!uploaded(&segment));
    }
}
