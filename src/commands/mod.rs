//! The subcommands' work, one file each; `main.rs` parses the command line, reads the
//! environment and the terminal, and calls them. [`Error`] (startup and command failures)
//! lives here, at the top of the crate, where every layer's error can be wrapped.
//!
//! | module | command |
//! |---|---|
//! | `check` | `gateway check`: validate everything, bind nothing |
//! | `explain` | `gateway explain URL`: the route and the access decision for one request, and why |
//! | `token` | `gateway token`: mint a token for a user |
//! | `healthcheck` | `gateway healthcheck`: probe the admin `/healthz` |
//! | `totp` | `gateway totp enroll|disable`: a user's second factor, in the users file |
//! | `revoke` | `gateway revoke --user`: sign a user out everywhere |
//! | `error` | [`Error`], what stops a start or a command |
//!
//! `gateway run` is `main.rs` calling [`crate::run`]; `gateway hash-password` is
//! [`hash_password`] on a password read from the terminal.

mod check;
mod error;
mod explain;
pub mod healthcheck;
mod revoke;
mod token;
pub mod totp;

pub use check::{CheckSummary, check};
pub use error::{Error, Result};
pub use explain::{ExplainRequest, Explanation, explain};
pub use healthcheck::{HealthError, healthcheck};
pub use revoke::{RevokedVia, revoke_user};
pub use token::mint_token;

pub use crate::auth::users::password::hash_password;
