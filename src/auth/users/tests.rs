//! Tests of `users`: loading and validating the users file, and `Users::verify_password`
//! (hash formats are exercised through the file, so each refusal is checked with its
//! position). Hashing itself and `PasswordChecker` are tested in `password/tests.rs`.

use std::cell::Cell;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};

use super::{Lookalike, Position, Users, UsersError, normalized_name};
use crate::auth::users::password::memory::HashMemory;
use crate::auth::users::password::stored::HashCost;
use crate::auth::users::password::{
    CredentialsError, MAX_PASSWORD_BYTES, VERIFICATIONS, hash_password,
};

/// Made by `htpasswd -bnBC 10 bob secret` (apache2-utils 2.4).
const HTPASSWD_BOB_SECRET: &str = "$2y$10$ELrvLLwTeRV/NQOnlBjkku5i76VjlpwEPGpH5KnbbwcUdU0U8bWZO";

/// Hash verifications run on this thread so far (counted by `StoredHash::verify`).
fn verifications() -> usize {
    VERIFICATIONS.with(Cell::get)
}

/// A cheap argon2 hash (tests only: real hashes use the default parameters).
fn cheap_argon2(algorithm: Algorithm, password: &str) -> String {
    let params = Params::new(8, 1, 1, None).expect("valid test params");
    Argon2::new(algorithm, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .expect("hashing works")
        .to_string()
}

fn cheap_bcrypt(password: &str, version: bcrypt::Version) -> String {
    bcrypt::hash_with_result(password, 4)
        .expect("hashing works")
        .format_for_version(version)
}

fn one_user(name: &str, hash: &str, extra: &str) -> String {
    format!("[[user]]\nname = \"{name}\"\npassword = '{hash}'\n{extra}\n")
}

fn load(text: &str) -> Users {
    Users::from_toml_str(text).expect("valid users file")
}

fn load_err(text: &str) -> UsersError {
    Users::from_toml_str(text).expect_err("invalid users file")
}

#[test]
fn argon2id_hash_verifies_the_right_password_and_rejects_a_wrong_one() {
    let users = load(&one_user(
        "alice",
        &cheap_argon2(Algorithm::Argon2id, "pw1"),
        "",
    ));
    let user = users
        .verify_password("alice", "pw1")
        .expect("right password");
    assert_eq!(user.name, "alice");
    assert!(matches!(
        users.verify_password("alice", "pw2"),
        Err(CredentialsError::WrongPassword)
    ));
}

#[test]
fn argon2i_hash_is_accepted() {
    let users = load(&one_user("al", &cheap_argon2(Algorithm::Argon2i, "pw"), ""));
    assert!(users.verify_password("al", "pw").is_ok());
}

#[test]
fn argon2d_hash_is_refused_as_unsupported() {
    let err = load_err(&one_user("al", &cheap_argon2(Algorithm::Argon2d, "pw"), ""));
    assert!(matches!(err, UsersError::UnsupportedHash { .. }), "{err}");
}

#[test]
fn bcrypt_2y_and_2b_hashes_made_by_the_bcrypt_crate_verify() {
    for version in [bcrypt::Version::TwoY, bcrypt::Version::TwoB] {
        let users = load(&one_user("bob", &cheap_bcrypt("hunter2", version), ""));
        assert!(users.verify_password("bob", "hunter2").is_ok());
        assert!(matches!(
            users.verify_password("bob", "hunter3"),
            Err(CredentialsError::WrongPassword)
        ));
    }
}

#[test]
fn bcrypt_hash_made_by_htpasswd_verifies() {
    let users = load(&one_user("bob", HTPASSWD_BOB_SECRET, ""));
    assert!(users.verify_password("bob", "secret").is_ok());
    assert!(users.verify_password("bob", "Secret").is_err());
}

#[test]
fn a_password_longer_than_bcrypts_72_bytes_is_refused_after_hashing() {
    let base = "a".repeat(72);
    let users = load(&one_user(
        "bob",
        &cheap_bcrypt(&base, bcrypt::Version::TwoB),
        "",
    ));
    assert!(
        users.verify_password("bob", &base).is_ok(),
        "72 bytes: all compared"
    );
    let before = verifications();
    let result = users.verify_password("bob", &format!("{base}anything"));
    assert!(
        matches!(result, Err(CredentialsError::PasswordTooLongForBcrypt)),
        "{result:?}"
    );
    assert!(
        result.is_err_and(|e| e.is_rejection()),
        "a 401, like a wrong password"
    );
    assert_eq!(
        verifications(),
        before + 1,
        "the hash ran, as for any check"
    );
    // A long password that is wrong in its first 72 bytes is simply wrong.
    assert!(matches!(
        users.verify_password("bob", &"b".repeat(80)),
        Err(CredentialsError::PasswordTooLongForBcrypt)
    ));
}

#[test]
fn a_long_password_is_still_fine_for_an_argon2_user() {
    let long = "a".repeat(200);
    let users = load(&one_user(
        "alice",
        &cheap_argon2(Algorithm::Argon2id, &long),
        "",
    ));
    assert!(users.verify_password("alice", &long).is_ok());
    assert!(matches!(
        users.verify_password("alice", &long[..199]),
        Err(CredentialsError::WrongPassword)
    ));
}

#[test]
fn bcrypt_2x_prefix_and_out_of_range_costs_are_refused() {
    let good = cheap_bcrypt("pw", bcrypt::Version::TwoB);
    let two_x = good.replacen("$2b$", "$2x$", 1);
    assert!(matches!(
        load_err(&one_user("b", &two_x, "")),
        UsersError::UnsupportedHash { .. }
    ));
    let cost_31 = good.replacen("$04$", "$31$", 1);
    assert!(matches!(
        load_err(&one_user("b", &cost_31, "")),
        UsersError::MalformedHash { .. }
    ));
}

#[test]
fn argon2_hash_with_huge_memory_cost_is_refused_at_load() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw").replacen("m=8,", "m=4000000,", 1);
    let err = load_err(&one_user("a", &hash, ""));
    assert!(matches!(err, UsersError::MalformedHash { .. }), "{err}");
}

