//! `gateway totp enroll|disable --user NAME`: gives a user of the users file a TOTP secret
//! and ten recovery codes, or removes them.
//!
//! The users file is edited in place with `toml_edit`, so its comments, order and layout
//! survive: only the user's `totp` and `recovery_codes` keys change. The edited text is
//! validated as a users file before anything is written, then replaces the file at once
//! with the same permissions (`files::replace_file`). A running gateway picks it up on
//! reload (SIGHUP). The secret and the codes are printed once, for the admin to hand over;
//! the file keeps the secret (base32, as the apps want it) and only hashes of the codes.
//!
//! Not here: verifying codes (`auth::second_factor`, `auth::two_step`).

use std::path::Path;

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use toml_edit::{Array, Table, value};

use super::error::{Error, Result};
use crate::auth::second_factor::{
    TotpSecret, new_recovery_codes, normalized_recovery_code, otpauth_uri,
};
use crate::auth::users::edit::EditError;
use crate::auth::users::password::hash_password;
use crate::auth::users::{self};
use crate::config::Config;
use crate::files::replace_file;

/// What enrollment prints, once.
#[derive(Clone)]
pub struct Enrollment {
    /// The `otpauth://totp/…` URI for the authenticator app.
    pub uri: String,
    /// The URI as a QR code, drawn with Unicode half blocks for a terminal.
    pub qr: String,
    /// The recovery codes, as the user should write them down.
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrollment(<redacted>)")
    }
}

/// Enrolls `user` (`gateway totp enroll`): a new secret and recovery codes in the users
/// file, replacing any earlier ones.
///
/// # Errors
/// [`Error::NoUsersFile`], [`Error::UnknownUser`], [`Error::UsersFile`],
/// [`Error::UsersEdit`], [`Error::Enroll`].
pub fn enroll(config: &Config, user: &str) -> Result<Enrollment> {
    let secret = TotpSecret::generate().map_err(|e| Error::Enroll(e.to_string()))?;
    let codes = new_recovery_codes().map_err(|e| Error::Enroll(e.to_string()))?;
    let mut hashes = Array::new();
    for code in &codes {
        let normalized = normalized_recovery_code(code).unwrap_or_default();
        let hash = hash_password(&normalized).map_err(|e| Error::Enroll(e.to_string()))?;
        hashes.push(hash);
    }
    let name = edit_user(config, user, |entry| {
        entry.insert("totp", value(secret.to_base32()));
        entry.insert("recovery_codes", value(hashes));
    })?;
    let uri = otpauth_uri(&secret, &issuer_label(config), &name);
    let qr = QrCode::new(uri.as_bytes())
        .map_err(|e| Error::Enroll(e.to_string()))?
        .render::<Dense1x2>()
        .quiet_zone(true)
        .build();
    Ok(Enrollment {
        uri,
        qr,
        recovery_codes: codes,
    })
}

/// Removes `user`'s second factor (`gateway totp disable`).
///
/// # Errors
/// As [`enroll`].
pub fn disable(config: &Config, user: &str) -> Result<()> {
    edit_user(config, user, |entry| {
        entry.remove("totp");
        entry.remove("recovery_codes");
    })
    .map(drop)
}

/// Applies `edit` to `user`'s `[[user]]` table of the users file, validates the result and
/// writes it; returns the user's name as written.
fn edit_user(config: &Config, user: &str, edit: impl FnOnce(&mut Table)) -> Result<String> {
    let path = &config
        .users
        .as_ref()
        .and_then(|u| u.file.as_ref())
        .ok_or(Error::NoUsersFile)?
        .value;
    let io = |source| Error::UsersFile {
        path: path.clone(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let (edited, name) = users::edit::edit_user(&text, user, edit).map_err(|e| match e {
        EditError::UnknownUser(name) => Error::UnknownUser { name },
        other => Error::UsersEdit {
            path: path.clone(),
            message: other.to_string(),
        },
    })?;
    replace_file(path, edited.as_bytes()).map_err(io)?;
    Ok(name)
}

/// The issuer shown in the app: the host of `[auth] issuer`, else "gateway".
fn issuer_label(config: &Config) -> String {
    let issuer = config.auth.as_ref().map_or("", |a| a.issuer.as_str());
    let host = issuer
        .split_once("://")
        .map_or(issuer, |(_, rest)| rest)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if host.is_empty() {
        "gateway".to_owned()
    } else {
        host.to_owned()
    }
}

/// Whether the users file at `path` can be read by its group or others (then the secrets
/// in it are not secret: `gateway check` warns about it too).
pub fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}
