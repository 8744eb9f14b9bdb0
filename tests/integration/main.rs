//! The integration tests: the real gateway over real TLS in front of real upstreams.

mod support;

mod adversarial;
mod auth;
mod browser;
mod cli;
mod deadlines;
mod deploy;
mod forward_auth;
mod headers;
mod limits;
mod oidc_harness;
mod oidc_issuers;
mod operations;
mod proxying;
mod routing;
mod scale_out;
mod shutdown;
mod tls;