#[test]
fn disabled_user_with_the_right_password_is_rejected_after_hashing() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let users = load(&one_user("dave", &hash, "disabled = true"));
    let before = verifications();
    assert!(matches!(
        users.verify_password("dave", "pw"),
        Err(CredentialsError::UserDisabled)
    ));
    assert_eq!(verifications() - before, 1);
    assert!(users.get("dave").is_some_and(|u| u.disabled));
}

#[test]
fn unknown_user_is_rejected_after_verifying_the_dummy_hash() {
    let users = load(&one_user(
        "alice",
        &cheap_argon2(Algorithm::Argon2id, "pw"),
        "",
    ));
    let before = verifications();
    let result = users.verify_password("mallory", "pw");
    assert!(matches!(result, Err(CredentialsError::UnknownUser)));
    assert_eq!(verifications() - before, 1, "the dummy hash was verified");
}

#[test]
fn dummy_hash_has_the_cost_of_the_files_hashes() {
    // An empty file: the default hasher's cost, that of `gateway hash-password` hashes.
    let carol = load(&one_user("carol", &hash_password("pw").expect("hash"), ""));
    let new_hash_cost = carol.get("carol").expect("carol").hash.cost();
    assert_eq!(load("").dummy.cost(), new_hash_cost);
    // An htpasswd import: bcrypt at the file's cost, not argon2.
    let users = load(&one_user("bob", HTPASSWD_BOB_SECRET, ""));
    assert_eq!(users.dummy.cost(), &HashCost::Bcrypt { cost: 10 });
    // A mixed file: the majority's cost.
    let argon2 = cheap_argon2(Algorithm::Argon2id, "pw");
    let mixed = [
        one_user("a", &argon2, ""),
        one_user("b", &cheap_bcrypt("pw", bcrypt::Version::TwoB), ""),
        one_user("c", &cheap_bcrypt("pw", bcrypt::Version::TwoY), ""),
    ]
    .concat();
    assert_eq!(load(&mixed).dummy.cost(), &HashCost::Bcrypt { cost: 4 });
    // A tie: the first in the file, whatever the hash map's order.
    let tie = [
        one_user("z", &argon2, ""),
        one_user("y", HTPASSWD_BOB_SECRET, ""),
    ]
    .concat();
    let first = load(&one_user("z", &argon2, "")).dummy.cost().clone();
    assert!(
        matches!(first, HashCost::Argon2 { m_cost: 8, .. }),
        "{first:?}"
    );
    assert_eq!(load(&tie).dummy.cost(), &first);
}

