//! `[[auth.oidc]]`: the OpenID Connect providers a user may sign in with, beside (or
//! instead of) the users file. Validated here without network or secrets: the name (it is
//! part of the callback URL), the issuer (an `https` URL), the client, the scopes
//! (`openid` required), the claims, the allow-lists. The client secret is only *named*
//! (file or environment variable); `auth::oidc` reads it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::location::{Located, Problems};

/// The claim naming the user unless configured otherwise.
pub const DEFAULT_OIDC_USER_CLAIM: &str = "sub";

/// Longest provider name (it goes into URLs and cookie names).
const MAX_NAME_LEN: usize = 32;

/// Where a provider's client secret is read from.
#[derive(Debug, Clone)]
pub enum ClientSecretSource {
    /// `client_secret_file`: the file's content, surrounding whitespace trimmed.
    File(Located<PathBuf>),
    /// `client_secret_env`: this environment variable.
    Env(Located<String>),
}

/// One validated `[[auth.oidc]]`.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The id in URLs (`<prefix>/oidc/<name>/…`): lower-case letters, digits, `-`, `_`.
    pub name: String,
    /// What the login page's button says after "Sign in with"; defaults to `name`.
    pub display_name: String,
    /// The issuer URL exactly as the provider writes it in `iss` (no trailing-slash fixing).
    pub issuer: Located<String>,
    /// The gateway's client id at the provider.
    pub client_id: String,
    /// The client secret's source.
    pub client_secret: ClientSecretSource,
    /// Scopes requested; always contains `openid`.
    pub scopes: Vec<String>,
    /// The claim whose value becomes the user name.
    pub user_claim: String,
    /// The claim holding the groups (absent claim = no groups).
    pub groups_claim: Option<String>,
    /// When not empty, the user's verified e-mail must be in one of these domains.
    pub allowed_email_domains: Vec<String>,
    /// When not empty, the user must be in one of these groups.
    pub allowed_groups: Vec<String>,
    /// Trust only this CA for the provider's endpoints, else the system's roots.
    pub ca_file: Option<Located<PathBuf>>,
    /// Logout also ends the session at the provider (RP-initiated logout) when it
    /// publishes an `end_session_endpoint`.
    pub rp_initiated_logout: bool,
}

/// `[[auth.oidc]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOidc {
    name: Spanned<String>,
    display_name: Option<String>,
    issuer: Spanned<String>,
    client_id: Spanned<String>,
    client_secret_file: Option<Spanned<PathBuf>>,
    client_secret_env: Option<Spanned<String>>,
    scopes: Option<Spanned<Vec<String>>>,
    user_claim: Option<Spanned<String>>,
    groups_claim: Option<Spanned<String>>,
    #[serde(default)]
    allowed_email_domains: Vec<Spanned<String>>,
    #[serde(default)]
    allowed_groups: Vec<String>,
    ca_file: Option<Spanned<PathBuf>>,
    rp_initiated_logout: Option<bool>,
}

