//! The back channel to identity providers, shared by the OpenID Connect login flow
//! (`auth::oidc`) and the trusted issuers of Bearer tokens: the gateway talking HTTPS to
//! a provider's discovery, JWKS, token and userinfo endpoints.
//!
//! | module | concept |
//! |---|---|
//! | [`http_client`] | [`BackChannel`]: a pooled HTTPS-only hyper client over `tls::client`, with a deadline and a body cap on every call |
//! | [`remote`] | [`RemoteDocument`]: a JSON document fetched over the back channel, cached, refreshed in the background (with backoff while unavailable) and on demand (rate-limited) |
//!
//! Nothing here knows what the documents mean: discovery metadata and key sets are parsed
//! into the caller's types (`openidconnect`'s, or any `Deserialize` type).

pub mod http_client;
pub mod remote;

pub use http_client::{BackChannel, BackChannelError};
pub use remote::{DocumentStatus, RemoteDocument, RemoteError, RemoteSchedule};
