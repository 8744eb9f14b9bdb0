//! Authentication, black-box: login and single sign-on, token validation, credential rules,
//! identity headers, CSRF, redirects, throttling, the `/.auth` endpoints and the access
//! policy, as a browser, an API client, a forward-auth proxy and an upstream see them.
//!
//! Every rejection test checks both the secure outcome and that no upstream received the
//! request; every one has a control (the same request without the defect succeeds), so
//! removing the check it covers makes it fail.

mod credentials;
mod csrf;
mod endpoints;
mod enrollment;
mod hash_memory;
mod headers;
mod interop;
mod login;
mod passwords;
mod policy;
mod redirects;
mod second_factor;
mod sso;
mod throttle;
mod tokens;