/// Validates every `[[auth.oidc]]`; a provider with a problem is left out (each problem
/// is in `problems`, so the config as a whole fails).
pub(super) fn validate_oidc(
    raw: Vec<RawOidc>,
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> Vec<OidcSettings> {
    let mut providers: Vec<OidcSettings> = Vec::new();
    for raw in raw {
        let name_at = raw.name.span().start;
        if let Some(provider) = validate_one(raw, base_dir, problems) {
            if providers.iter().any(|p| p.name == provider.name) {
                problems.add(
                    name_at,
                    format!("duplicate [[auth.oidc]] name {:?}", provider.name),
                );
                continue;
            }
            providers.push(provider);
        }
    }
    providers
}

fn validate_one(
    raw: RawOidc,
    base_dir: &Path,
    problems: &mut Problems<'_>,
) -> Option<OidcSettings> {
    let before = problems.found.len();
    let name = raw.name.get_ref();
    let name_ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !name_ok {
        problems.add(
            raw.name.span().start,
            format!(
                "invalid oidc name {name:?}: 1 to {MAX_NAME_LEN} of a-z, 0-9, '-', '_' (it is part of the callback URL)"
            ),
        );
    }
    let issuer = raw.issuer.get_ref();
    if !is_https_url(issuer) {
        problems.add(
            raw.issuer.span().start,
            format!(
                "invalid issuer {issuer:?}: expected an https:// URL without query or fragment"
            ),
        );
    }
    if raw.client_id.get_ref().is_empty() {
        problems.add(raw.client_id.span().start, "client_id must not be empty");
    }
    let client_secret = match (raw.client_secret_file, raw.client_secret_env) {
        (Some(file), None) => Some(ClientSecretSource::File(
            problems.locator.resolved(file, base_dir),
        )),
        (None, Some(env)) if !env.get_ref().is_empty() => {
            Some(ClientSecretSource::Env(problems.locator.located(env)))
        }
        (None, Some(env)) => {
            problems.add(env.span().start, "client_secret_env must not be empty");
            None
        }
        (Some(file), Some(_)) => {
            problems.add(
                file.span().start,
                "set one of client_secret_file or client_secret_env, not both",
            );
            None
        }
        (None, None) => {
            problems.add(
                raw.client_id.span().start,
                "[[auth.oidc]] needs client_secret_file or client_secret_env",
            );
            None
        }
    };
    let scopes = match raw.scopes {
        None => vec![
            "openid".to_owned(),
            "email".to_owned(),
            "profile".to_owned(),
        ],
        Some(scopes) => {
            let at = scopes.span().start;
            let scopes = scopes.into_inner();
            if !scopes.iter().any(|s| s == "openid") {
                problems.add(at, "scopes must contain \"openid\"");
            }
            if scopes.iter().any(|s| {
                s.is_empty()
                    || !s
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
            }) {
                problems.add(
                    at,
                    "a scope must be a non-empty token without spaces or quotes",
                );
            }
            scopes
        }
    };
    let non_empty = |claim: Option<Spanned<String>>, key: &str, problems: &mut Problems<'_>| {
        claim.and_then(|c| {
            if c.get_ref().is_empty() {
                problems.add(c.span().start, format!("{key} must not be empty"));
                None
            } else {
                Some(c.into_inner())
            }
        })
    };
    let user_claim = non_empty(raw.user_claim, "user_claim", problems)
        .unwrap_or_else(|| DEFAULT_OIDC_USER_CLAIM.to_owned());
    let groups_claim = non_empty(raw.groups_claim, "groups_claim", problems);
    let mut allowed_email_domains = Vec::new();
    for domain in raw.allowed_email_domains {
        let lower = domain
            .get_ref()
            .trim_start_matches('@')
            .to_ascii_lowercase();
        if lower.is_empty() || lower.contains(['@', '/', ' ']) || lower.starts_with('.') {
            problems.add(
                domain.span().start,
                format!(
                    "invalid e-mail domain {:?}: expected a domain such as \"example.com\"",
                    domain.get_ref()
                ),
            );
        } else {
            allowed_email_domains.push(lower);
        }
    }
    let ca_file = raw.ca_file.map(|f| problems.locator.resolved(f, base_dir));
    if problems.found.len() != before {
        return None;
    }
    Some(OidcSettings {
        display_name: raw
            .display_name
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| name.clone()),
        name: raw.name.into_inner(),
        issuer: problems.locator.located(raw.issuer),
        client_id: raw.client_id.into_inner(),
        client_secret: client_secret?,
        scopes,
        user_claim,
        groups_claim,
        allowed_email_domains,
        allowed_groups: raw.allowed_groups,
        ca_file,
        rp_initiated_logout: raw.rp_initiated_logout.unwrap_or(true),
    })
}

