//! The state of one login attempt at a provider, kept in the browser: a short-lived,
//! HMAC-signed, HttpOnly cookie whose *name* is derived from the attempt's `state`, so two
//! tabs signing in at once each have their own cookie and neither overwrites the other.
//!
//! The value is `v1.<payload>.<mac>` (base64url JSON, base64url HMAC-SHA256). The payload
//! holds the provider name, `state`, `nonce`, the PKCE verifier, the validated `rd` and an
//! expiry ([`LOGIN_STATE_TTL`]). The key is derived from the JWT key material with its own
//! label ([`LoginStateKey::derive`]), as the device-cookie key is, so instances sharing a
//! key accept each other's attempts and nothing else the gateway signs is a login state.
//!
//! A callback is believed only when the cookie named after its `state` exists, its MAC is
//! right, it is unexpired, it is for this provider and its `state` equals the query's. The
//! callback expires the cookie whatever the outcome, so an attempt is used once; a replay
//! of a captured callback with its cookie still fails at the provider, which redeems a
//! code once (RFC 6749 §4.1.2) and only with the PKCE verifier of its own attempt.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// How long a login attempt may take at the provider.
pub const LOGIN_STATE_TTL: Duration = Duration::from_secs(10 * 60);

/// The label the key is derived with (domain separation from JWT signing, device cookies).
const KEY_LABEL: &[u8] = b"gateway oidc login-state key v1";
/// The format version, first in every value.
const VERSION: &str = "v1";
/// Longest cookie value accepted (a value is a few hundred bytes).
const MAX_VALUE_LEN: usize = 3072;

/// The HMAC key of login-state cookies.
pub struct LoginStateKey {
    key: hmac::Key,
}

impl std::fmt::Debug for LoginStateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginStateKey(<redacted>)")
    }
}

/// One login attempt.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    /// The provider's `name`.
    pub provider: String,
    /// The `state` sent to the provider.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub pkce_verifier: String,
    /// Where the user lands afterwards (already validated by `safe_redirect`).
    pub rd: String,
    /// Unix seconds after which the attempt is refused.
    pub expires: u64,
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState")
            .field("provider", &self.provider)
            .field("rd", &self.rd)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// Why a login-state cookie was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoginStateError {
    /// No cookie for this `state` (forged, replayed, or from another browser).
    #[error("no login attempt for this state")]
    Missing,
    /// The value is not one of ours (bad format or MAC).
    #[error("login state cookie is not genuine")]
    Forged,
    /// The attempt is older than [`LOGIN_STATE_TTL`].
    #[error("login attempt expired")]
    Expired,
    /// The cookie is for another provider or another `state`.
    #[error("login state does not match this callback")]
    Mismatch,
}

impl LoginStateKey {
    /// Derives the key from the JWT key material (HMAC-SHA256 over a fixed label).
    pub fn derive(jwt_key_material: &[u8]) -> Self {
        let extract = hmac::Key::new(hmac::HMAC_SHA256, jwt_key_material);
        let derived = hmac::sign(&extract, KEY_LABEL);
        LoginStateKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    /// The signed cookie value of `state`.
    pub fn seal(&self, state: &LoginState) -> String {
        let json = serde_json::to_vec(state).expect("a LoginState always serializes");
        let payload = URL_SAFE_NO_PAD.encode(json);
        let signed = format!("{VERSION}.{payload}");
        let mac = hmac::sign(&self.key, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    }

    /// The attempt in `value`, when genuine, unexpired at `now` and for `provider` and
    /// `state`.
    ///
    /// # Errors
    /// The [`LoginStateError`] that refused it.
    pub fn open(
        &self,
        value: &str,
        provider: &str,
        state: &str,
        now: SystemTime,
    ) -> Result<LoginState, LoginStateError> {
        if value.len() > MAX_VALUE_LEN {
            return Err(LoginStateError::Forged);
        }
        let (signed, mac) = value.rsplit_once('.').ok_or(LoginStateError::Forged)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| LoginStateError::Forged)?;
        hmac::verify(&self.key, signed.as_bytes(), &mac).map_err(|_| LoginStateError::Forged)?;
        let payload = signed
            .strip_prefix(VERSION)
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or(LoginStateError::Forged)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| LoginStateError::Forged)?;
        let opened: LoginState =
            serde_json::from_slice(&json).map_err(|_| LoginStateError::Forged)?;
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        if now > opened.expires {
            return Err(LoginStateError::Expired);
        }
        if opened.provider != provider || opened.state != state {
            return Err(LoginStateError::Mismatch);
        }
        Ok(opened)
    }
}

