//! Login bodies for password, OAuth and key-pair (JWT) authentication.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::project::profiles::snowflake::{SnowflakeAuth, SnowflakeSettings};

/// The `data` fields that carry the credentials of a login request.
pub fn credentials(settings: &SnowflakeSettings, now: i64) -> Result<Value> {
    Ok(match &settings.auth {
        SnowflakeAuth::Password(password) => json!({"PASSWORD": password.expose()}),
        SnowflakeAuth::OAuth(token) => json!({"AUTHENTICATOR": "OAUTH", "TOKEN": token.expose()}),
        SnowflakeAuth::KeyPair { path, passphrase } => {
            let pem = std::fs::read_to_string(path).map_err(|e| {
                Error::file(path, format!("cannot read the private key: {e}"))
                    .with_hint("`private_key_path` must name a PKCS#8 PEM file (BEGIN PRIVATE KEY or BEGIN ENCRYPTED PRIVATE KEY)")
            })?;
            let key = match passphrase {
                Some(passphrase) => {
                    RsaPrivateKey::from_pkcs8_encrypted_pem(&pem, passphrase.expose())
                }
                None => RsaPrivateKey::from_pkcs8_pem(&pem),
            }
            .map_err(|e| {
                Error::file(path, format!("not a usable RSA private key: {e}")).with_hint(
                    "an encrypted key needs `private_key_passphrase`; convert a PKCS#1 key with `openssl pkcs8 -topk8`",
                )
            })?;
            json!({"AUTHENTICATOR": "SNOWFLAKE_JWT", "TOKEN": jwt(&settings.account, &settings.user, &key, now)?})
        }
    })
}

/// Snowflake's key-pair JWT: issuer `ACCOUNT.USER.SHA256:<public key fingerprint>`, an hour long.
pub fn jwt(account: &str, user: &str, key: &RsaPrivateKey, now: i64) -> Result<String> {
    // the account locator without region or cloud, upper case
    let account = account.split('.').next().unwrap_or(account).to_uppercase();
    let user = user.to_uppercase();
    let public = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| Error::Internal(format!("encoding the public key: {e}")))?;
    let fingerprint = STANDARD.encode(Sha256::digest(public.as_bytes()));
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = json!({
        "iss": format!("{account}.{user}.SHA256:{fingerprint}"),
        "sub": format!("{account}.{user}"),
        "iat": now,
        "exp": now + 3600,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{claims}");
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(signing_input.as_bytes());
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::VerifyingKey;
    use rsa::signature::Verifier;

    #[test]
    fn the_jwt_names_account_and_user_and_verifies_with_the_public_key() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/snowflake/");
        let pem = std::fs::read_to_string(format!("{fixtures}test_key_encrypted.p8")).unwrap();
        let key = RsaPrivateKey::from_pkcs8_encrypted_pem(&pem, "test-passphrase").unwrap();
        let plain = std::fs::read_to_string(format!("{fixtures}test_key.p8")).unwrap();
        assert_eq!(RsaPrivateKey::from_pkcs8_pem(&plain).unwrap(), key);
        let token = jwt("xy12345.eu-west-1", "etl_user", &key, 1_700_000_000).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["sub"], "XY12345.ETL_USER");
        assert!(
            claims["iss"]
                .as_str()
                .unwrap()
                .starts_with("XY12345.ETL_USER.SHA256:")
        );
        assert_eq!(claims["exp"], 1_700_003_600);
        let signature = rsa::pkcs1v15::Signature::try_from(
            URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice(),
        )
        .unwrap();
        VerifyingKey::<Sha256>::new(key.to_public_key())
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .unwrap();
    }
}
