//! Signing in with an OpenID Connect provider (`[[auth.oidc]]`), end to end: the real
//! gateway, real upstreams and a real provider (panva's `oidc-provider`, see
//! `support::oidc_provider`) over TLS, driven over HTTP.
//!
//! - `flow`: the code flow, the cookie, the mapped identity at the upstream, SSO, two tabs,
//!   userinfo, `require_known_user` for local users only;
//! - `refusals`: provider error, forged/replayed state, wrong nonce, spent or foreign
//!   code, users outside `allowed_*` — each a page, no token, nothing upstream;
//! - `lifecycle`: provider down at start, key rotation mid-run, RP-initiated logout;
//! - `check`: `gateway check` reporting discovery, an unreachable provider, a missing secret.

mod check;
mod flow;
mod lifecycle;
mod refusals;

use crate::scale_out::readyz;
use crate::support::auth_config::auth_config;
use crate::support::client::TestResponse;
use crate::support::cookies::{COOKIE, set_cookies};
use crate::support::gateway::TestGateway;
use crate::support::oidc_provider::{OidcProvider, ProviderOptions};
use crate::support::requests::{Req, percent_encode};
use crate::support::upstream::{self, Upstream};
use crate::support::within;

/// The host every flow test signs in on.
pub const HOST: &str = "app1.example.test";
/// The callback the gateway sends to the provider for [`HOST`].
pub const CALLBACK: &str = "https://app1.example.test/.auth/oidc/corp/callback";
/// Where the provider returns after RP-initiated logout.
pub const AFTER_LOGOUT: &str = "https://app1.example.test/.auth/login";

/// How long discovery may take to succeed (its retries back off up to a minute).
const DISCOVERY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// A gateway with one provider `corp`, its upstreams, and the provider.
pub struct Sso {
    pub provider: OidcProvider,
    pub gateway: TestGateway,
    pub app1: Upstream,
    pub app2: Upstream,
    _secret: tempfile::TempDir,
}

/// Starts a provider with `options`, then a gateway with the common auth config plus
/// `[[auth.oidc]] corp` (with `extra` lines).
pub async fn sso_with(options: ProviderOptions, extra: &str) -> Sso {
    let provider = OidcProvider::start_with(options).await;
    let sso = sso_on(provider, extra).await;
    sso.wait_until_discovered().await;
    sso
}

/// [`sso_with`] with the default provider options.
pub async fn sso(extra: &str) -> Sso {
    sso_with(ProviderOptions::new(&[CALLBACK], &[AFTER_LOGOUT]), extra).await
}

/// A gateway in front of `provider` (running or not).
pub async fn sso_on(provider: OidcProvider, extra: &str) -> Sso {
    sso_edited(provider, extra, |text| text).await
}

/// A gateway with the provider and no users file: OIDC alone.
pub async fn sso_alone(extra: &str) -> Sso {
    let options = ProviderOptions::new(&[CALLBACK], &[AFTER_LOGOUT]);
    let provider = OidcProvider::start_with(options).await;
    let sso = sso_edited(provider, extra, |text| {
        let start = text.find("[users]\n").expect("a [users] section");
        let end = start + text[start..].find("\n\n").expect("its end");
        format!("{}{}", &text[..start], &text[end..])
    })
    .await;
    sso.wait_until_discovered().await;
    sso
}

async fn sso_edited(
    provider: OidcProvider,
    extra: &str,
    edit: impl FnOnce(String) -> String,
) -> Sso {
    let app1 = upstream::start("app1").await;
    let app2 = upstream::start("app2").await;
    let secret = tempfile::tempdir().expect("tempdir");
    let secret_path = secret.path().join("oidc.secret");
    std::fs::write(&secret_path, format!("{}\n", provider.client_secret())).expect("secret");
    // `{secret}` in `extra` (e.g. a second provider section) is the client secret file.
    let extra = extra.replace("{secret}", &secret_path.display().to_string());
    let section = oidc_section(&provider, "corp", &secret_path, &extra);
    let gateway = auth_config(&app1.url(), &app2.url())
        .start_edited(|text| format!("{}\n{section}", edit(text)))
        .await;
    Sso {
        provider,
        gateway,
        app1,
        app2,
        _secret: secret,
    }
}

