//! The archive's indexes: InRelease files (signature checked against the keyring), and the
//! Packages indexes they list (checked by their SHA-256), cached under their hash so that a
//! second resolution against an unchanged mirror downloads nothing but the InRelease files.

use std::path::{Path, PathBuf};

use plinth_debian::release::{Release, parse_release};
use plinth_debian::signature::{Keyring, verify_inrelease};
use plinth_debian::{Package, packages::parse_packages};

use super::fetch::{Expected, Fetcher};
use super::sources::SuiteSource;
use super::{DebianError, RootfsEvent};

/// The largest InRelease plinth reads (bookworm's is about 150 KB).
const INRELEASE_LIMIT: u64 = 16 << 20;

/// A verified Release file.
#[derive(Debug, Clone)]
pub struct ReleaseInfo {
    pub source: SuiteSource,
    /// The `Date:` field as written.
    pub date: String,
    /// The fingerprint of the key whose signature verified.
    pub signer: String,
    pub release: Release,
}

/// The indexes of a list of suites: packages carry `origin` = the index of their release.
#[derive(Debug, Clone)]
pub struct Indexes {
    pub releases: Vec<ReleaseInfo>,
    pub packages: Vec<Package>,
}

/// Fetches and verifies the InRelease file of `source`.
pub fn fetch_release(
    fetcher: &Fetcher,
    source: &SuiteSource,
    keyring: &Keyring,
    now_unix: i64,
) -> Result<ReleaseInfo, DebianError> {
    let url = format!("{}/dists/{}/InRelease", source.uri, source.suite);
    let data = fetcher.get_bytes(&url, INRELEASE_LIMIT)?;
    // Errors and events never show credentials of the mirror URI.
    let url = crate::credentials::strip_credentials(&url);
    let verified =
        verify_inrelease(&data, keyring, now_unix).map_err(|e| DebianError::Signature {
            url: url.clone(),
            message: e.to_string(),
        })?;
    let release = parse_release(&verified.text).map_err(|e| DebianError::Index {
        url: url.clone(),
        message: e.to_string(),
    })?;
    if let Some(until) = release.valid_until_unix
        && until < now_unix
    {
        return Err(DebianError::Index {
            url,
            message: format!(
                "the Release file expired (Valid-Until: {}); the mirror is stale or the clock is wrong",
                release.valid_until.clone().unwrap_or_default()
            ),
        });
    }
    // The Date becomes the root filesystem's SOURCE_DATE_EPOCH (lock::LockedRootfs::epoch).
    release.date_unix.ok_or_else(|| DebianError::Index {
        url: url.clone(),
        message: format!("the Date field {:?} is not an RFC 2822 date", release.date),
    })?;
    Ok(ReleaseInfo {
        source: source.clone(),
        date: release.date.clone(),
        signer: verified.signer,
        release,
    })
}

/// What [`fetch_indexes`] reads.
pub struct IndexRequest<'a> {
    pub sources: &'a [SuiteSource],
    pub components: &'a [String],
    pub arch: &'a str,
    pub keyring: &'a Keyring,
    /// The time Valid-Until and signature dates are checked against.
    pub now_unix: i64,
    /// The index cache (created if needed).
    pub cache_dir: &'a Path,
}

