//! The Redis store's client thread: builds the connection manager, keeps one pub/sub
//! subscription to the revocation channel, and re-syncs the local mirror with the set.
//!
//! Loop, with exponential backoff (100 ms … 5 s) between failed rounds:
//! 1. subscribe to the channel (so nothing published from now on is missed);
//! 2. re-sync: drop expired members, load the rest into the mirror, write back every live
//!    local revocation the set lacks (and publish it, so instances that already synced
//!    learn it too) — this is the "outbox" of revocations made while Redis was away, and
//!    what rebuilds a Redis that restarted empty;
//! 3. mark the store up, then apply each message as it arrives; a failed write elsewhere
//!    (`dirty`) triggers another re-sync; the subscription ending (Redis died, restarted, or
//!    the network broke) marks the store down and starts the next round.
//!
//! Owner: the thread holds the only `watch::Receiver`; dropping the store's sender ends it.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::super::StateStore;
use super::shared::{COMMAND_TIMEOUT, Shared};
use super::wire::{Record, millis};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a live subscription checks that Redis still answers.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Members written back per pipeline during a re-sync.
const WRITE_BATCH: usize = 500;

/// Starts the client thread.
pub(super) fn spawn(
    shared: Arc<Shared>,
    client: redis::Client,
    stop: watch::Receiver<()>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("gateway-redis".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    error!(error = %e, "cannot start the redis client runtime");
                    return;
                }
            };
            runtime.block_on(run(shared, client, stop));
        })
        .map(drop)
}

async fn run(shared: Arc<Shared>, client: redis::Client, mut stop: watch::Receiver<()>) {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(MAX_BACKOFF);
    match ConnectionManager::new_lazy_with_config(client.clone(), config) {
        Ok(manager) => {
            let _ = shared.conn.set(manager);
        }
        Err(e) => {
            mark_down(&shared, format!("redis client: {e}"));
            return;
        }
    }
    let mut backoff = FIRST_BACKOFF;
    loop {
        let round = tokio::select! {
            round = session(&shared, &client, &mut backoff) => round,
            _ = stop.changed() => return,
        };
        if let Err(reason) = round {
            mark_down(&shared, reason);
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One round: subscribe, re-sync, follow the channel. Returns why it ended.
async fn session(
    shared: &Shared,
    client: &redis::Client,
    backoff: &mut Duration,
) -> Result<(), String> {
    let mut pubsub = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| "redis unreachable: connect timed out".to_owned())?
        .map_err(|e| describe(&e))?;
    pubsub
        .subscribe(&shared.names.channel)
        .await
        .map_err(|e| describe(&e))?;
    // Up before the re-sync: a logout from now on is written directly, so none can fall
    // between the re-sync's look at the mirror and the store being up.
    shared.up.store(true, Ordering::Release);
    resync(shared).await.map_err(|e| describe(&e))?;
    shared.metrics.store().set_up(true);
    *backoff = FIRST_BACKOFF;
    info!("redis state store in use");
    let mut messages = pubsub.on_message();
    // A subscription over a silently broken network would wait forever: ping through the
    // command connection now and then, and start a new round when it fails.
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = heartbeat.tick() => ping(shared).await?,
            message = messages.next() => match message {
                Some(message) => apply(shared, message.get_payload_bytes()),
                None => return Err("redis connection lost".to_owned()),
            },
            () = shared.dirty.notified() => {
                resync(shared).await.map_err(|e| describe(&e))?;
            }
        }
    }
}

async fn ping(shared: &Shared) -> Result<(), String> {
    let Some(mut conn) = shared.conn.get().cloned() else {
        return Ok(());
    };
    let ping = redis::cmd("PING");
    match tokio::time::timeout(COMMAND_TIMEOUT, ping.query_async::<String>(&mut conn)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err("redis unreachable: ping timed out".to_owned()),
    }
}

/// What an operator should read in `/readyz` and the log (never the URL or password).
fn describe(e: &redis::RedisError) -> String {
    if is_credentials_error(e) {
        format!("redis refused the credentials (check redis_url / redis_password_file): {e}")
    } else {
        format!("redis unreachable: {e}")
    }
}

