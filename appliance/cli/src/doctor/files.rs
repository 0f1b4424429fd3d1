//! Doctor's checks of the data directory: it exists and can be written, the disk has room for
//! what the stores may still grow to, the CA is valid for long enough and its key is private,
//! the receipt signing keys are private, and the stores are below their warning levels.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aarmor_engine::context::ContextLog;
use aarmor_engine::receipts::{KeyRing, ReceiptStore};
use aarmor_proxy::ca::{CaPaths, CertificateAuthority};

use super::{human_bytes, Check};
use crate::config::Config;

/// A CA that expires sooner than this is a warning.
const CA_WARN_DAYS: i64 = 30;
/// Less free space than this on the data directory's filesystem is a failure.
const MIN_FREE_BYTES: u64 = 256 * 1024 * 1024;

pub fn check(config: &Config) -> Vec<Check> {
    let data = &config.data_dir;
    let mut checks = Vec::new();
    if !data.exists() {
        checks.push(Check::warn(
            "data dir",
            format!("{} does not exist yet", data.display()),
            "`aarmor run` creates it on first start; create it owned by the user the service runs as",
        ));
        return checks;
    }
    checks.push(data_dir(data));
    checks.push(ca(data));
    checks.push(keys(data));
    let receipts = store(
        "receipts store",
        &ReceiptStore::dir(data),
        config.receipts.max_size_mb,
        config,
        "[receipts] max_size_mb",
    );
    let context = store(
        "context store",
        &ContextLog::dir(data),
        config.context.max_size_mb,
        config,
        "[context] max_size_mb",
    );
    let room = receipts.1 + context.1 + spill_room(config);
    checks.push(receipts.0);
    checks.push(context.0);
    checks.push(disk(data, room));
    checks
}

/// The data directory is a directory this user can write (asked of the kernel: nothing is
/// written).
fn data_dir(data: &Path) -> Check {
    let euid = rustix::process::geteuid().as_raw();
    match std::fs::metadata(data) {
        Ok(m) if !m.is_dir() => Check::fail(
            "data dir",
            format!("{} is not a directory", data.display()),
            "point data_dir (or AARMOR_DATA_DIR) at a directory",
        ),
        Ok(m) => match rustix::fs::access(data, rustix::fs::Access::WRITE_OK) {
            Ok(()) if euid == 0 && m.uid() != 0 => Check::warn(
                "data dir",
                format!(
                    "{} is owned by uid {}, and doctor runs as root: what the service's user may do is not checked",
                    data.display(),
                    m.uid()
                ),
                "run doctor as the service's user: `sudo -u aarmor aarmor --config /etc/aarmor/aarmor.toml doctor`",
            ),
            Ok(()) => Check::ok(
                "data dir",
                format!("{} is writable (owner uid {})", data.display(), m.uid()),
            ),
            Err(e) => Check::fail(
                "data dir",
                format!("{} is not writable by uid {euid}: {e}", data.display()),
                format!(
                    "run as the directory's owner (uid {}), or `chown -R` it to the service's user",
                    m.uid()
                ),
            ),
        },
        Err(e) => Check::fail(
            "data dir",
            format!("{}: {e}", data.display()),
            "point data_dir (or AARMOR_DATA_DIR) at a readable directory",
        ),
    }
}

/// A file this user cannot read: the finding is the permission, not the file.
fn unreadable(name: &str, path: &Path) -> Option<Check> {
    match std::fs::File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Some(Check::fail(
            name,
            format!("{} cannot be read by uid {}", path.display(), rustix::process::geteuid().as_raw()),
            "run doctor as the service's user (`sudo -u aarmor aarmor --config /etc/aarmor/aarmor.toml doctor`); never replace the CA or the keys for this",
        )),
        _ => None,
    }
}

/// `mode` lets someone other than the owner read the file.
fn exposed(mode: u32) -> bool {
    mode & 0o077 != 0
}

