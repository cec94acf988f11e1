//! A password or token in a config.

use serde::Deserialize;

/// A password or token: usable as a `&str`, printed as `***` by `Debug`, so
/// logging a config can never leak it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::ops::Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_never_shows_it() {
        let s = super::Secret::from("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(&*s, "hunter2");
    }
}
