//! The ID token as the gateway reads it: the algorithm allow-list, the claims type that
//! keeps every non-standard claim (so any `user_claim` / `groups_claim` can be read), and
//! verification through `openidconnect` (signature against the JWKS the client holds,
//! `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`), giving the claims as one JSON object.

use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{AdditionalClaims, ClaimsVerificationError, IdToken, IdTokenVerifier, Nonce};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The ID token signature algorithms accepted: asymmetric ones only.
pub const ALLOWED_ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Every claim the provider sent besides the standard ones, kept as JSON so that any
/// `user_claim` / `groups_claim` can be read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OtherClaims(Map<String, Value>);

impl AdditionalClaims for OtherClaims {}

pub type ProviderIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// Verifies `id_token` with `verifier` restricted to [`ALLOWED_ALGORITHMS`]; the claims
/// as one JSON object.
///
/// # Errors
/// The crate's [`ClaimsVerificationError`] (signature, unknown key, claims, nonce).
pub fn verify(
    verifier: IdTokenVerifier<'_, CoreJsonWebKey>,
    id_token: &ProviderIdToken,
    nonce: &Nonce,
) -> Result<Map<String, Value>, ClaimsVerificationError> {
    let verifier = verifier.set_allowed_algs(ALLOWED_ALGORITHMS);
    let claims = id_token.claims(&verifier, nonce)?;
    as_object(claims).map_err(ClaimsVerificationError::Other)
}

/// `claims` serialized as one JSON object.
///
/// # Errors
/// The serialization error, as text.
pub fn as_object<T: Serialize>(claims: &T) -> Result<Map<String, Value>, String> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("claims are not an object".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_symmetric_or_none_algorithm_is_allowed() {
        for alg in ALLOWED_ALGORITHMS {
            assert!(
                !matches!(
                    alg,
                    CoreJwsSigningAlgorithm::HmacSha256
                        | CoreJwsSigningAlgorithm::HmacSha384
                        | CoreJwsSigningAlgorithm::HmacSha512
                        | CoreJwsSigningAlgorithm::None
                ),
                "{alg:?}"
            );
        }
    }
}
