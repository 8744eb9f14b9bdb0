//! User names as Unicode text: the one normalized form names are stored and looked up in
//! (NFC), and the key under which two different names look alike to a person.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// `name` in Unicode Normalization Form C, the form names are stored and looked up in;
/// borrowed when it already is (the usual case, checked without allocating).
///
/// The login throttle keys a username by this form too, so that writing a name another way
/// does not buy a fresh budget of attempts.
pub fn normalized_name(name: &str) -> Cow<'_, str> {
    match is_nfc_quick(name.chars()) {
        IsNormalized::Yes => Cow::Borrowed(name),
        IsNormalized::No | IsNormalized::Maybe => Cow::Owned(name.nfc().collect()),
    }
}

/// What two names that look alike have in common: full case folding (upper case, then
/// lower case: `ß` → `SS` → `ss`, which `to_lowercase` alone misses) between NFKC
/// normalizations (fullwidth letters, ligatures, superscripts → their plain forms).
pub(super) fn lookalike_key(name: &str) -> String {
    let compatible: String = name.nfkc().collect();
    let folded = compatible.to_uppercase().to_lowercase();
    folded.nfkc().collect()
}