/// One `[[auth.oidc]]` section for `provider`.
pub fn oidc_section(
    provider: &OidcProvider,
    name: &str,
    secret: &std::path::Path,
    extra: &str,
) -> String {
    format!(
        "[[auth.oidc]]\nname = \"{name}\"\ndisplay_name = \"Corp SSO\"\nissuer = \"{}\"\n\
         client_id = \"{}\"\nclient_secret_file = \"{}\"\nca_file = \"{}\"\n\
         scopes = [\"openid\", \"email\", \"profile\"]\nuser_claim = \"preferred_username\"\n\
         groups_claim = \"groups\"\n{extra}\n",
        provider.issuer(),
        provider.client_id(),
        secret.display(),
        provider.ca_path().display()
    )
}

/// A login attempt begun at the gateway: the provider URL and the attempt's cookie.
pub struct Attempt {
    /// The gateway's 302 `Location`: the provider's authorization URL.
    pub authorization_url: String,
    /// `name=value` of the attempt cookie.
    pub cookie: String,
}

impl Sso {
    /// `GET /.auth/oidc/corp/start?rd=…` on [`HOST`].
    pub async fn begin(&self, rd: &str) -> Attempt {
        let path = format!("/.auth/oidc/corp/start?rd={}", percent_encode(rd));
        let response = self.send(Req::get(HOST, &path)).await;
        assert_eq!(response.status, 302, "{}", response.text());
        let authorization_url = location(&response);
        assert!(
            authorization_url.starts_with(&format!("{}/auth?", self.provider.issuer())),
            "{authorization_url}"
        );
        let cookies = set_cookies(&response.headers);
        let attempt = cookies
            .iter()
            .find(|c| c.name.starts_with(&format!("{COOKIE}_oidc_")))
            .expect("an attempt cookie");
        assert!(
            attempt.has_flag("httponly") && attempt.has_flag("secure"),
            "{attempt:?}"
        );
        assert_eq!(attempt.value_of("path"), Some("/.auth/oidc/corp/callback"));
        assert_eq!(attempt.value_of("domain"), None, "host-only: {attempt:?}");
        Attempt {
            authorization_url,
            cookie: format!("{}={}", attempt.name, attempt.value),
        }
    }

    /// Delivers the provider's redirect `back` to the gateway with `cookie`.
    pub async fn callback(&self, back: &str, cookie: Option<&str>) -> TestResponse {
        let path = back
            .strip_prefix(&format!("https://{HOST}"))
            .unwrap_or_else(|| panic!("the provider returned elsewhere: {back}"));
        let mut request = Req::get(HOST, path).accept("text/html");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        self.send(request).await
    }

    /// The whole flow for `user`, landing at `rd`: the callback's response.
    pub async fn sign_in(&self, user: &str, rd: &str) -> TestResponse {
        let attempt = self.begin(rd).await;
        let back = within(self.provider.login(&attempt.authorization_url, user)).await;
        self.callback(&back, Some(&attempt.cookie)).await
    }

    /// Polls `/readyz` until it no longer names any provider as unavailable (discovery runs
    /// in the background from startup).
    pub async fn wait_until_discovered(&self) {
        let deadline = std::time::Instant::now() + DISCOVERY_DEADLINE;
        loop {
            let (_, body) = readyz(self.gateway.admin_addr).await;
            if !body.contains(" unavailable: ") {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "discovery never succeeded: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Sends `request` to the gateway.
    pub async fn send(&self, request: Req) -> TestResponse {
        within(
            self.gateway
                .client()
                .send(request.build(), crate::support::client::Protocol::Http1),
        )
        .await
    }
}

/// The `Location` header.
pub fn location(response: &TestResponse) -> String {
    response
        .headers
        .get("location")
        .unwrap_or_else(|| panic!("no Location: {response:?}"))
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// The gateway token a successful callback set.
pub fn token_of(response: &TestResponse) -> String {
    crate::support::cookies::gateway_set_cookie(&response.headers).value
}

/// The payload of our token, decoded without verification (the gateway verified it).
pub fn payload(token: &str) -> serde_json::Value {
    use base64::Engine;
    let part = token.split('.').nth(1).expect("a JWT");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&json).expect("json")
}
