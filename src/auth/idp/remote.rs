//! [`RemoteDocument`]: a JSON document a provider publishes (its discovery metadata, its
//! key set), fetched over the [`BackChannel`], cached, and kept fresh.
//!
//! Three ways a document is fetched, and their rules:
//! - **In the background** ([`RemoteDocument::keep_fresh`]): a task fetches it at once,
//!   retries with exponential backoff ([`RemoteSchedule::retry_min`] doubling up to
//!   [`RemoteSchedule::retry_max`]) while the provider is unavailable, then refreshes it
//!   every [`RemoteSchedule::refresh_every`]. The task holds only a `Weak` reference, so it
//!   ends when the config generation that owns the document is dropped (reload, shutdown).
//! - **On demand** ([`RemoteDocument::refresh_if_allowed`]): when a caller has reason to
//!   think the copy is stale (a token signed with an unknown `kid`), one fetch — at most
//!   one per [`RemoteSchedule::on_demand_every`], counted from the previous *on-demand*
//!   fetch, so the first key rotation is always picked up at once while a flood of forged
//!   `kid`s costs the provider one request per interval. Concurrent callers share one fetch.
//! - **Directly** ([`RemoteDocument::fetch`]): one fetch, no caching (`gateway check`).
//!
//! A failed refresh keeps the last good copy: a provider that is briefly down does not
//! log everyone out of the login flow. [`RemoteDocument::status`] says what is known, for
//! `/readyz` and `/metrics`.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use serde::de::DeserializeOwned;

use super::{BackChannel, BackChannelError};

/// When a document is fetched again.
#[derive(Debug, Clone, Copy)]
pub struct RemoteSchedule {
    /// The first retry delay after a failed fetch; doubled after each further failure.
    pub retry_min: Duration,
    /// The longest retry delay.
    pub retry_max: Duration,
    /// How often a good copy is refreshed in the background.
    pub refresh_every: Duration,
    /// The least time between two on-demand fetches.
    pub on_demand_every: Duration,
}

impl Default for RemoteSchedule {
    fn default() -> Self {
        RemoteSchedule {
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            refresh_every: Duration::from_secs(15 * 60),
            on_demand_every: Duration::from_secs(30),
        }
    }
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The call itself failed (connection, TLS, deadline, body).
    #[error(transparent)]
    Call(#[from] BackChannelError),
    /// The provider answered with a status other than 200.
    #[error("{url}: answered {status}")]
    Status {
        /// The URL fetched.
        url: String,
        /// The status received.
        status: http::StatusCode,
    },
    /// The body is not the expected JSON document.
    #[error("{url}: not a valid document")]
    Json {
        /// The URL fetched.
        url: String,
        /// Why it did not parse.
        #[source]
        source: serde_json::Error,
    },
}

/// What is known about a document, for readiness and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentStatus {
    /// Never fetched yet (the first fetch is in flight).
    Pending,
    /// A good copy is cached, fetched at this time.
    Fresh {
        /// When the cached copy was fetched.
        fetched_at: SystemTime,
    },
    /// The last fetch failed; `cached` says whether an older good copy is still served.
    Failing {
        /// The last error, as text (for `/readyz` and logs; contains no secrets).
        error: String,
        /// Whether an older good copy is still served.
        cached: bool,
    },
}

/// A cached JSON document at a fixed HTTPS URL, parsed as `T`.
pub struct RemoteDocument<T> {
    url: String,
    channel: BackChannel,
    schedule: RemoteSchedule,
    current: ArcSwapOption<T>,
    status: Mutex<DocumentStatus>,
    /// Held during an on-demand fetch (single flight); holds when the last one started.
    on_demand: tokio::sync::Mutex<Option<Instant>>,
}