#[test]
fn too_long_password_is_rejected_without_hashing_whether_the_user_exists_or_not() {
    let users = load(&one_user(
        "alice",
        &cheap_argon2(Algorithm::Argon2id, "pw"),
        "",
    ));
    let long = "p".repeat(MAX_PASSWORD_BYTES + 1);
    let before = verifications();
    for name in ["alice", "nobody"] {
        assert!(matches!(
            users.verify_password(name, &long),
            Err(CredentialsError::PasswordTooLong)
        ));
    }
    assert_eq!(verifications(), before);
    let limit = "p".repeat(MAX_PASSWORD_BYTES);
    assert!(matches!(
        users.verify_password("alice", &limit),
        Err(CredentialsError::WrongPassword)
    ));
}

#[test]
fn user_fields_are_loaded() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let extra = "groups = [\"admins\", \"dev ops\"]\nemail = \"e@example.com\"";
    let users = load(&one_user("erin", &hash, extra));
    let erin = users.get("erin").expect("erin exists");
    assert_eq!(erin.groups, ["admins", "dev ops"]);
    assert_eq!(erin.email.as_deref(), Some("e@example.com"));
    assert!(!erin.disabled);
    assert_eq!(users.len(), 1);
    assert!(users.get("Erin").is_none(), "names are case-sensitive");
}

#[test]
fn an_empty_file_has_no_users() {
    let users = load("");
    assert!(users.is_empty());
    assert!(users.get("alice").is_none());
}

#[test]
fn user_debug_output_redacts_the_hash() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let users = load(&one_user("alice", &hash, ""));
    let debug = format!("{users:?}");
    assert!(debug.contains("alice") && debug.contains("<redacted>"));
    assert!(!debug.contains("argon2id$"), "{debug}");
    let salt = hash.rsplit('$').nth(1).expect("phc has a salt");
    assert!(!debug.contains(salt));
}

#[test]
fn duplicate_user_error_points_at_the_second_name() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let text = format!(
        "{}{}",
        one_user("alice", &hash, ""),
        one_user("alice", &hash, "")
    );
    let err = load_err(&text);
    let UsersError::DuplicateUser {
        position, first, ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(*first, Position { line: 2, column: 8 });
    assert_eq!(*position, Position { line: 6, column: 8 });
    assert!(
        err.to_string().starts_with("6:8: duplicate user \"alice\""),
        "{err}"
    );
}

#[test]
fn plain_text_password_is_an_unsupported_hash_error_at_its_value() {
    let err = load_err("[[user]]\nname = \"a\"\n  password = \"secret\"\n");
    assert!(matches!(err, UsersError::UnsupportedHash { .. }), "{err}");
    assert_eq!(
        err.position(),
        Some(Position {
            line: 3,
            column: 14
        })
    );
    assert!(!err.to_string().contains("secret"));
}

