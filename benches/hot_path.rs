//! Criterion micro-benchmarks of the per-request hot path: token verification (cache miss
//! and hit, per algorithm), route lookup with 10 and 10,000 routes, host/path
//! normalization, and header rewriting. `cargo bench --bench hot_path`.
//!
//! These measure single calls on one core; `bench/compare.sh` measures the whole proxy under
//! load. Only `gateway::bench` is not part of the regular library API: it re-exports the
//! header-hygiene functions (private module `proxy::headers`) for this file.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use http::Method;
use http::header::{self, HeaderMap, HeaderValue};

use gateway::Config;
use gateway::bench::{
    Auth, ClientSide, HostPattern, Identity, MemoryStore, Metrics, ProtectedHeaders, Routed,
    Router, TokenKeys, TokenSettings, hash_password, inject_identity, normalize_host,
    normalize_path, parse_route_prefix, prepare_upstream_request, strip_ours,
};
use gateway::config::{IdentityHeaders, default_throttle};
use jsonwebtoken::Algorithm;

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys");
const ISSUER: &str = "https://bench.gateway.invalid";
const HS_SECRET: &str = "bench-only-secret-0123456789abcdef0123456789";
const USER: &str = "bench";

/// (label, algorithm, `[auth]` key line, private key file for `TokenKeys::from_pem`)
const ALGORITHMS: [(&str, Algorithm, &str, Option<&str>); 4] = [
    (
        "HS256",
        Algorithm::HS256,
        "secret_env = \"BENCH_SECRET\"",
        None,
    ),
    (
        "RS256",
        Algorithm::RS256,
        "private_key = \"rsa-private.pem\"",
        Some("rsa-private.pem"),
    ),
    (
        "ES256",
        Algorithm::ES256,
        "private_key = \"ec-p256-private.pem\"",
        Some("ec-p256-private.pem"),
    ),
    (
        "EdDSA",
        Algorithm::EdDSA,
        "private_key = \"ed25519-private.pem\"",
        Some("ed25519-private.pem"),
    ),
];

fn env(name: &str) -> Option<String> {
    (name == "BENCH_SECRET").then(|| HS_SECRET.to_owned())
}

fn token_keys(algorithm: Algorithm, pem: Option<&str>) -> TokenKeys {
    let settings = TokenSettings {
        algorithm,
        issuer: ISSUER.to_owned(),
        audience: vec!["bench.invalid".to_owned()],
        leeway: Duration::from_secs(30),
        token_ttl: Duration::from_secs(7200),
        user_claim: "sub".to_owned(),
    };
    match pem {
        None => TokenKeys::from_secret(settings, HS_SECRET.as_bytes()).expect("hs keys"),
        Some(file) => {
            let pem = std::fs::read(Path::new(KEYS).join(file)).expect("fixture key");
            TokenKeys::from_pem(settings, &pem, &[]).expect("pem keys")
        }
    }
}

/// The whole authentication state as the gateway builds it: keys, token cache, users file
/// (with `require_known_user`), revocation store.
fn auth(algorithm: &str, key_line: &str, users_dir: &Path) -> Auth {
    let text = format!(
        "[tls]\ncert = \"c.crt\"\nkey = \"c.key\"\n\
         [auth]\nissuer = \"{ISSUER}\"\naudience = [\"bench.invalid\"]\n\
         algorithm = \"{algorithm}\"\n{key_line}\nrequire_known_user = true\n\
         [users]\nfile = \"{users}\"\n\
         [[route]]\npath = \"/\"\nupstream = \"http://127.0.0.1:9\"\n",
        users = users_dir.join("users.toml").display(),
    );
    let config = Config::from_toml_str(&text, Path::new(KEYS)).expect("bench config");
    let settings = config.auth.as_ref().expect("[auth]");
    Auth::load(
        settings,
        config.users.as_ref(),
        &env,
        Arc::new(MemoryStore::new(default_throttle())),
        Arc::new(Metrics::new()),
    )
    .expect("auth state")
}

fn users_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let hash = hash_password("bench-password").expect("hash");
    let users =
        format!("[[user]]\nname = \"{USER}\"\npassword = \"{hash}\"\ngroups = [\"staff\"]\n");
    std::fs::write(dir.path().join("users.toml"), users).expect("users file");
    dir
}

