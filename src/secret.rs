//! A secret value (password, token, API key, passphrase) that cannot be printed by accident.
//!
//! `Debug` shows `<redacted>` and there is no `Display`: the only way to the text is
//! [`Secret::expose`], called where the secret goes on the wire, so a grep for `expose` finds
//! every place a secret leaves the process.

#[derive(Clone, PartialEq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: String) -> Secret {
        Secret(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of this secret replaced by `<redacted>`, for messages that
    /// quote something a server said (a server may echo what it was sent).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        text.replace(&self.0, "<redacted>")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("hunter2".into());
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(secret.redact("bad token hunter2!"), "bad token <redacted>!");
        assert_eq!(Secret::new(String::new()).redact("abc"), "abc");
    }
}