/// Fetches the releases of `req.sources` (in parallel) and their Packages indexes for the
/// components and architecture, through the index cache.
pub fn fetch_indexes(
    fetcher: &Fetcher,
    req: &IndexRequest<'_>,
    on_event: &mut dyn FnMut(RootfsEvent),
) -> Result<Indexes, DebianError> {
    let IndexRequest {
        sources,
        components,
        arch,
        keyring,
        now_unix,
        cache_dir,
    } = *req;
    fs_err::create_dir_all(cache_dir)?;
    let tmp = cache_dir.join("tmp");
    fs_err::create_dir_all(&tmp)?;
    let results: Vec<Result<(ReleaseInfo, Vec<String>), DebianError>> = std::thread::scope(|s| {
        let handles: Vec<_> = sources
            .iter()
            .map(|src| {
                s.spawn(|| {
                    let rel = fetch_release(fetcher, src, keyring, now_unix)?;
                    let mut texts = Vec::new();
                    for comp in components {
                        texts.push(fetch_packages(fetcher, &rel, comp, arch, cache_dir, &tmp)?);
                    }
                    Ok((rel, texts))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(DebianError::Internal(
                        "an index download thread panicked".into(),
                    ))
                })
            })
            .collect()
    });
    let mut releases = Vec::new();
    let mut packages = Vec::new();
    for (origin, r) in results.into_iter().enumerate() {
        let (rel, texts) = r?;
        on_event(RootfsEvent::Release {
            uri: crate::credentials::strip_credentials(&rel.source.uri),
            suite: rel.source.suite.clone(),
            date: rel.date.clone(),
            signer: rel.signer.clone(),
        });
        for (comp, text) in components.iter().zip(&texts) {
            let parsed = parse_packages(text, origin).map_err(|e| DebianError::Index {
                url: format!(
                    "{}/dists/{}/{comp}/binary-{arch}/Packages",
                    crate::credentials::strip_credentials(&rel.source.uri),
                    rel.source.suite
                ),
                message: e.to_string(),
            })?;
            packages.extend(parsed);
        }
        releases.push(rel);
    }
    Ok(Indexes { releases, packages })
}

/// The uncompressed Packages index of one component, from the cache or the mirror.
fn fetch_packages(
    fetcher: &Fetcher,
    rel: &ReleaseInfo,
    comp: &str,
    arch: &str,
    cache_dir: &Path,
    tmp: &Path,
) -> Result<String, DebianError> {
    let base = format!("{comp}/binary-{arch}/Packages");
    let url_of = |p: &str| format!("{}/dists/{}/{p}", rel.source.uri, rel.source.suite);
    let shown = |u: &str| crate::credentials::strip_credentials(u);
    let plain = rel.release.file(&base).ok_or_else(|| DebianError::Index {
        url: shown(&url_of("InRelease")),
        message: format!(
            "it lists no {base}: the suite has no component {comp:?} or no architecture {arch:?} (it has components {} and architectures {})",
            rel.release.components.join(" "),
            rel.release.architectures.join(" ")
        ),
    })?;
    let cached: PathBuf = cache_dir.join(&plain.sha256);
    if cached.exists() {
        return read_text(&cached);
    }
    let (compressed, kind) = if let Some(f) = rel.release.file(&format!("{base}.xz")) {
        (f, "xz")
    } else if let Some(f) = rel.release.file(&format!("{base}.gz")) {
        (f, "gz")
    } else {
        (plain, "")
    };
    let url = url_of(&compressed.path);
    let download = tmp.join(format!("{}.{kind}", compressed.sha256));
    fetcher.download_verified(
        &url,
        Expected {
            size: compressed.size,
            sha256: &compressed.sha256,
        },
        tmp,
        &download,
    )?;
    let file = fs_err::File::open(&download)?;
    let mut reader: Box<dyn std::io::Read> = match kind {
        "xz" => Box::new(liblzma::read::XzDecoder::new(std::io::BufReader::new(file))),
        "gz" => Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file))),
        _ => Box::new(file),
    };
    // Decompressed, hashed and parsed from memory: the cached copy is written once, never re-read.
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut text).map_err(|e| DebianError::Index {
        url: shown(&url),
        message: format!("cannot decompress: {e}"),
    })?;
    let _ = fs_err::remove_file(&download);
    let digest = plinth_oci::Digest::of(&text);
    if digest.hex() != plain.sha256 {
        return Err(DebianError::Checksum {
            url: shown(&url),
            expected: format!("uncompressed sha256 {}", plain.sha256),
            actual: format!("sha256 {}", digest.hex()),
        });
    }
    let unpacked = tmp.join(format!("{}.unpacked", plain.sha256));
    fs_err::write(&unpacked, &text)?;
    fs_err::rename(&unpacked, &cached)?;
    String::from_utf8(text).map_err(|_| DebianError::Index {
        url: shown(&url),
        message: "the index is not UTF-8".into(),
    })
}

fn read_text(p: &Path) -> Result<String, DebianError> {
    String::from_utf8(fs_err::read(p)?).map_err(|_| DebianError::Index {
        url: p.display().to_string(),
        message: "the index is not UTF-8".into(),
    })
}