/// Whether Redis refused the password (or wanted one).
pub(super) fn is_credentials_error(e: &redis::RedisError) -> bool {
    matches!(e.kind(), redis::ErrorKind::AuthenticationFailed)
        || e.code().is_some_and(|c| c == "WRONGPASS" || c == "NOAUTH")
}

fn mark_down(shared: &Shared, reason: String) {
    let was_up = shared.up.swap(false, Ordering::AcqRel);
    shared.metrics.store().set_up(false);
    shared.metrics.store().error("connect");
    let mut current = shared.reason.lock().unwrap_or_else(PoisonError::into_inner);
    if was_up || *current != reason {
        if reason.contains("credentials") {
            error!(reason = %reason, "redis state store unavailable; using local state, retrying");
        } else {
            warn!(reason = %reason, "redis state store unavailable; using local state, retrying");
        }
    }
    *current = reason;
}

/// Applies one published revocation to the mirror; a malformed one is logged and ignored.
fn apply(shared: &Shared, payload: &[u8]) {
    match Record::decode(payload) {
        Some(record) => {
            if let Some(revocation) = record.revocation() {
                // `MemoryStore::revoke` does its work when called.
                drop(shared.local.revoke(revocation, SystemTime::now()));
                shared.metrics.store().revocation_seen();
            }
        }
        None => warn!(
            bytes = payload.len(),
            "ignoring a malformed revocation message from redis"
        ),
    }
}

/// Loads the set into the mirror and writes back what the set lacks.
async fn resync(shared: &Shared) -> redis::RedisResult<()> {
    let Some(mut conn) = shared.conn.get().cloned() else {
        return Ok(());
    };
    let now = SystemTime::now();
    let now_ms = millis(now);
    let key = &shared.names.revocations;
    let (members,): (Vec<Vec<u8>>,) = redis::pipe()
        .zrembyscore(key, "-inf", now_ms)
        .ignore()
        .zrangebyscore(key, format!("({now_ms}"), "+inf")
        .query_async(&mut conn)
        .await?;
    let mut known = HashSet::with_capacity(members.len());
    for member in members {
        apply(shared, &member);
        known.insert(member);
    }
    let mut missing = Vec::new();
    shared.local.for_each_revocation(now, |revocation| {
        let record = Record::from_revocation(revocation);
        let text = record.encode();
        if !known.contains(text.as_bytes()) {
            missing.push((record.expires_ms(), text));
        }
    });
    if !missing.is_empty() {
        info!(count = missing.len(), "writing revocations redis lacks");
    }
    for batch in missing.chunks(WRITE_BATCH) {
        let mut pipe = redis::pipe();
        for (score, text) in batch {
            pipe.zadd(key, text, *score)
                .ignore()
                .publish(&shared.names.channel, text)
                .ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;
    }
    Ok(())
}

/// Writes one new revocation to the set and the channel; when Redis is not in use or the
/// write fails, the next re-sync writes it (it is already in the mirror).
pub(super) async fn publish(shared: &Shared, record: &Record) {
    let Some(mut conn) = shared.connection() else {
        return;
    };
    let text = record.encode();
    let mut pipe = redis::pipe();
    // Expired members leave the set as new ones arrive (and at every re-sync).
    pipe.atomic()
        .zrembyscore(&shared.names.revocations, "-inf", millis(SystemTime::now()))
        .ignore()
        .zadd(&shared.names.revocations, &text, record.expires_ms())
        .ignore()
        .publish(&shared.names.channel, &text)
        .ignore();
    let write = pipe.query_async::<()>(&mut conn);
    let failed = match tokio::time::timeout(COMMAND_TIMEOUT, write).await {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out".to_owned(),
    };
    warn!(error = %failed, "cannot write a revocation to redis; it holds here and is written on re-sync");
    shared.metrics.store().error("write");
    shared.dirty.notify_one();
}