/// `https://` followed by a host, no query or fragment, no whitespace.
fn is_https_url(url: &str) -> bool {
    url.strip_prefix("https://").is_some_and(|rest| {
        let host = rest.split('/').next().unwrap_or("");
        !host.is_empty()
            && !host.contains('@')
            && !rest.contains(['?', '#'])
            && rest.bytes().all(|b| b.is_ascii_graphic())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const BASE: &str = r#"
[tls]
cert = "c.pem"
key = "k.pem"

[auth]
issuer = "gw"
secret_env = "S"
"#;

    fn load(providers: &str) -> Result<Config, String> {
        let text = format!("{BASE}\n{providers}");
        Config::from_toml_str(&text, Path::new("/etc/gateway")).map_err(|e| e.to_string())
    }

    #[test]
    fn full_provider_is_read_with_paths_resolved() {
        let config = load(
            r#"
[[auth.oidc]]
name = "corp"
display_name = "Corp SSO"
issuer = "https://idp.example.com/realms/x"
client_id = "gateway"
client_secret_file = "certs/oidc.secret"
scopes = ["openid", "email"]
user_claim = "preferred_username"
groups_claim = "groups"
allowed_email_domains = ["Example.com"]
allowed_groups = ["staff"]
ca_file = "certs/idp-ca.pem"
rp_initiated_logout = false
"#,
        )
        .expect("valid");
        let oidc = &config.auth.expect("auth").oidc;
        assert_eq!(oidc.len(), 1);
        let corp = &oidc[0];
        assert_eq!(corp.display_name, "Corp SSO");
        assert_eq!(corp.user_claim, "preferred_username");
        assert_eq!(corp.groups_claim.as_deref(), Some("groups"));
        assert_eq!(corp.allowed_email_domains, vec!["example.com".to_owned()]);
        assert!(!corp.rp_initiated_logout);
        assert!(matches!(&corp.client_secret, ClientSecretSource::File(f)
            if f.value == Path::new("/etc/gateway/certs/oidc.secret")));
        assert_eq!(
            corp.ca_file.as_ref().map(|f| f.value.clone()),
            Some(PathBuf::from("/etc/gateway/certs/idp-ca.pem"))
        );
    }

    #[test]
    fn defaults_are_sub_openid_email_profile_and_logout_on() {
        let config = load(
            "[[auth.oidc]]\nname = \"g\"\nissuer = \"https://accounts.google.com\"\nclient_id = \"x\"\nclient_secret_env = \"G\"\n",
        )
        .expect("valid");
        let g = &config.auth.expect("auth").oidc[0];
        assert_eq!(g.user_claim, "sub");
        assert_eq!(g.scopes, ["openid", "email", "profile"]);
        assert_eq!(g.display_name, "g");
        assert!(g.rp_initiated_logout);
        assert!(g.groups_claim.is_none());
    }

    #[test]
    fn bad_providers_are_refused_with_positions() {
        let cases = [
            ("name = \"Corp\"", "invalid oidc name"),
            ("name = \"\"", "invalid oidc name"),
            ("issuer = \"http://idp.test\"", "invalid issuer"),
            ("issuer = \"https://idp.test/?x=1\"", "invalid issuer"),
            ("scopes = [\"email\"]", "scopes must contain \"openid\""),
            ("scopes = [\"openid\", \"a b\"]", "a scope must be"),
            ("client_id = \"\"", "client_id must not be empty"),
            ("user_claim = \"\"", "user_claim must not be empty"),
            ("allowed_email_domains = [\"a@b\"]", "invalid e-mail domain"),
        ];
        for (line, expected) in cases {
            let key = line.split(' ').next().expect("key");
            let mut lines = vec![
                "name = \"corp\"".to_owned(),
                "issuer = \"https://idp.test\"".to_owned(),
                "client_id = \"gw\"".to_owned(),
                "client_secret_env = \"E\"".to_owned(),
            ];
            lines.retain(|l| !l.starts_with(&format!("{key} ")));
            lines.push(line.to_owned());
            let text = format!("[[auth.oidc]]\n{}\n", lines.join("\n"));
            let err = load(&text).expect_err(line);
            assert!(err.contains(expected), "{line}: {err}");
            assert!(err.contains("gateway.toml:") || err.contains(':'), "{err}");
        }
    }

    #[test]
    fn secret_is_required_once_and_names_are_unique() {
        let none = "[[auth.oidc]]\nname = \"a\"\nissuer = \"https://i.test\"\nclient_id = \"c\"\n";
        assert!(
            load(none)
                .expect_err("no secret")
                .contains("needs client_secret_file")
        );
        let both = format!("{none}client_secret_env = \"E\"\nclient_secret_file = \"s\"\n");
        assert!(load(&both).expect_err("both").contains("not both"));
        let one = format!("{none}client_secret_env = \"E\"\n");
        let twice = format!("{one}\n{one}");
        assert!(
            load(&twice)
                .expect_err("dup")
                .contains("duplicate [[auth.oidc]] name")
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = "[[auth.oidc]]\nname = \"a\"\nissuer = \"https://i.test\"\nclient_id = \"c\"\nclient_secret_env = \"E\"\nredirect_uri = \"x\"\n";
        assert!(load(text).is_err());
    }
}
