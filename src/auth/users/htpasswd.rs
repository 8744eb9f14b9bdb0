//! Reading an Apache htpasswd file (`[users] htpasswd`): one `name:hash` per line, as
//! `htpasswd -B` writes them.
//!
//! Only hashes the users file also accepts are taken — bcrypt (`$2y$`, `$2b$`, `$2a$`) and
//! argon2 (`$argon2id$`, `$argon2i$`), parsed by [`password`](super::password) — and every
//! other line is an error at its `line:col`, never a user: MD5 (`$apr1$`), SHA-1
//! (`{SHA}`), DES crypt and plain text are fast to brute-force, and plain text would be a
//! password in a file. Blank lines and `#` comments are allowed. Every user gets the
//! configured `htpasswd_groups`; there is no email, no `disabled` and no second factor
//! (htpasswd has no field for them: a user who needs TOTP belongs in `users.toml`).
//!
//! With a users file beside it, the two make one set of users; a name in both is an error
//! (which password would count is not something to guess).

use std::collections::HashMap;

use super::error::{Position, UsersError};
use super::names::normalized_name;
use super::password::{HashProblem, StoredHash, dummy_hash};
use super::{User, Users};

impl Users {
    /// The users of an htpasswd file's `text`, each in `groups`, together with
    /// `users_file`'s when given.
    ///
    /// # Errors
    /// A [`UsersError`] at the first line that is not a usable `name:hash`, or whose name is
    /// already taken (in this file or the users file).
    pub fn from_htpasswd_str(
        text: &str,
        groups: &[String],
        users_file: Option<Users>,
    ) -> Result<Users, UsersError> {
        let mut by_name = users_file.map_or_else(HashMap::new, |users| users.by_name);
        let in_users_file = by_name.len();
        let mut first_seen: HashMap<String, Position> = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line_number = index + 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let user = htpasswd_user(line_number, line, groups)?;
            if let Some(first) = first_seen.insert(user.name.clone(), user.name_at) {
                return Err(UsersError::DuplicateUser {
                    position: user.name_at,
                    name: user.name,
                    first,
                });
            }
            if let Some(other) = by_name.get(&user.name) {
                return Err(UsersError::AlsoInUsersFile {
                    position: user.name_at,
                    name: user.name,
                    first: other.name_at,
                });
            }
            by_name.insert(user.name.clone(), user);
        }
        tracing::debug!(
            users_file = in_users_file,
            htpasswd = by_name.len() - in_users_file,
            "users loaded"
        );
        // The users file's hashes first, then the htpasswd file's, in their file order, so
        // that the dummy's cost does not depend on hash-map order.
        let mut users: Vec<&User> = by_name.values().collect();
        users.sort_by_key(|u| {
            (
                first_seen.contains_key(&u.name),
                u.name_at.line,
                u.name_at.column,
            )
        });
        let costs: Vec<_> = users.iter().map(|u| u.hash.cost().clone()).collect();
        let dummy = dummy_hash(&costs)?;
        Ok(Users { by_name, dummy })
    }
}

/// One `name:hash` line; positions are 1-based, the hash's column counted in characters.
fn htpasswd_user(line_number: usize, line: &str, groups: &[String]) -> Result<User, UsersError> {
    let name_at = Position {
        line: line_number,
        column: 1,
    };
    let Some((name, hash)) = line.split_once(':') else {
        return Err(UsersError::HtpasswdLine { position: name_at });
    };
    if name.is_empty() {
        return Err(UsersError::EmptyUserName { position: name_at });
    }
    if name.chars().any(char::is_control) {
        return Err(UsersError::ControlCharacter {
            position: name_at,
            field: "name",
        });
    }
    let name = normalized_name(name).into_owned();
    let position = Position {
        line: line_number,
        column: line
            .split_once(':')
            .map_or(1, |(n, _)| n.chars().count() + 2),
    };
    let hash = match StoredHash::parse(hash) {
        Ok(hash) => hash,
        Err(HashProblem::Unsupported) => {
            return Err(UsersError::UnsupportedHtpasswdHash {
                position,
                user: name,
            });
        }
        Err(HashProblem::Malformed(reason)) => {
            return Err(UsersError::MalformedHash {
                position,
                user: name,
                reason,
            });
        }
    };
    Ok(User {
        name,
        groups: groups.to_vec(),
        email: None,
        disabled: false,
        hash,
        second_factor: None,
        name_at,
    })
}

#[cfg(test)]
mod tests;
