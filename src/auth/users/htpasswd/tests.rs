//! htpasswd lines: bcrypt and argon2 accepted, everything else refused at its position.

use crate::auth::users::Users;

/// `htpasswd -nbB alice secret1`.
const ALICE: &str = "alice:$2y$05$Yj9IxNqKqs4gwvAiiDkrJO9sIosA4rWjr.x6oSaL/72foxt4sBJr.";

fn groups() -> Vec<String> {
    vec!["users".to_owned()]
}

fn error(text: &str) -> String {
    Users::from_htpasswd_str(text, &groups(), None)
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn bcrypt_lines_with_comments_and_blank_lines_load_with_the_groups() {
    let users = Users::from_htpasswd_str(
        &format!("# made by htpasswd -B\n\n{ALICE}\r\n"),
        &groups(),
        None,
    )
    .expect("valid");
    let alice = users
        .verify_password("alice", "secret1")
        .expect("password matches");
    assert_eq!(alice.groups, ["users"]);
    assert!(!alice.has_second_factor());
    assert!(users.verify_password("alice", "wrong").is_err());
}

#[test]
fn weak_or_plain_hashes_are_positioned_errors() {
    for (line, column) in [
        ("bob:$apr1$BMyUVD4k$J90UJl4sR4V2WNmkW7vr0/", 5),
        ("carol:{SHA}EfatjsUqKYSrqv18O1FlA3hcIHI=", 7),
        ("dave:rqXexS6ZhobKA", 6),
        ("erin:plaintext", 6),
    ] {
        let message = error(&format!("{ALICE}\n{line}\n"));
        assert!(
            message.starts_with(&format!("2:{column}: password of user")),
            "{line}: {message}"
        );
        assert!(message.contains("htpasswd -B"), "{message}");
    }
}

#[test]
fn malformed_lines_and_duplicates_are_refused() {
    assert!(error("alice\n").starts_with("1:1: expected name:hash"));
    assert!(error(":$2y$05$x\n").starts_with("1:1: user name is empty"));
    assert!(
        error(&format!("\u{7}{ALICE}\n")).starts_with("1:1: name contains a control character")
    );
    assert!(
        error("alice:$2y$05$short\n")
            .starts_with("1:7: password hash of user \"alice\" is invalid")
    );
    assert!(error(&format!("{ALICE}\n{ALICE}\n")).starts_with("2:1: duplicate user \"alice\""));
    let users_file = Users::from_toml_str(
        "[[user]]\nname = \"alice\"\npassword = \"$2y$05$Yj9IxNqKqs4gwvAiiDkrJO9sIosA4rWjr.x6oSaL/72foxt4sBJr.\"\n",
    )
    .expect("users file");
    let both = Users::from_htpasswd_str(ALICE, &groups(), Some(users_file))
        .expect_err("a name in both files")
        .to_string();
    assert!(
        both.starts_with("1:1: user \"alice\" is also in the users file (at 2:8)"),
        "{both}"
    );
}
