//! The integration tests: the real gateway over real TLS in front of real upstreams.

mod support;

mod access_rules;
mod adversarial;
mod auth;
mod browser;
mod cli;
mod deadlines;
mod deploy;
mod environment;
mod explain;
mod forward_auth;
mod headers;
mod htpasswd;
mod https_upstream;
mod keep_alive;
mod limits;
mod oidc;
mod oidc_harness;
mod oidc_issuers;
mod operations;
mod proxying;
mod routing;
mod scale_out;
mod shutdown;
mod tls;
