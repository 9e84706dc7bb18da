//! Downloads from a Debian mirror (`http://`, `https://` with verified TLS, or `file://` for a
//! local mirror), verified by size and SHA-256 before they land in a cache under their hash.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use super::DebianError;

/// What a downloaded file must be.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: &'a str,
}

/// An HTTP client for mirrors. Cheap to clone; share one across threads.
#[derive(Clone)]
pub struct Fetcher {
    agent: ureq::Agent,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fetcher")
    }
}

impl Default for Fetcher {
    fn default() -> Self {
        Fetcher::new()
    }
}

/// Resolves each host once per fetcher: parallel downloads open several connections to one
/// mirror, and a lookup per connection multiplies the chances of a resolver timeout (glibc
/// waits 5 s before it retries a lost UDP answer).
#[derive(Debug, Default)]
struct CachingResolver {
    inner: ureq::unversioned::resolver::DefaultResolver,
    cache: std::sync::Mutex<
        std::collections::HashMap<String, ureq::unversioned::resolver::ResolvedSocketAddrs>,
    >,
}

impl ureq::unversioned::resolver::Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let Some(key) = uri.authority().map(|a| format!("{:?}{a}", uri.scheme())) else {
            return self.inner.resolve(uri, config, timeout);
        };
        // Held while resolving, so the threads of a parallel download wait for one lookup.
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(hit) = cache.get(&key) {
            return Ok(hit.clone());
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        cache.insert(key, addrs.clone());
        Ok(addrs)
    }
}

/// Attempts per download (network errors and 5xx answers are retried; 4xx are not).
const ATTEMPTS: u32 = 3;

impl Fetcher {
    pub fn new() -> Fetcher {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(10)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_body(Some(Duration::from_secs(600)))
            .user_agent(concat!("plinth/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::default(),
            CachingResolver::default(),
        );
        Fetcher { agent }
    }

    /// The body of `url` in memory (small files: InRelease).
    pub fn get_bytes(&self, url: &str, limit: u64) -> Result<Vec<u8>, DebianError> {
        let mut out = Vec::new();
        self.with_body(url, &mut |r| {
            out.clear();
            r.take(limit + 1).read_to_end(&mut out)?;
            Ok(())
        })?;
        if out.len() as u64 > limit {
            return Err(DebianError::Fetch {
                url: crate::credentials::strip_credentials(url),
                message: format!("the answer is larger than {limit} bytes"),
            });
        }
        Ok(out)
    }

    /// Downloads `url` into the directory `tmp_dir`, checks `expected`, and renames the file to
    /// `dest` (so `dest` is either absent or complete and verified). Returns the bytes written.
    pub fn download_verified(
        &self,
        url: &str,
        expected: Expected<'_>,
        tmp_dir: &Path,
        dest: &Path,
    ) -> Result<u64, DebianError> {
        let mut tmp = tempfile::Builder::new()
            .prefix("download-")
            .tempfile_in(tmp_dir)
            .map_err(|source| DebianError::Io {
                path: tmp_dir.to_path_buf(),
                source,
            })?;
        let tmp_path: PathBuf = tmp.path().to_path_buf();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        self.with_body(url, &mut |r| {
            tmp.as_file_mut().set_len(0)?;
            let mut f = tmp.as_file();
            std::io::Seek::rewind(&mut f)?;
            hasher = Sha256::new();
            size = 0;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = r.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                size += n as u64;
                if size > expected.size {
                    return Err(std::io::Error::other(format!(
                        "more than the {} bytes the index lists",
                        expected.size
                    )));
                }
                hasher.update(&buf[..n]);
                f.write_all(&buf[..n])?;
            }
            Ok(())
        })?;
        let actual = hex::encode(hasher.finalize());
        if size != expected.size || actual != expected.sha256 {
            return Err(DebianError::Checksum {
                url: crate::credentials::strip_credentials(url),
                expected: format!("{} bytes, sha256 {}", expected.size, expected.sha256),
                actual: format!("{size} bytes, sha256 {actual}"),
            });
        }
        tmp.persist(dest).map_err(|e| DebianError::Io {
            path: tmp_path,
            source: e.error,
        })?;
        Ok(size)
    }

    /// Opens `url` and hands its body to `read`, retrying network failures.
    fn with_body(
        &self,
        url: &str,
        read: &mut dyn FnMut(&mut dyn Read) -> std::io::Result<()>,
    ) -> Result<(), DebianError> {
        let shown = crate::credentials::strip_credentials(url);
        let err = |message: String| DebianError::Fetch {
            url: shown.clone(),
            message,
        };
        if let Some(path) = url.strip_prefix("file://") {
            let mut f = fs_err::File::open(path).map_err(|e| err(e.to_string()))?;
            return read(&mut f).map_err(|e| err(e.to_string()));
        }
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500 << attempt));
            }
            let mut resp = match self.agent.get(url).call() {
                Ok(r) => r,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let status = resp.status().as_u16();
            if status == 404 || status == 410 {
                return Err(DebianError::NotFound { url: shown });
            }
            if !(200..300).contains(&status) {
                last = format!("HTTP status {status}");
                if status < 500 {
                    break;
                }
                continue;
            }
            let mut body = resp.body_mut().with_config().limit(u64::MAX).reader();
            match read(&mut body) {
                Ok(()) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(err(last))
    }
}