/// The unix time `LOGIN_STATE_TTL` after `now`.
pub fn expiry(now: SystemTime) -> u64 {
    (now + LOGIN_STATE_TTL)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The cookie name of the attempt with `state`: `<cookie_name>_oidc_<state>`, or `None`
/// when `state` is not a plain base64url token (then no cookie can be ours).
pub fn cookie_name(cookie_name: &str, state: &str) -> Option<String> {
    let plain = !state.is_empty()
        && state.len() <= 64
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plain.then(|| format!("{cookie_name}_oidc_{state}"))
}

/// The `Set-Cookie` value storing an attempt: host-only, `Path=path` (the provider's
/// callback), `HttpOnly; Secure; SameSite=Lax` (Lax: the provider's redirect back is a
/// cross-site top-level GET, which Lax lets through and nothing else), for
/// [`LOGIN_STATE_TTL`]. `None` when `name`, `value` or `path` are not cookie-safe.
pub fn set_cookie(name: &str, value: &str, path: &str) -> Option<http::HeaderValue> {
    cookie_safe(value, path).then_some(())?;
    let max_age = LOGIN_STATE_TTL.as_secs();
    http::HeaderValue::from_str(&format!(
        "{name}={value}; Max-Age={max_age}; Path={path}; HttpOnly; Secure; SameSite=Lax"
    ))
    .ok()
}

/// The `Set-Cookie` value that expires the attempt's cookie.
pub fn clear_cookie(name: &str, path: &str) -> Option<http::HeaderValue> {
    cookie_safe("x", path).then_some(())?;
    http::HeaderValue::from_str(&format!(
        "{name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path={path}; HttpOnly; Secure; SameSite=Lax"
    ))
    .ok()
}

fn cookie_safe(value: &str, path: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && path.starts_with('/')
        && !path
            .bytes()
            .any(|b| b == b';' || b.is_ascii_control() || b == b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(now: SystemTime) -> LoginState {
        LoginState {
            provider: "corp".into(),
            state: "abc_DEF-123".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            rd: "/deep?x=1".into(),
            expires: expiry(now),
        }
    }

    #[test]
    fn sealed_state_opens_for_its_provider_and_state_only() {
        let key = LoginStateKey::derive(b"secret material");
        let now = SystemTime::now();
        let value = key.seal(&attempt(now));
        assert_eq!(
            key.open(&value, "corp", "abc_DEF-123", now),
            Ok(attempt(now))
        );
        assert_eq!(
            key.open(&value, "other", "abc_DEF-123", now),
            Err(LoginStateError::Mismatch)
        );
        assert_eq!(
            key.open(&value, "corp", "abc", now),
            Err(LoginStateError::Mismatch)
        );
        let late = now + LOGIN_STATE_TTL + Duration::from_secs(2);
        assert_eq!(
            key.open(&value, "corp", "abc_DEF-123", late),
            Err(LoginStateError::Expired)
        );
    }

    #[test]
    fn tampered_or_foreign_values_are_forged() {
        let key = LoginStateKey::derive(b"secret material");
        let other = LoginStateKey::derive(b"other material");
        let now = SystemTime::now();
        let value = key.seal(&attempt(now));
        let mut tampered = value.clone().into_bytes();
        tampered[5] ^= 1;
        let tampered = String::from_utf8(tampered).expect("ascii");
        for bad in [
            other.seal(&attempt(now)),
            tampered,
            String::new(),
            "v1.x".into(),
            "x".repeat(MAX_VALUE_LEN + 1),
        ] {
            assert_eq!(
                key.open(&bad, "corp", "abc_DEF-123", now),
                Err(LoginStateError::Forged),
                "{bad}"
            );
        }
    }

    #[test]
    fn cookies_are_host_only_http_only_secure_lax_on_the_callback_path() {
        let set = set_cookie("gw_oidc_s", "v1.a.b", "/.auth/oidc/corp/callback").expect("safe");
        assert_eq!(
            set.to_str().expect("ascii"),
            "gw_oidc_s=v1.a.b; Max-Age=600; Path=/.auth/oidc/corp/callback; HttpOnly; Secure; SameSite=Lax"
        );
        let clear = clear_cookie("gw_oidc_s", "/.auth/oidc/corp/callback").expect("safe");
        assert!(clear.to_str().expect("ascii").contains("Max-Age=0"));
        assert!(set_cookie("n", "a;b", "/x").is_none());
        assert!(set_cookie("n", "a", "/x;Domain=evil").is_none());
    }

    #[test]
    fn cookie_names_come_only_from_plain_states() {
        assert_eq!(cookie_name("gw", "aB-_9").as_deref(), Some("gw_oidc_aB-_9"));
        for bad in ["", "a b", "a;b", "a=b", &"x".repeat(65)] {
            assert_eq!(cookie_name("gw", bad), None, "{bad:?}");
        }
    }
}
