//! Editing one user's entry of a users file's text in place, with `toml_edit`: comments,
//! order and layout survive, and the result is validated as a users file before the caller
//! writes it. `gateway totp` enrolls and disables users with it; the gateway itself strikes
//! a spent recovery code from the file with it.

use toml_edit::{DocumentMut, Item, Table, Value};

use super::{Users, UsersError, normalized_name};

/// Why a users file's text could not be edited.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The text is not TOML.
    #[error("{0}")]
    NotToml(String),
    /// No `[[user]]` entry has the name.
    #[error("user {0:?} is not in the users file")]
    UnknownUser(String),
    /// The edited text would not be a valid users file.
    #[error(transparent)]
    Invalid(#[from] UsersError),
}

/// Applies `edit` to the `[[user]]` table of `user` (any Unicode form of the name) in
/// `text`; returns the edited text, validated, and the name as the file writes it.
///
/// # Errors
/// [`EditError`].
pub fn edit_user(
    text: &str,
    user: &str,
    edit: impl FnOnce(&mut Table),
) -> Result<(String, String), EditError> {
    let mut document: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::NotToml(e.message().to_owned()))?;
    let wanted = normalized_name(user).into_owned();
    let entry = document
        .get_mut("user")
        .and_then(Item::as_array_of_tables_mut)
        .and_then(|users| {
            users.iter_mut().find(|entry| {
                entry
                    .get("name")
                    .and_then(Item::as_str)
                    .is_some_and(|name| normalized_name(name) == wanted)
            })
        })
        .ok_or_else(|| EditError::UnknownUser(user.to_owned()))?;
    let name = entry
        .get("name")
        .and_then(Item::as_str)
        .unwrap_or(user)
        .to_owned();
    edit(entry);
    let edited = document.to_string();
    Users::from_toml_str(&edited)?;
    Ok((edited, name))
}

/// Removes the recovery code stored as `hash` from `user`'s `recovery_codes` in `text`.
///
/// # Errors
/// As [`edit_user`].
pub fn strike_recovery_code(text: &str, user: &str, hash: &str) -> Result<String, EditError> {
    let (edited, _) = edit_user(text, user, |entry| {
        if let Some(codes) = entry.get_mut("recovery_codes").and_then(Item::as_array_mut) {
            codes.retain(|code: &Value| code.as_str() != Some(hash));
            // The first value left keeps the spacing of the first one written.
            if let Some(first) = codes.iter_mut().next() {
                first.decor_mut().set_prefix("");
            }
        }
    })?;
    Ok(edited)
}

#[cfg(test)]
mod tests {
    use super::{EditError, edit_user, strike_recovery_code};

    const HASH_A: &str =
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$4d1YrmDA0F2sUeaNQ+8yzCc2HRHZn3JJpHB9ZZfhJdE";
    const HASH_B: &str =
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx1$mVf0c6bh5hyLDW0Yp3tYBYULEaRbo5F8NcH86OfgdXI";

    fn file() -> String {
        format!(
            "# the team\n[[user]]\nname = \"alice\" # lead\npassword = '{HASH_A}'\n\
             totp = \"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\"\nrecovery_codes = ['{HASH_A}', '{HASH_B}']\n\n\
             # ops\n[[user]]\nname = \"bob\"\npassword = '{HASH_B}'\n"
        )
    }

    #[test]
    fn striking_a_code_keeps_everything_else() {
        let edited = strike_recovery_code(&file(), "alice", HASH_A).expect("edit");
        assert_eq!(
            edited,
            file().replace(
                &format!("['{HASH_A}', '{HASH_B}']"),
                &format!("['{HASH_B}']")
            )
        );
    }

    #[test]
    fn an_unknown_user_or_an_edit_that_breaks_the_file_is_refused() {
        assert!(matches!(
            edit_user(&file(), "carol", |_| {}),
            Err(EditError::UnknownUser(_))
        ));
        let broken = edit_user(&file(), "bob", |entry| {
            entry.insert("totp", toml_edit::value("not base32"));
        });
        assert!(matches!(broken, Err(EditError::Invalid(_))), "{broken:?}");
        assert!(matches!(
            edit_user("[[user", "bob", |_| {}),
            Err(EditError::NotToml(_))
        ));
    }
}