fn tokens(c: &mut Criterion) {
    let dir = users_dir();
    let now = SystemTime::now();
    let ttl = Duration::from_secs(7200);
    let mut group = c.benchmark_group("token");
    for (label, algorithm, key_line, pem) in ALGORITHMS {
        let keys = token_keys(algorithm, pem);
        let token = keys
            .issue(USER, &["staff".to_owned()], None, ttl, now)
            .expect("issue");
        // Cache miss: everything a first request with this token pays.
        group.bench_with_input(
            BenchmarkId::new("verify_miss", label),
            &token,
            |b, token| {
                b.iter(|| keys.verify(black_box(token), now).expect("valid"));
            },
        );
        // Cache hit: SHA-256 of the token, shard lookup, revocation and user checks.
        let auth = auth(label, key_line, dir.path());
        let token = auth.issue_for(USER, None, ttl, now).expect("issue");
        auth.authenticate(&token, now).expect("valid");
        group.bench_with_input(
            BenchmarkId::new("authenticate_hit", label),
            &token,
            |b, token| {
                b.iter(|| auth.authenticate(black_box(token), now).expect("valid"));
            },
        );
    }
    // Finding the credential in a request (Authorization header first, then the cookie).
    let auth = auth(ALGORITHMS[0].0, ALGORITHMS[0].2, dir.path());
    let token = auth.issue_for(USER, None, ttl, now).expect("issue");
    let headers = browser_headers(&token);
    group.bench_function("credential", |b| {
        b.iter(|| auth.credential(black_box(&headers)).expect("ok").is_some());
    });
    group.finish();
}

/// `count` routes shaped like a real config: per host a root route and an `/api` route,
/// one wildcard and one any-host fallback.
fn router(count: usize) -> Router<usize> {
    let mut routes = vec![
        (
            HostPattern::parse("*.wild.example.com").expect("pattern"),
            parse_route_prefix("/").expect("prefix"),
            None,
            0,
        ),
        (
            HostPattern::Any,
            parse_route_prefix("/").expect("prefix"),
            None,
            1,
        ),
    ];
    let mut i = 0;
    while routes.len() < count {
        let host = HostPattern::parse(&format!("app{i}.example.com")).expect("pattern");
        routes.push((host.clone(), "/".to_owned(), None, routes.len()));
        if routes.len() < count {
            routes.push((
                host,
                parse_route_prefix("/api/v1").expect("prefix"),
                None,
                routes.len(),
            ));
        }
        i += 1;
    }
    Router::new(routes)
}

fn routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("route");
    for count in [10, 10_000] {
        let router = router(count);
        let cases = [
            (
                "exact_prefix",
                "app3.example.com",
                "/api/v1/users/42/orders",
            ),
            ("exact_root", "app3.example.com", "/static/app.js"),
            ("wildcard", "x.wild.example.com", "/a/b"),
            ("any_host_fallback", "unknown.example.org", "/a/b/c"),
        ];
        for (name, host, path) in cases {
            assert!(
                matches!(router.route(host, path, &Method::GET), Ok(Routed::Found(_))),
                "{name} must match"
            );
            group.bench_function(BenchmarkId::new(name, count), |b| {
                b.iter(|| router.route(black_box(host), black_box(path), &Method::GET));
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("normalize");
    group.bench_function("host", |b| {
        b.iter(|| normalize_host(black_box("App3.Example.com:8443")));
    });
    for (name, path) in [
        ("path_plain", "/api/v1/users/42/orders"),
        (
            "path_dots_escapes",
            "/api/./v1//users/%7Ebob/../42/%2e%2e/orders",
        ),
    ] {
        group.bench_function(name, |b| b.iter(|| normalize_path(black_box(path))));
    }
    group.finish();
}

/// What a browser-ish client sends through the gateway: 14 headers.
fn browser_headers(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut add = |name: &'static str, value: &str| {
        headers.append(name, HeaderValue::from_str(value).expect("header value"));
    };
    add("host", "app3.example.com");
    add(
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    );
    add(
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    );
    add("accept-language", "en-US,en;q=0.5");
    add("accept-encoding", "gzip, deflate, br, zstd");
    add("authorization", &format!("Bearer {token}"));
    add("cookie", "theme=dark; _ga=GA1.1.123456789.1700000000");
    add("connection", "keep-alive");
    add("upgrade-insecure-requests", "1");
    add("sec-fetch-dest", "document");
    add("sec-fetch-mode", "navigate");
    add("sec-fetch-site", "none");
    add("x-forwarded-user", "mallory"); // a spoofed identity header, must go
    add("priority", "u=0, i");
    headers
}

fn header_rewriting(c: &mut Criterion) {
    let identity_headers = IdentityHeaders::default();
    let protected = ProtectedHeaders::new(&identity_headers);
    let host = HeaderValue::from_static("app3.example.com");
    let client = ClientSide {
        peer: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
        peer_trusted: false,
        host: &host,
    };
    let identity = Identity {
        user: USER.to_owned(),
        groups: vec!["staff".to_owned(), "ops".to_owned()],
        email: Some("bench@example.com".to_owned()),
    };
    let request = browser_headers("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2ln");
    let mut group = c.benchmark_group("headers");
    // The clone is setup, not measured: the gateway owns the request's map and edits it.
    group.bench_function("upstream_request", |b| {
        b.iter_batched_ref(
            || request.clone(),
            |headers| {
                prepare_upstream_request(headers, &protected, client, false);
                strip_ours(headers, "gateway_token");
                headers.remove(header::AUTHORIZATION);
                inject_identity(headers, &identity_headers, &identity).expect("valid identity");
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("clone_request_headers", |b| {
        b.iter(|| black_box(&request).clone())
    });
    group.finish();
}

criterion_group!(benches, tokens, routing, header_rewriting);
criterion_main!(benches);
