//! A browser's or client's session with the gateway, as far as one request shows it: which
//! credential it carries, our cookies (session and device), where it may be sent after
//! signing in, and whether it came from one of our sites (CSRF). Pure functions of headers
//! and settings; verifying the token is `auth::token`'s business.
//!
//! | module | concept |
//! |---|---|
//! | `credential` | which token a request carries: `Authorization` first, else our cookie |
//! | `cookie` | our cookie: find it, strip it before forwarding, build `Set-Cookie` |
//! | `device` | device cookies: signed "this browser signed in as this user", for throttling |
//! | `redirect` | `rd=` validation and the Origin/Referer (CSRF) check |

pub mod cookie;
mod credential;
pub mod device;
pub mod redirect;

pub use credential::{Credential, CredentialError, CredentialSource, find_credential};
