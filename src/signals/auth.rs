//! The bdp mode's JWT: when it expires, read from its `exp` claim without checking the
//! signature (the Console signs it for the API, not for us), and whether it is still usable.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::secret::Secret;

/// A token this close to its `exp` is fetched again, so it does not expire in flight or on a
/// server whose clock runs a little ahead.
pub const LEEWAY_SECONDS: i64 = 5;

/// A bearer token and, for a JWT, when it expires (Unix seconds).
#[derive(Debug, Clone)]
pub struct Token {
    pub value: Secret,
    pub expires: Option<i64>,
}

impl Token {
    pub fn new(value: Secret) -> Token {
        let expires = token_expiry(value.expose());
        Token { value, expires }
    }

    /// Usable at `now` (Unix seconds): its `exp` is more than the leeway away. A token without
    /// a readable `exp` is not kept: upstream treats it as expired, so it is fetched per call.
    pub fn is_fresh(&self, now: i64) -> bool {
        self.expires.is_some_and(|exp| exp - LEEWAY_SECONDS > now)
    }
}

/// The `exp` claim of a JWT (`header.payload.signature`, base64url), if it has one.
pub fn token_expiry(jwt: &str) -> Option<i64> {
    let payload = jwt.split('.').nth(1)?;
    // some issuers pad; base64url without padding is the standard
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    match &claims["exp"] {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn the_expiry_is_read_from_the_payload() {
        assert_eq!(
            token_expiry(&jwt(r#"{"sub":"x","exp":1700000000}"#)),
            Some(1700000000)
        );
        assert_eq!(
            token_expiry(&jwt(r#"{"exp":1700000000.5}"#)),
            Some(1700000000)
        );
        assert_eq!(token_expiry(&jwt(r#"{"sub":"x"}"#)), None);
        assert_eq!(token_expiry("not a jwt"), None);
        assert_eq!(token_expiry("a.!!!.c"), None);
    }

    #[test]
    fn a_token_is_renewed_within_the_leeway() {
        let token = Token::new(Secret::new(jwt(r#"{"exp":1000}"#)));
        assert!(token.is_fresh(1000 - LEEWAY_SECONDS - 1));
        assert!(!token.is_fresh(1000 - LEEWAY_SECONDS));
        assert!(!token.is_fresh(2000));
        assert!(!Token::new(Secret::new("opaque".into())).is_fresh(0));
    }
}
