//! `gateway.toml` → a validated [`Config`].
//!
//! Two stages. Serde fills the `Raw*` structs (every one `deny_unknown_fields`, so a typo is
//! an error, not a silently ignored key); values that can be checked on their own — durations,
//! socket addresses, CIDRs, upstream URLs — are parsed inside `Deserialize`, so the TOML parser
//! reports them with the value's own line and column. Then validation turns the raw tree
//! into typed settings and checks what needs more than one value (a route with neither
//! `upstream` nor `upstreams`, a duplicate host + path) using `toml::Spanned` positions.
//! Every problem is reported as `file:line:col: message`, like `nginx -t`.
//!
//! This module only reads the config text: certificates and keys named here are loaded by
//! [`crate::tls`] before any port is bound. It never reads environment variables (only
//! `main.rs` does, into an [`Environment`] handed to [`Config::load`]), and relative paths
//! are resolved against the config file's folder (those set from the environment too).
//!
//! # Files
//!
//! This file is the folder's façade: it declares the files and re-exports their public
//! names, and defines nothing. One concept per file; lower ones never name higher ones:
//!
//! - values: `location` (positions, [`Problem`], the collector of problems), `duration`,
//!   `cidr`, `upstream`, `access`, `hsts`;
//! - sections: `server`, `tls`, `cookie`, `headers`, `keys`, `users`, `auth` (which uses
//!   `cookie`, `headers`, `keys`), `routes` (which checks a protected route has `[auth]`),
//!   `forward_auth`, `state` (where revocations and throttling live);
//! - the whole file: `error` ([`ConfigError`]), `schema` (the key table, read from the
//!   `Raw*` types), `environment` (`GATEWAY_<SECTION>__<KEY>` variables laid over the file),
//!   `load` ([`Config`]: every section, then the cross-section rules);
//! - `warnings`: advice about a valid [`Config`] for `gateway check`.

mod access;
mod auth;
mod cidr;
mod cookie;
mod duration;
mod environment;
mod error;
mod forward_auth;
mod headers;
mod hsts;
mod keys;
mod load;
mod location;
mod oidc;
mod routes;
mod schema;
mod server;
mod state;
mod tls;
mod trusted_issuers;
mod upstream;
mod users;
mod warnings;

pub use access::{Access, Allowlist};
pub use auth::{AuthSettings, DEFAULT_USER_CLAIM, SecondFactorPolicy};
pub use cidr::Cidr;
pub use cookie::{CookieSettings, SameSite, is_valid_cookie_name};
pub use duration::{ConfigDuration, parse_duration};
pub use environment::{Environment, EnvironmentKey};
pub use error::ConfigError;
pub use forward_auth::{ForwardAuthSettings, Unmatched, UrlSource};
pub use headers::IdentityHeaders;
pub use keys::KeySource;
pub use load::Config;
pub use location::{Located, Location, Problem};
pub use oidc::{ClientSecretSource, OidcSettings};
pub use routes::RouteSettings;
pub use server::{
    DEFAULT_BODY_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_RELEASE_AFTER,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_LISTEN, DEFAULT_LISTEN_BACKLOG, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADERS, DEFAULT_MAX_REQUEST_HEADER_BYTES, DEFAULT_SHUTDOWN_GRACE,
    DEFAULT_TLS_HANDSHAKE_TIMEOUT, DEFAULT_UPSTREAM_CONNECT_TIMEOUT, DEFAULT_UPSTREAM_TIMEOUT,
    DEFAULT_WRITE_TIMEOUT, ServerSettings,
};
pub use state::{RedisSettings, RedisUrl, StateSettings};
pub use tls::{SniSettings, TlsSettings};
pub use trusted_issuers::{IssuerKeysAt, TrustedIssuerSettings};
pub use upstream::{Upstream, UpstreamTls};
pub use users::{HtpasswdSettings, ThrottleSettings, UsersSettings, default_throttle};
pub use warnings::{DEMO_USER, LookalikeNames, UsersFacts, Warning, warnings};

#[cfg(test)]
mod tests;
