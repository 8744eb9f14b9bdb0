//! `gateway check` with `[[auth.oidc]]`: what discovery found, an unreachable provider as
//! a note, and a missing client secret as a positioned error.

use super::{AFTER_LOGOUT, CALLBACK, oidc_section};
use crate::support::auth_config::auth_config;
use crate::support::binary::check;
use crate::support::oidc_provider::{OidcProvider, ProviderOptions};

/// Writes the common auth config plus `section` (and its files) into a folder; the path
/// of the config file.
fn write_config(dir: &std::path::Path, section: &str) -> std::path::PathBuf {
    let config = auth_config("http://127.0.0.1:9", "http://127.0.0.1:9");
    for (name, content) in config.files() {
        std::fs::write(dir.join(name), content).expect("write file");
    }
    let text = format!(
        "[tls]\ncert = \"dev.crt\"\nkey = \"dev.key\"\ngenerate_self_signed = true\n\n{}\n{section}",
        config.text()
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

#[tokio::test]
async fn check_says_what_discovery_found_and_notes_an_unreachable_provider() {
    let provider = OidcProvider::start(&[CALLBACK], &[AFTER_LOGOUT]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("oidc.secret");
    std::fs::write(&secret, provider.client_secret()).expect("secret");
    let path = write_config(dir.path(), &oidc_section(&provider, "corp", &secret, ""));
    let (code, out) = tokio::task::spawn_blocking(move || check(&path))
        .await
        .expect("check ran");
    assert_eq!(code, Some(0), "{out}");
    let issuer = provider.issuer();
    assert!(
        out.contains(&format!(
            "oidc corp: issuer {issuer}: discovery ok: authorize {issuer}/auth"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("logout at {issuer}/session/end")),
        "{out}"
    );

    let stopped = OidcProvider::stopped(ProviderOptions::new(&[CALLBACK], &[AFTER_LOGOUT]));
    let path = write_config(dir.path(), &oidc_section(&stopped, "corp", &secret, ""));
    let (code, out) = tokio::task::spawn_blocking(move || check(&path))
        .await
        .expect("check ran");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("oidc corp: issuer") && out.contains("NOT REACHABLE now"),
        "{out}"
    );
}

#[tokio::test]
async fn check_refuses_a_missing_client_secret_with_its_position() {
    let provider = OidcProvider::stopped(ProviderOptions::new(&[CALLBACK], &[AFTER_LOGOUT]));
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("absent.secret");
    let path = write_config(dir.path(), &oidc_section(&provider, "corp", &missing, ""));
    let (code, out) = tokio::task::spawn_blocking(move || check(&path))
        .await
        .expect("check ran");
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("gateway.toml:") && out.contains("cannot read client_secret_file"),
        "{out}"
    );
}
