//! The common gateway config with authentication: `[auth]`, `[auth.cookie]`,
//! `[auth.redirect]`, `[users]` and routes on two upstreams, with the files it refers to
//! (the users file, the signing secret or key), as a builder.

use super::cookies::COOKIE;
use super::gateway::{TestGateway, start_with};
use super::tokens::{AUDIENCE, ISSUER, RSA_PRIVATE_PEM, SECRET};
use super::users::users_toml;

/// `auth.token_ttl` in seconds ("2h").
pub const TTL_SECS: i64 = 7200;

/// The common gateway config: `[auth]`, `[auth.cookie]`, `[auth.redirect]`, `[users]` and
/// these routes (the harness appends `[tls]`):
/// - `app1.example.test/` → app1, `access = "authenticated"`;
/// - `app1.example.test/public` → app1, `access = "public"`;
/// - `app1.example.test/admin` → app1, `access = { groups = ["admins"] }`;
/// - `app2.example.test/` → app2, no `access` (the default: authenticated).
pub struct AuthConfig {
    algorithm: &'static str,
    audience: Vec<String>,
    max_failures: u32,
    auth_lines: Vec<String>,
    server_lines: Vec<String>,
    routes: String,
    users: String,
    /// The private key of an asymmetric `algorithm` (default: the fixture RSA key).
    private_key: Option<Vec<u8>>,
    /// Hosts with their own `[[tls.sni]]` certificate.
    sni_hosts: Vec<&'static str>,
}

/// [`AuthConfig`] for the two upstream URLs.
pub fn auth_config(app1: &str, app2: &str) -> AuthConfig {
    AuthConfig {
        algorithm: "HS256",
        audience: vec![AUDIENCE.to_owned()],
        // High, so that the few failed logins of ordinary tests never lock anything out;
        // the throttling tests lower it.
        max_failures: 100,
        auth_lines: Vec::new(),
        server_lines: Vec::new(),
        routes: format!(
            "[[route]]\nhost = \"app1.example.test\"\nupstream = \"{app1}\"\naccess = \"authenticated\"\n\n\
             [[route]]\nhost = \"app1.example.test\"\npath = \"/public\"\nupstream = \"{app1}\"\naccess = \"public\"\n\n\
             [[route]]\nhost = \"app1.example.test\"\npath = \"/admin\"\nupstream = \"{app1}\"\naccess = {{ groups = [\"admins\"] }}\n\n\
             [[route]]\nhost = \"app2.example.test\"\nupstream = \"{app2}\"\n"
        ),
        users: users_toml(),
        private_key: None,
        sni_hosts: Vec::new(),
    }
}

impl AuthConfig {
    /// Adds one `key = value` line to `[auth]`.
    pub fn auth(mut self, line: &str) -> AuthConfig {
        self.auth_lines.push(line.to_owned());
        self
    }

    /// Adds one `key = value` line to `[server]`.
    pub fn server(mut self, line: &str) -> AuthConfig {
        self.server_lines.push(line.to_owned());
        self
    }

    /// Replaces `auth.audience` (`[]`: no audience configured).
    pub fn audience(mut self, audience: &[&str]) -> AuthConfig {
        self.audience = audience.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Sets `users.max_failures`.
    pub fn max_failures(mut self, n: u32) -> AuthConfig {
        self.max_failures = n;
        self
    }

    /// RS256 with `tests/fixtures/keys/rsa-private.pem` instead of the HS256 secret.
    pub fn rs256(mut self) -> AuthConfig {
        self.algorithm = "RS256";
        self
    }

    /// Signs with `algorithm` (asymmetric) and the PEM key `private_pem`.
    pub fn signing(mut self, algorithm: &'static str, private_pem: &[u8]) -> AuthConfig {
        self.algorithm = algorithm;
        self.private_key = Some(private_pem.to_vec());
        self
    }

    /// Replaces the users file.
    pub fn users(mut self, users: &str) -> AuthConfig {
        self.users = users.to_owned();
        self
    }

    /// Gives `host` its own `[[tls.sni]]` certificate.
    pub fn sni(mut self, host: &'static str) -> AuthConfig {
        self.sni_hosts.push(host);
        self
    }

    /// Replaces the routes.
    pub fn routes(mut self, routes: &str) -> AuthConfig {
        self.routes = routes.to_owned();
        self
    }

    /// The config text (without `[tls]`, which the harness appends).
    pub fn text(&self) -> String {
        let mut text = String::new();
        if !self.server_lines.is_empty() {
            text.push_str("[server]\n");
            for line in &self.server_lines {
                text.push_str(line);
                text.push('\n');
            }
            text.push('\n');
        }
        let audience: Vec<String> = self.audience.iter().map(|a| format!("\"{a}\"")).collect();
        text.push_str(&format!(
            "[auth]\nissuer = \"{ISSUER}\"\naudience = [{}]\nalgorithm = \"{}\"\n",
            audience.join(", "),
            self.algorithm
        ));
        if self.algorithm.starts_with("HS") {
            text.push_str("secret_file = \"jwt.secret\"\n");
        } else {
            text.push_str("private_key = \"jwt.pem\"\n");
        }
        text.push_str("token_ttl = \"2h\"\nrenew_before = \"30m\"\nleeway = \"30s\"\n");
        for line in &self.auth_lines {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&format!(
            "\n[auth.cookie]\nname = \"{COOKIE}\"\ndomains = [\"example.test\"]\n\n\
             [auth.redirect]\nallowed_domains = [\"example.test\"]\n\n\
             [users]\nfile = \"users.toml\"\nmax_failures = {}\nfailure_window = \"5m\"\nlockout = \"5m\"\n\n",
            self.max_failures
        ));
        text.push_str(&self.routes);
        text
    }

    /// The files the config refers to, relative to its folder.
    pub fn files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut files = vec![("users.toml", self.users.clone().into_bytes())];
        if self.algorithm.starts_with("HS") {
            files.push(("jwt.secret", format!("{SECRET}\n").into_bytes()));
        } else {
            let key = self.private_key.as_deref().unwrap_or(RSA_PRIVATE_PEM);
            files.push(("jwt.pem", key.to_vec()));
        }
        files
    }

    /// Starts a gateway with this config.
    pub async fn start(&self) -> TestGateway {
        self.start_edited(|text| text).await
    }

    /// Starts a gateway with this config's text changed by `edit`, and its files.
    pub async fn start_edited(&self, edit: impl FnOnce(String) -> String) -> TestGateway {
        let files = self.files();
        let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_slice())).collect();
        start_with(&edit(self.text()), &self.sni_hosts, &borrowed).await
    }
}