#[test]
fn truncated_argon2_hash_is_a_malformed_hash_error() {
    let err = load_err(&one_user(
        "a",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
        "",
    ));
    assert!(matches!(err, UsersError::MalformedHash { .. }), "{err}");
    assert_eq!(
        err.position(),
        Some(Position {
            line: 3,
            column: 12
        })
    );
    let err = load_err(&one_user("a", "$2b$10$short", ""));
    assert!(matches!(err, UsersError::MalformedHash { .. }), "{err}");
}

#[test]
fn comma_in_a_group_is_an_error_at_the_group() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let err = load_err(&one_user("a", &hash, "groups = [\"ok\", \"a,b\"]"));
    assert!(matches!(err, UsersError::GroupHasComma { .. }), "{err}");
    assert_eq!(
        err.position(),
        Some(Position {
            line: 4,
            column: 17
        })
    );
}

#[test]
fn empty_group_and_empty_name_are_errors() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let err = load_err(&one_user("a", &hash, "groups = [\"\"]"));
    assert!(matches!(err, UsersError::EmptyGroup { .. }), "{err}");
    let err = load_err(&one_user("", &hash, ""));
    assert!(matches!(err, UsersError::EmptyUserName { .. }), "{err}");
    assert_eq!(err.position(), Some(Position { line: 2, column: 8 }));
}

#[test]
fn control_characters_in_header_bound_values_are_errors() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    for (name, extra) in [
        ("a\\nb", ""),
        ("a", "groups = [\"x\\ty\"]"),
        ("a", "email = \"a@b\\r\\nX: y\""),
    ] {
        let err = load_err(&one_user(name, &hash, extra));
        assert!(matches!(err, UsersError::ControlCharacter { .. }), "{err}");
    }
}

#[test]
fn unknown_key_is_a_syntax_error_with_a_position() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let err = load_err(&one_user("a", &hash, "admin = true"));
    assert!(matches!(err, UsersError::Syntax { .. }), "{err}");
    assert_eq!(err.position().map(|p| p.line), Some(4));
    let err = load_err("[users]\n");
    assert!(matches!(err, UsersError::Syntax { .. }), "{err}");
}

#[test]
fn broken_toml_is_a_syntax_error_with_line_and_column() {
    let err = load_err("[[user]]\nname = \"a\"\npassword = \n");
    assert_eq!(
        err.position(),
        Some(Position {
            line: 3,
            column: 12
        })
    );
    assert!(err.to_string().starts_with("3:12: "), "{err}");
}

#[test]
fn positions_count_characters_not_bytes() {
    let at = |text: &str, offset: usize| {
        Position::of_span(&crate::text_position::LineIndex::new(text), offset..offset)
    };
    assert_eq!(at("é = 1", 3), Position { line: 1, column: 3 });
    assert_eq!(at("a\nbé\nc", 6), Position { line: 3, column: 1 });
    assert_eq!(at("ab", 99), Position { line: 1, column: 3 });
}

/// "josé" with a precomposed é (NFC) and with e + a combining acute accent (NFD).
const JOSE_NFC: &str = "jos\u{e9}";
const JOSE_NFD: &str = "jose\u{301}";

#[test]
fn names_are_stored_in_nfc_and_found_in_any_normalization_form() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    for written in [JOSE_NFC, JOSE_NFD] {
        let users = load(&one_user(written, &hash, ""));
        let user = users.get(JOSE_NFD).expect("found decomposed");
        assert_eq!(user.name, JOSE_NFC, "stored (and put in tokens) as NFC");
        assert!(users.get(JOSE_NFC).is_some(), "found composed");
        for typed in [JOSE_NFC, JOSE_NFD] {
            let user = users.verify_password(typed, "pw").expect("signs in");
            assert_eq!(user.name, JOSE_NFC);
        }
    }
    assert!(load(&one_user(JOSE_NFC, &hash, "")).get("jose").is_none());
}

