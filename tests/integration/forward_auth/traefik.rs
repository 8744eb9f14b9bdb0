//! Traefik's `forwardAuth`: not in Debian, so `examples/traefik/gateway-forward-auth.yml` is
//! checked statically (read as [`Yaml`], the compose example's reader).

use http::Uri;

use crate::support::yaml::Yaml;

const TRAEFIK_DYNAMIC: &str = include_str!("../../../examples/traefik/gateway-forward-auth.yml");

#[test]
fn traefik_example_asks_verify_copies_the_identity_and_routes_auth_pages_to_the_gateway() {
    let yaml = Yaml::parse(TRAEFIK_DYNAMIC);
    let one = |path: &str| -> String {
        let values = yaml.values(path);
        assert_eq!(values.len(), 1, "{path}: {values:?}");
        values[0].to_owned()
    };
    let auth = "http.middlewares.gateway-auth.forwardAuth";
    let address: Uri = one(&format!("{auth}.address")).parse().expect("address");
    assert_eq!(address.scheme_str(), Some("https"), "{address}");
    assert_eq!(address.path(), "/.auth/verify", "{address}");
    assert_eq!(one(&format!("{auth}.trustForwardHeader")), "false");
    assert_eq!(
        yaml.values(&format!("{auth}.authResponseHeaders")),
        [
            "X-Forwarded-User",
            "X-Forwarded-Groups",
            "X-Forwarded-Email"
        ]
    );
    assert!(!one(&format!("{auth}.tls.ca")).is_empty());

    // The app's router goes through the middleware; /.auth/ on the same host goes to the
    // gateway's HTTPS listener, at the address the middleware asks.
    assert_eq!(
        yaml.values("http.routers.app.middlewares"),
        ["gateway-auth"]
    );
    let app_rule = one("http.routers.app.rule");
    let pages_rule = one("http.routers.app-gateway-pages.rule");
    assert_eq!(
        pages_rule,
        format!("{app_rule} && PathPrefix(`/.auth/`)"),
        "the /.auth/ router must cover the app's host and win by its longer rule"
    );
    assert_eq!(one("http.routers.app-gateway-pages.service"), "gateway");
    let servers = yaml.values("http.services.gateway.loadBalancer.servers");
    assert_eq!(
        servers,
        [format!(
            "url: \"https://{}\"",
            address.authority().expect("authority")
        )]
    );
    let transport = one("http.services.gateway.loadBalancer.serversTransport");
    assert_eq!(
        one(&format!("http.serversTransports.{transport}.serverName")),
        address.host().expect("host")
    );
}
