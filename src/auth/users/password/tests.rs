//! Tests of `password`: `hash_password`, `CredentialsError`, verification. The
//! accepted and refused hash formats are exercised through the users file, in
//! `users/tests.rs`.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};

use super::memory::HashMemory;
use super::stored::{Digest, HashCost};
use super::{
    BCRYPT_MAX_PASSWORD_BYTES, CredentialsError, HashError, MAX_PASSWORD_BYTES, StoredHash,
    dummy_hash, hash_password,
};
use crate::auth::users::Users;

/// A cheap argon2 hash (tests only: real hashes use the default parameters).
pub(crate) fn cheap_argon2(algorithm: Algorithm, password: &str) -> String {
    let params = Params::new(8, 1, 1, None).expect("valid test params");
    Argon2::new(algorithm, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .expect("hashing works")
        .to_string()
}

/// A users file of one user.
pub(crate) fn one_user(name: &str, hash: &str, extra: &str) -> String {
    format!("[[user]]\nname = \"{name}\"\npassword = '{hash}'\n{extra}\n")
}

/// `text` parsed as a users file.
pub(crate) fn load(text: &str) -> Users {
    Users::from_toml_str(text).expect("valid users file")
}

#[test]
fn hash_password_makes_a_default_argon2id_phc_string_that_verifies() {
    let hash = hash_password("correct horse").expect("hashing works");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let users = load(&one_user("carol", &hash, ""));
    assert!(users.verify_password("carol", "correct horse").is_ok());
    assert_ne!(
        hash_password("correct horse").ok(),
        Some(hash),
        "salt is random"
    );
}

#[test]
fn hash_password_refuses_empty_and_too_long_passwords() {
    assert!(matches!(hash_password(""), Err(HashError::EmptyPassword)));
    let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
    assert!(matches!(
        hash_password(&long),
        Err(HashError::PasswordTooLong)
    ));
}

#[test]
fn credentials_errors_tell_rejections_from_failures() {
    assert!(CredentialsError::WrongPassword.is_rejection());
    assert!(CredentialsError::UnknownUser.is_rejection());
    assert!(CredentialsError::UserDisabled.is_rejection());
    assert!(CredentialsError::PasswordTooLong.is_rejection());
    assert!(CredentialsError::PasswordTooLongForBcrypt.is_rejection());
    let failure = CredentialsError::Argon2Failed(argon2::password_hash::Error::OutOfMemory);
    assert!(!failure.is_rejection());
    assert!(!CredentialsError::CheckTaskFailed.is_rejection());
    assert!(!CredentialsError::NoHashWorkers.is_rejection());
}

#[test]
fn argon2_verifies_in_reused_memory_whatever_the_previous_hash_left_there() {
    // Two hashes of different sizes and variants, verified in turn in one memory: each
    // verdict is the one fresh memory gives.
    let small = parse(&cheap_argon2(Algorithm::Argon2id, "one"));
    let params = Params::new(64, 2, 2, None).expect("valid test params");
    let large = Argon2::new(Algorithm::Argon2i, Version::V0x10, params)
        .hash_password(b"two")
        .expect("hashing works")
        .to_string();
    let large = parse(&large);
    let mut memory = HashMemory::new();
    for _ in 0..2 {
        assert!(matches!(small.verify("one", &mut memory), Ok(true)));
        assert!(matches!(small.verify("two", &mut memory), Ok(false)));
        assert!(matches!(large.verify("two", &mut memory), Ok(true)));
        assert!(matches!(large.verify("one", &mut memory), Ok(false)));
    }
    assert_eq!(
        memory.held_bytes(),
        64 * argon2::Block::SIZE,
        "the larger hash's blocks"
    );
}

#[test]
fn bcrypt_refuses_a_password_past_72_bytes_that_shares_the_first_72() {
    let base = "p".repeat(BCRYPT_MAX_PASSWORD_BYTES);
    let hash = parse(&bcrypt::hash(&base, 4).expect("hash"));
    let mut memory = HashMemory::new();
    assert!(matches!(hash.verify(&base, &mut memory), Ok(true)));
    assert!(!hash.truncates(&base));
    let longer = format!("{base}x");
    assert!(hash.truncates(&longer));
    assert!(
        matches!(hash.verify(&longer, &mut memory), Ok(false)),
        "bcrypt alone would accept it"
    );
    assert!(bcrypt::verify(&longer, &digest(&hash)).is_ok_and(|ok| ok));
    // argon2 reads every byte: no truncation to refuse.
    let argon2 = parse(&cheap_argon2(Algorithm::Argon2id, &longer));
    assert!(!argon2.truncates(&longer));
    assert!(matches!(argon2.verify(&longer, &mut memory), Ok(true)));
}

/// The stored form of a hash (tests only: the users file is where hashes come from).
fn parse(hash: &str) -> StoredHash {
    StoredHash::parse(hash).unwrap_or_else(|_| panic!("a valid hash"))
}

/// The digest of a hash (salt and output for argon2), for comparing two of them.
fn digest(hash: &StoredHash) -> String {
    match &hash.digest {
        Digest::Bcrypt(text) => text.clone(),
        Digest::Argon2(argon2) => format!("{}${}", argon2.salt, argon2.expected),
    }
}

#[test]
fn a_dummy_hash_is_made_once_per_cost_and_verifies_like_the_hashes_it_stands_for() {
    let bob = parse(&bcrypt::hash("pw", 4).expect("hash"));
    let dummy = dummy_hash(&[bob.cost().clone()]).expect("dummy");
    assert_eq!(dummy.cost(), &HashCost::Bcrypt { cost: 4 });
    assert!(digest(&dummy).starts_with("$2b$04$"));
    let eve = parse(&bcrypt::hash("other", 4).expect("hash"));
    let again = dummy_hash(&[eve.cost().clone()]).expect("dummy");
    assert_eq!(digest(&again), digest(&dummy), "made once per cost");
    assert!(matches!(
        dummy.verify("pw", &mut HashMemory::new()),
        Ok(false)
    ));

    let alice_hash = cheap_argon2(Algorithm::Argon2i, "pw");
    let alice = parse(&alice_hash);
    let dummy = dummy_hash(&[alice.cost().clone()]).expect("dummy");
    assert_eq!(dummy.cost(), alice.cost());
    assert!(matches!(
        dummy.verify("pw", &mut HashMemory::new()),
        Ok(false)
    ));
    assert!(
        dummy
            .verify(
                "gateway dummy password for unknown users",
                &mut HashMemory::new()
            )
            .is_ok_and(|matches| matches),
        "a real argon2i hash of the dummy password"
    );
    assert_ne!(digest(&dummy), digest(&alice), "a salt of its own");
}

#[test]
fn the_dummy_for_no_users_has_the_cost_of_new_hashes() {
    let new = parse(&hash_password("pw").expect("hash"));
    assert_eq!(dummy_hash(&[]).expect("dummy").cost(), new.cost());
}