impl<T> std::fmt::Debug for RemoteDocument<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteDocument")
            .field("url", &self.url)
            .field(
                "status",
                &*self
                    .status
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> RemoteDocument<T> {
    /// A document at `url`, not fetched yet (call [`RemoteDocument::keep_fresh`] or one
    /// of the fetch methods).
    pub fn new(url: String, channel: BackChannel, schedule: RemoteSchedule) -> Self {
        RemoteDocument {
            url,
            channel,
            schedule,
            current: ArcSwapOption::empty(),
            status: Mutex::new(DocumentStatus::Pending),
            on_demand: tokio::sync::Mutex::new(None),
        }
    }

    /// The URL the document is fetched from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cached copy, if any fetch has succeeded.
    pub fn current(&self) -> Option<Arc<T>> {
        self.current.load_full()
    }

    /// What is known about the document.
    pub fn status(&self) -> DocumentStatus {
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Fetches and parses the document once, without touching the cache.
    ///
    /// # Errors
    /// A [`RemoteError`]: the call failed, the status was not 200, or the JSON is not a `T`.
    pub async fn fetch(&self) -> Result<T, RemoteError> {
        let response = self.channel.get(&self.url).await?;
        if response.status() != http::StatusCode::OK {
            return Err(RemoteError::Status {
                url: self.url.clone(),
                status: response.status(),
            });
        }
        serde_json::from_slice(response.body()).map_err(|source| RemoteError::Json {
            url: self.url.clone(),
            source,
        })
    }

    /// Fetches the document and caches it; on failure the old copy stays.
    ///
    /// # Errors
    /// As [`RemoteDocument::fetch`].
    pub async fn refresh(&self) -> Result<Arc<T>, RemoteError> {
        let result = self.fetch().await.map(Arc::new);
        let mut status = self
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &result {
            Ok(document) => {
                self.current.store(Some(document.clone()));
                *status = DocumentStatus::Fresh {
                    fetched_at: SystemTime::now(),
                };
            }
            Err(e) => {
                *status = DocumentStatus::Failing {
                    error: error_chain(e),
                    cached: self.current.load().is_some(),
                };
            }
        }
        result
    }

    /// An on-demand refresh, at most one per [`RemoteSchedule::on_demand_every`]:
    /// `Ok(Some(new))` when this call (or a concurrent one it waited for) fetched a new
    /// copy, `Ok(None)` when the interval has not passed (the cached copy stays).
    ///
    /// # Errors
    /// As [`RemoteDocument::fetch`], when the allowed fetch failed.
    pub async fn refresh_if_allowed(&self) -> Result<Option<Arc<T>>, RemoteError> {
        let before = self.current();
        let mut last = self.on_demand.lock().await;
        // A concurrent caller fetched while this one waited for the lock: use its copy.
        let after = self.current();
        if let (Some(before), Some(after)) = (&before, &after)
            && !Arc::ptr_eq(before, after)
        {
            return Ok(Some(after.clone()));
        }
        if last.is_some_and(|at| at.elapsed() < self.schedule.on_demand_every) {
            return Ok(None);
        }
        *last = Some(Instant::now());
        self.refresh().await.map(Some)
    }

    /// Starts the background task that fetches the document now, retries with backoff
    /// while it fails, and refreshes it on schedule. The task ends when `self` is dropped.
    /// It runs on the back channel's own runtime ([`background`]), so this may be called
    /// from anywhere — before the server's runtimes start, or from any worker.
    pub fn keep_fresh(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        background().spawn(refresh_loop(weak));
    }
}

/// The runtime of the background refreshes: one thread for the whole process, started on
/// first use. The server's worker runtimes come and go with `run`; a document's schedule
/// must not depend on which of them happened to create it.
fn background() -> &'static tokio::runtime::Handle {
    static HANDLE: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime builds unless the OS is out of resources");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("idp-refresh".to_owned())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("spawning the refresh thread fails only when the OS is out of resources");
        handle
    })
}

/// The background loop of [`RemoteDocument::keep_fresh`]; holds the document only while
/// fetching, so dropping the last strong reference ends it at the next wake-up.
async fn refresh_loop<T: DeserializeOwned + Send + Sync + 'static>(
    document: Weak<RemoteDocument<T>>,
) {
    let mut retry = None;
    loop {
        let Some(strong) = document.upgrade() else {
            return;
        };
        let schedule = strong.schedule;
        let wait = match strong.refresh().await {
            Ok(_) => {
                if retry.is_some() {
                    tracing::info!(url = %strong.url, "identity provider document fetched");
                }
                retry = None;
                schedule.refresh_every
            }
            Err(e) => {
                let delay = next_retry(retry, &schedule);
                tracing::warn!(
                    url = %strong.url,
                    error = %error_chain(&e),
                    retry_in = ?delay,
                    "identity provider document unavailable"
                );
                retry = Some(delay);
                delay
            }
        };
        drop(strong);
        tokio::time::sleep(wait).await;
    }
}

/// Exponential backoff: `retry_min`, then doubling, capped at `retry_max`.
fn next_retry(previous: Option<Duration>, schedule: &RemoteSchedule) -> Duration {
    match previous {
        None => schedule.retry_min,
        Some(delay) => (delay * 2).min(schedule.retry_max),
    }
}

/// An error and its causes on one line, `a: b: c` (for status text and log fields).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::client::TrustRoots;

    fn schedule() -> RemoteSchedule {
        RemoteSchedule {
            retry_min: Duration::from_millis(10),
            retry_max: Duration::from_millis(40),
            refresh_every: Duration::from_secs(3600),
            on_demand_every: Duration::from_secs(3600),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = schedule();
        let mut delay = None;
        let mut seen = Vec::new();
        for _ in 0..4 {
            let next = next_retry(delay, &s);
            seen.push(next.as_millis());
            delay = Some(next);
        }
        assert_eq!(seen, vec![10, 20, 40, 40]);
    }

    #[tokio::test]
    async fn failed_fetch_is_reported_and_on_demand_refresh_is_rate_limited() {
        let channel = BackChannel::new(TrustRoots::System).expect("roots");
        let document: RemoteDocument<serde_json::Value> =
            RemoteDocument::new("https://127.0.0.1:9/jwks".into(), channel, schedule());
        assert_eq!(document.status(), DocumentStatus::Pending);
        assert!(document.refresh_if_allowed().await.is_err());
        assert!(
            matches!(
                document.status(),
                DocumentStatus::Failing { cached: false, .. }
            ),
            "{:?}",
            document.status()
        );
        // The interval has not passed: no second fetch, no error, no copy.
        assert!(matches!(document.refresh_if_allowed().await, Ok(None)));
        assert!(document.current().is_none());
    }

    #[test]
    fn error_chain_joins_causes() {
        let inner = std::io::Error::other("refused");
        let outer = BackChannelError::Body {
            url: "https://idp.test/jwks".into(),
            source: Box::new(inner),
        };
        assert_eq!(
            error_chain(&outer),
            "https://idp.test/jwks: cannot read the response body: refused"
        );
    }
}