#[test]
fn two_entries_equal_after_nfc_are_duplicates() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let text = format!(
        "{}{}",
        one_user(JOSE_NFC, &hash, ""),
        one_user(JOSE_NFD, &hash, "")
    );
    let err = load_err(&text);
    assert!(
        matches!(&err, UsersError::DuplicateUser { name, .. } if name == JOSE_NFC),
        "{err}"
    );
}

#[test]
fn normalized_name_borrows_what_is_already_nfc() {
    assert!(matches!(
        normalized_name("alice"),
        std::borrow::Cow::Borrowed("alice")
    ));
    assert!(matches!(
        normalized_name(JOSE_NFC),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(normalized_name(JOSE_NFD), JOSE_NFC);
    // Compatibility forms are left alone: NFC is not NFKC.
    assert_eq!(normalized_name("\u{ff41}dmin"), "\u{ff41}dmin");
}

#[test]
fn names_equal_after_case_folding_and_nfkc_are_lookalikes() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let names = [
        "admin",
        "Admin",        // case
        "\u{ff41}dmin", // fullwidth a
        "stra\u{df}e",  // ß
        "STRASSE",      // folds to the same as straße
        "\u{fb01}le",   // the ligature fi
        "file",
        "bob",
    ];
    let text: String = names.iter().map(|name| one_user(name, &hash, "")).collect();
    let users = load(&text);
    let pairs: Vec<(String, String)> = users
        .lookalikes()
        .into_iter()
        .map(|Lookalike { first, second }| (first.0, second.0))
        .collect();
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        pairs,
        [
            pair("admin", "Admin"),
            pair("admin", "\u{ff41}dmin"),
            pair("stra\u{df}e", "STRASSE"),
            pair("\u{fb01}le", "file"),
        ]
    );
    let first = &users.lookalikes()[0];
    assert_eq!(
        first.second.1,
        Position { line: 6, column: 8 },
        "where Admin is"
    );
    assert!(load(&one_user("alice", &hash, "")).lookalikes().is_empty());
}

#[test]
fn totp_secrets_and_recovery_codes_load_and_bad_ones_are_positioned() {
    let hash = cheap_argon2(Algorithm::Argon2id, "pw");
    let code = cheap_argon2(Algorithm::Argon2id, "abcdefghij");
    let users = load(&one_user(
        "alice",
        &hash,
        &format!("totp = \"jbswy3dpehpk3pxp jbswy3dpehpk3pxp\"\nrecovery_codes = ['{code}']"),
    ));
    let alice = users.get("alice").expect("alice");
    assert!(alice.has_second_factor());
    assert!(
        !format!("{alice:?}").contains("JBSWY3DP"),
        "secret redacted"
    );
    assert!(
        !load(&one_user("bob", &hash, ""))
            .get("bob")
            .expect("bob")
            .has_second_factor()
    );
    let mut memory = HashMemory::new();
    assert_eq!(
        users
            .verify_recovery_code_in(&mut memory, "alice", "ABCDE-FGHIJ")
            .expect("hash ran"),
        Some(code.clone())
    );
    assert_eq!(
        users
            .verify_recovery_code_in(&mut memory, "alice", "abcde-fghik")
            .expect("hash ran"),
        None
    );

    let cases = [
        ("totp = \"not base32!\"", 4, 8, "is not base32"),
        ("totp = \"JBSWY3DP\"", 4, 8, "must be 16 to 64 bytes"),
        (
            "recovery_codes = ['$argon2id$x']",
            4,
            19,
            "need a totp secret",
        ),
        (
            "totp = \"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\"\nrecovery_codes = ['plain']",
            5,
            19,
            "is not an accepted hash",
        ),
    ];
    for (extra, line, column, message) in cases {
        let error = load_err(&one_user("alice", &hash, extra));
        assert_eq!(
            error.position(),
            Some(Position { line, column }),
            "{extra}: {error}"
        );
        assert!(error.to_string().contains(message), "{extra}: {error}");
    }
}