fn ca(data: &Path) -> Check {
    let paths = CaPaths::in_data_dir(data);
    if !paths.exists() {
        return Check::warn(
            "ca",
            format!("no interception CA in {}", paths.dir.display()),
            "`aarmor run` creates one on first start (or `aarmor ca init`, or `aarmor ca import` your own intermediate)",
        );
    }
    if let Some(c) = unreadable("ca", &paths.key).or_else(|| unreadable("ca", &paths.cert)) {
        return c;
    }
    let ca = match CertificateAuthority::load(&paths) {
        Ok(ca) => ca,
        Err(e) => {
            return Check::fail(
                "ca",
                e.to_string(),
                "restore ca.pem and ca.key from backup, or `aarmor ca init --force` (agents must then trust the new CA)",
            )
        }
    };
    if let Ok(m) = std::fs::metadata(&paths.key) {
        let mode = m.permissions().mode() & 0o777;
        if exposed(mode) {
            return Check::fail(
                "ca",
                format!(
                    "{} has mode {mode:o}: others can read the CA's private key",
                    paths.key.display()
                ),
                format!("chmod 600 {}", paths.key.display()),
            );
        }
    }
    let Some(not_after) = ca.not_after() else {
        return Check::fail(
            "ca",
            format!("{}: the validity cannot be read", paths.cert.display()),
            "`aarmor ca init --force` or `aarmor ca import` a valid CA",
        );
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let days = (not_after - now).div_euclid(86_400);
    let until = time::OffsetDateTime::from_unix_timestamp(not_after)
        .map(|t| aarmor_core::timestamp::rfc3339_millis(t)[..10].to_string())
        .unwrap_or_default();
    let renew = "issue a new CA before then (`aarmor ca init --force`, or `aarmor ca import` an intermediate from your PKI) and install it on the agent hosts (`aarmor ca install-script`)";
    if not_after <= now {
        Check::fail(
            "ca",
            format!(
                "{} expired on {until}: agents refuse every intercepted connection",
                paths.cert.display()
            ),
            renew,
        )
    } else if days < CA_WARN_DAYS {
        Check::warn(
            "ca",
            format!(
                "{} expires in {days} day(s), on {until}",
                paths.cert.display()
            ),
            renew,
        )
    } else {
        Check::ok(
            "ca",
            format!(
                "{} valid until {until} ({days} days), key mode 600",
                paths.cert.display()
            ),
        )
    }
}

/// The receipt signing keys: present, loadable, private.
fn keys(data: &Path) -> Check {
    let dir = KeyRing::dir(data);
    if !dir.join("current").exists() {
        return Check::warn(
            "keys",
            format!("no receipt signing key in {}", dir.display()),
            "`aarmor run` creates one on first start",
        );
    }
    let private: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "key"))
                .collect()
        })
        .unwrap_or_default();
    if let Some(c) = std::iter::once(dir.join("current"))
        .chain(private.iter().cloned())
        .find_map(|p| unreadable("keys", &p))
    {
        return c;
    }
    let ring = match KeyRing::load(data) {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                "keys",
                e.to_string(),
                "restore the keys directory from backup; without the key, new receipts cannot continue the chain (`aarmor keys rotate` starts a new key)",
            )
        }
    };
    for p in &private {
        if let Ok(m) = std::fs::metadata(p) {
            let mode = m.permissions().mode() & 0o777;
            if exposed(mode) {
                return Check::fail(
                    "keys",
                    format!("{} has mode {mode:o}: others can read a receipt signing key (and forge receipts)", p.display()),
                    format!("chmod 600 {}", p.display()),
                );
            }
        }
    }
    Check::ok(
        "keys",
        format!(
            "signing key {} ({} private key file(s), mode 600); public keys in {}",
            ring.key_id,
            private.len(),
            KeyRing::public_keys_path(data).display()
        ),
    )
}

/// A store's size against its limit: the check, and the bytes it may still grow by. The
/// pages in use are read from the store itself (read-only); where it cannot be opened, the file
/// size is an upper bound (LMDB reuses freed pages and never shrinks the file).
fn store(name: &str, dir: &Path, max_mb: usize, config: &Config, key: &str) -> (Check, u64) {
    let limit = (max_mb as u64).saturating_mul(1024 * 1024);
    let file = dir.join("data.mdb");
    let size = match std::fs::metadata(&file) {
        Ok(m) => m.len(),
        Err(_) => {
            return (
                Check::ok(name, format!("empty (limit {})", human_bytes(limit))),
                limit,
            )
        }
    };
    let (used, exact) = match aarmor_engine::retention::usage::StoreUsage::measure(dir, limit) {
        Ok(u) => (u.used_bytes, true),
        Err(_) => (size, false),
    };
    let percent = if limit == 0 {
        100.0
    } else {
        used as f64 * 100.0 / limit as f64
    };
    let room = limit.saturating_sub(used);
    let detail = format!(
        "{}{} of {} ({percent:.0}%) in {}",
        if exact { "" } else { "at most " },
        human_bytes(used),
        human_bytes(limit),
        file.display()
    );
    let fix = format!(
        "raise {key}, or let [retention] mode = \"archive\" move old segments out (it is \"{}\")",
        match config.retention.mode {
            aarmor_engine::RetentionMode::Archive => "archive",
            aarmor_engine::RetentionMode::Off => "off",
            aarmor_engine::RetentionMode::Drop => "drop",
        }
    );
    let check = if exact && percent >= f64::from(config.retention.error_percent) {
        Check::fail(
            name,
            format!("{detail}: past the error level; a full store denies every action"),
            fix,
        )
    } else if percent >= f64::from(config.retention.warn_percent) {
        let why = if exact {
            "past the warning level"
        } else {
            "the file is past the warning level (the store could not be opened to count its pages in use: run doctor as the service user)"
        };
        Check::warn(name, format!("{detail}: {why}"), fix)
    } else {
        Check::ok(name, detail)
    };
    (check, room)
}

/// What the SIEM spill files may still take.
fn spill_room(config: &Config) -> u64 {
    let per_sink = config.telemetry.spill_max_mb.saturating_mul(1024 * 1024);
    let dir = config.data_dir.join("telemetry");
    config
        .telemetry
        .sinks
        .iter()
        .map(|s| {
            let used = std::fs::metadata(dir.join(format!("{}.spill", s.name)))
                .map(|m| m.len())
                .unwrap_or(0);
            per_sink.saturating_sub(used)
        })
        .sum()
}

/// Free space on the data directory's filesystem, against what the stores may still take.
fn disk(data: &Path, room: u64) -> Check {
    let stat = match rustix::fs::statvfs(data) {
        Ok(s) => s,
        Err(e) => {
            return Check::skip(
                "disk",
                format!("free space of {} unknown: {e}", data.display()),
            )
        }
    };
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    if free < MIN_FREE_BYTES {
        Check::fail(
            "disk",
            format!("{} free on the filesystem of {}", human_bytes(free), data.display()),
            "free space or move data_dir to a larger volume: stores that cannot grow deny every action",
        )
    } else if free < room {
        Check::warn(
            "disk",
            format!(
                "{} free, but the stores and spill files may still grow by {}: the disk fills before their limits",
                human_bytes(free),
                human_bytes(room)
            ),
            "give the volume more room, or lower [receipts] max_size_mb, [context] max_size_mb and [telemetry] spill_max_mb to fit it",
        )
    } else {
        Check::ok(
            "disk",
            format!(
                "{} free on the filesystem of {}; the stores may grow by {}",
                human_bytes(free),
                data.display(),
                human_bytes(room)
            ),
        )
    }
}
