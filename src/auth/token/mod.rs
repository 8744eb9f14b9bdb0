//! JWT keys, issue and verification: the keys and the `Validation` are built once from
//! configuration, then [`TokenKeys::issue`] mints tokens and [`TokenKeys::verify`] checks them.
//!
//! # Design
//!
//! - One algorithm, pinned by the config ([`TokenSettings::algorithm`]). The header's `alg`
//!   must name exactly that algorithm; the `Validation` lists only it. `none`, a sibling of the
//!   same family (HS512 for HS256) and the HS/RS confusion (an HS256 token whose HMAC key is
//!   the RSA public key's PEM) are all rejected before any signature is computed.
//! - Keys: HS* take the secret bytes the caller read (at least [`MIN_SECRET_BYTES`], no
//!   decoding); RS/PS/ES/EdDSA take the private key PEM (PKCS#8, or PKCS#1 for RSA). The
//!   public verification key is derived from it with jsonwebtoken's own
//!   `Jwk::from_encoding_key`, so the config needs no separate public key. Its `kid` is the
//!   RFC 7638 JWK thumbprint (SHA-256), stable across restarts and instances. Verify-only
//!   public keys `(kid, PEM)` allow rotation. Asymmetric tokens carry `kid`; HS tokens none.
//! - `kid` selects among configured keys only: no `kid` means the current signing key, an
//!   unknown one is rejected. `jku`, `x5u`, `x5c` and `jwk` headers are *ignored*: never read,
//!   never fetched, never a source of keys (a token signed by the key in its own `jwk`
//!   header fails as a bad signature).
//! - Sessions: every issued token carries `sid` and `auth_time` (OpenID Connect's names), a
//!   random id and the time of sign-in. [`TokenKeys::issue`] starts a session;
//!   [`TokenKeys::issue_in`] continues one (a renewal), so revoking a `sid` ends every token
//!   renewed from one sign-in. How long a session may be renewed is the caller's rule.
//! - This module only says *why* a token failed ([`TokenError::reason`]); the caller logs it
//!   at debug and answers a generic 401. Revocation (`jti`) and the known-user rule are the
//!   caller's, after [`TokenCache`].
//!
//! # jsonwebtoken 12 traps closed here
//!
//! - Its `exp`/`nbf` checks read the system clock (`get_current_timestamp`); there is no way
//!   to pass a time. So `validate_exp`/`validate_nbf` are off and `exp`, `nbf`, `iat` are
//!   checked here against the caller's `now`, with the configured leeway. The typed
//!   [`Claims`](claims::Claims) reject string-typed dates (`"exp": "9999999999"`), which jsonwebtoken only
//!   rejects while its own time checks are on.
//! - It only checks the claims it finds: `required_spec_claims` must list `exp`, `iss` (and
//!   `aud` when configured), and the user claim is checked here (it may not be `sub`).
//! - With `validate_aud` on and no audience set, it rejects every token that *has* an `aud`;
//!   with no audience configured we turn it off (audience neither checked nor set).
//! - It accepts `iss` as an array if any element matches; [`Claims::iss`](claims::Claims::iss) is a string.
//! - A payload may repeat a member name: its own validation refuses a repeated `exp`,
//!   `nbf`, `sub`, `iss` or `aud`, but the claims map keeps the last of any other
//!   (`groups`, `email`, a custom user claim). Two readers of one token must never disagree
//!   on what it says, so a repeated member anywhere in the payload is refused.
//! - It accepts `crit: ["b64"]` with `b64: true`. We reject any `crit`. The header is
//!   decoded here from the first segment into a minimal struct, because jsonwebtoken's
//!   `Header` reads `crit: null` as absent and cannot hold `alg: none` at all (so `none`
//!   could only be reported as "malformed", not as a wrong algorithm).
//! - `EncodingKey::from_*_pem` only unwraps PEM; a wrong key would surface at the first
//!   signature. Construction derives the JWK, which makes aws-lc parse the key (refusing
//!   e.g. RSA under 2048 bits or an EC key on the wrong curve), so a bad key fails at startup.
//! - Per call it builds a fresh signer/verifier (re-parsing the RSA private key on sign,
//!   cloning the key on verify); that is why hot paths go through the token cache.
//!
//! # Invariants
//!
//! No panics and no `unwrap` on token input; a token longer than [`MAX_TOKEN_BYTES`] or not
//! made of exactly three non-empty base64url segments is rejected before any decoding
//! (the token's syntax is checked in the `syntax` submodule).
//! The identity of an accepted token can always be sent as headers without changing its
//! meaning: the user and email hold no control character, and every group is non-empty
//! without `,` (the separator of the groups header) or control characters.
//! Key material never appears in `Debug` output or errors.

//!
//! | module | concept |
//! |---|---|
//! | `keys` | [`TokenSettings`] and [`TokenKeys`]: keys built and checked once, the JWK Set |
//! | `issue` | minting a token, in a new session or continuing one |
//! | `verify` | checking a token: header, signature, every claim |
//! | `claims` | what a token says ([`Claims`](claims::Claims)) and what a verified one tells ([`VerifiedToken`]) |
//! | `syntax` | the compact form and the JSON members, checked before any decoding |
//! | `cache` | verified tokens kept until their `exp`, so hot clients skip signature checks |
//! | `error` | [`TokenError`] and [`KeyError`] |

mod cache;
mod claims;
mod error;
mod issue;
mod keys;
pub(crate) mod syntax;
#[cfg(test)]
mod tests;
pub(crate) mod verify;

pub(crate) use cache::TokenCache;
pub use claims::{AMR_OTP, AMR_PASSWORD, Session, VerifiedToken};
pub use error::{KeyError, TokenError};
pub use keys::{TokenKeys, TokenSettings};

/// Tokens longer than this are rejected before any decoding (our own tokens are < 1 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Shortest accepted HMAC secret, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest `sid` accepted: revocations keep it in memory, so a token minted elsewhere must
/// not make one large.
pub const MAX_ID_BYTES: usize = 128;
