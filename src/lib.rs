//! `gateway`: a TLS-terminating reverse proxy that puts JWT login in front of existing web
//! services, routing by host and path.
//!
//! # Layers
//!
//! The crate is a stack of layers; a module uses its own layer and the layers below, never
//! above (`scripts/check-layers.py` holds the table and fails CI on an upward import or an
//! import cycle, between top-level modules or between the files of any folder).
//!
//! | layer | modules | concept |
//! |---|---|---|
//! | top | [`commands`], `main.rs` | the subcommands; the startup [`Error`] |
//! | runtime | `server`, `admin` | workers, accept loops, connection tasks, deadlines, shutdown; `/healthz` `/readyz` `/metrics` |
//! | composition root | `gateway` | [`Gateway`]: the current [`Snapshot`] built from a validated [`Config`], swapped on reload |
//! | HTTP edge | `request` (with `request::portal`) | the pipeline in DESIGN.md's order; `RequestError`, built from the domains' errors and rendered as JSON, HTML or a login redirect; the gateway's own endpoints |
//! | domains | `auth`, `upstream`, `tls` | who a credential is and may do (`auth::access` decides once); forwarding; certificates — each with its own typed errors, none of HTTP answers |
//! | config | [`config`] | `gateway.toml` → a validated [`Config`]; owns every settings type |
//! | leaves | `identity`, `http`, `router`, `metrics`, [`log_format`], [`log_writer`], `worker`, `text_position`, `files` | who a request is; body, replies, drain, escaping; routing and normalization; counters; how log lines look and where they go; the per-worker index; positions in text; files we create |
//!
//! # A request's path through them
//!
//! `server` accepts (a permit from `max_connections`), does the TLS handshake under a
//! timeout with the snapshot's `tls`, and serves HTTP/1.1 or HTTP/2 with the snapshot's
//! protocol settings. For each request it takes the current `Snapshot` from the
//! [`Gateway`] and calls `request::Pipeline::handle`, which runs DESIGN.md's steps:
//! 1 the request head (`request::target`: method, host, path normalized once);
//! 2 the gateway's own endpoints under `auth.prefix` (`request::portal`);
//! 3 the route (`router`); 4–5 the access decision (`auth::access`: the credential from
//! `auth::session`, verified by `auth::token` against `auth::state`'s revocations, the
//! route's rule, CSRF); 6 a refusal becomes a 401/403 or a login redirect
//! (`request::render`); 7 forwarding with header hygiene and the identity injected
//! (`upstream`); 8 cookie renewal; 9 one access event (`request::record`).
//!
//! Everything a request needs was built from one validated [`Config`] before any port was
//! bound; a reload builds a whole new [`Snapshot`] and swaps it in.

#![forbid(unsafe_code)]

mod admin;
mod auth;
pub mod commands;
pub mod config;
mod files;
mod gateway;
mod http;
mod identity;
pub mod log_format;
pub mod log_writer;
mod metrics;
mod request;
mod router;
mod server;
mod text_position;
mod tls;
mod upstream;
mod worker;

pub use commands::{Error, Result};
pub use config::Config;
pub use gateway::{Gateway, LoadError, Snapshot};
pub use server::{Listeners, bind, run};

/// Internals the criterion benchmarks call directly. Not a stable API.
#[doc(hidden)]
pub mod bench {
    pub use crate::auth::Auth;
    pub use crate::auth::session::cookie::strip_ours;
    pub use crate::auth::state::MemoryStore;
    pub use crate::auth::token::{TokenKeys, TokenSettings, VerifiedToken};
    pub use crate::auth::users::password::hash_password;
    pub use crate::identity::Identity;
    pub use crate::metrics::Metrics;
    pub use crate::router::{
        HostPattern, Routed, Router, normalize_host, normalize_path, parse_route_prefix,
    };
    pub use crate::upstream::headers::{
        ClientSide, ProtectedHeaders, inject_identity, prepare_upstream_request,
    };
}

/// Entry points for the cargo-fuzz targets in `fuzz/`: the request path's own parsing and
/// validation functions, nothing re-implemented. Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::auth::session::cookie::{find_token, strip_ours};
    pub use crate::auth::session::redirect::{origin_allowed, safe_redirect};
    pub use crate::auth::session::{Credential, CredentialSource, find_credential as credential};
    pub use crate::auth::token::{TokenKeys, TokenSettings};
    pub use crate::auth::users::Users;
    pub use crate::request::fuzz_request_target as request_target;
    pub use crate::router::{
        HostPattern, Routed, Router, normalize_host, normalize_path, parse_route_prefix,
    };
    pub use jsonwebtoken::Algorithm;
}
