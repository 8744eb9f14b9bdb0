//! One-shot Redis commands for the command line (`gateway check`, `gateway revoke`): connect
//! with the config's `[state]`, do one thing, disconnect. No mirror, no subscriber.

use std::time::Duration;

use redis::aio::MultiplexedConnection;

use super::super::revocations::Revocation;
use super::wire::{Names, Record, millis};
use super::{RedisStartError, client};
use crate::config::RedisSettings;

/// How long a command-line connection and its commands may take.
const DIRECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a command-line Redis exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum RedisCommandError {
    /// The settings cannot be used.
    #[error(transparent)]
    Start(#[from] RedisStartError),
    /// Redis refused the credentials.
    #[error("redis at {url} refused the credentials (check redis_url / redis_password_file)")]
    Credentials {
        /// The URL, password redacted.
        url: String,
        /// The server's answer.
        #[source]
        source: redis::RedisError,
    },
    /// Redis could not be reached or failed.
    #[error("redis at {url} failed")]
    Failed {
        /// The URL, password redacted.
        url: String,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// No answer in time.
    #[error("redis at {url} did not answer within {DIRECT_TIMEOUT:?}")]
    Timeout {
        /// The URL, password redacted.
        url: String,
    },
}

/// What `gateway check` found at the configured Redis.
#[derive(Debug)]
pub struct RedisProbe {
    /// The server's `redis_version`.
    pub version: String,
    /// Live revocations in this deployment's set.
    pub revocations: u64,
}

/// Connects, authenticates, and reads the server version and the revocation count.
///
/// # Errors
/// [`RedisCommandError`] saying what failed.
pub async fn probe(settings: &RedisSettings) -> Result<RedisProbe, RedisCommandError> {
    let names = Names::new(&settings.key_prefix);
    within(settings, async |conn: &mut MultiplexedConnection| {
        let info: String = redis::cmd("INFO").arg("server").query_async(conn).await?;
        let revocations: u64 = redis::cmd("ZCARD")
            .arg(&names.revocations)
            .query_async(conn)
            .await?;
        let version = info
            .lines()
            .find_map(|line| line.strip_prefix("redis_version:"))
            .unwrap_or("unknown")
            .trim()
            .to_owned();
        Ok(RedisProbe {
            version,
            revocations,
        })
    })
    .await
}

/// Writes `revocation` to the set and publishes it to every running instance.
///
/// # Errors
/// [`RedisCommandError`] saying what failed.
pub async fn write_revocation(
    settings: &RedisSettings,
    revocation: Revocation<'_>,
) -> Result<(), RedisCommandError> {
    let names = Names::new(&settings.key_prefix);
    let record = Record::from_revocation(revocation);
    let text = record.encode();
    within(settings, async |conn: &mut MultiplexedConnection| {
        redis::pipe()
            .atomic()
            .zrembyscore(
                &names.revocations,
                "-inf",
                millis(std::time::SystemTime::now()),
            )
            .ignore()
            .zadd(&names.revocations, &text, record.expires_ms())
            .ignore()
            .publish(&names.channel, &text)
            .ignore()
            .query_async::<()>(conn)
            .await
    })
    .await
}

async fn within<T>(
    settings: &RedisSettings,
    work: impl AsyncFnOnce(&mut MultiplexedConnection) -> redis::RedisResult<T>,
) -> Result<T, RedisCommandError> {
    let url = settings.url.redacted();
    let client = client(settings)?;
    let exchange = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        work(&mut conn).await
    };
    match tokio::time::timeout(DIRECT_TIMEOUT, exchange).await {
        Err(_) => Err(RedisCommandError::Timeout { url }),
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) if super::sync::is_credentials_error(&source) => {
            Err(RedisCommandError::Credentials { url, source })
        }
        Ok(Err(source)) => Err(RedisCommandError::Failed { url, source }),
    }
}
