//! Where in a server definition a value was found: an environment variable, an HTTP header,
//! a command-line argument (with the previous argument as flag context), the server URL or
//! another named field. The location supplies the *name* context the detectors use; it never
//! holds the value.

use std::fmt;

/// A value's place in a server definition. Borrowed, so building one copies nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location<'a> {
    /// `env:NAME`
    Env(&'a str),
    /// `header:NAME`
    Header(&'a str),
    /// `arg:N`; `previous` is argument N-1, used as context when it is a flag (`--token`).
    Arg { index: usize, previous: Option<&'a str> },
    /// `url`
    Url,
    /// `field:NAME` (`field:apiKey`, `field:oauth.clientSecret`, `field:bearer_token_env_var`).
    Field(&'a str),
}

impl<'a> Location<'a> {
    /// Parses a discovery label (`env:NAME`, `header:NAME`, `arg:N`, `url`, `field:NAME`);
    /// `previous_arg` is only used for `arg:N`.
    pub fn parse(label: &'a str, previous_arg: Option<&'a str>) -> Option<Location<'a>> {
        if label == "url" {
            return Some(Location::Url);
        }
        let (kind, rest) = label.split_once(':')?;
        match kind {
            "env" => Some(Location::Env(rest)),
            "header" => Some(Location::Header(rest)),
            "field" => Some(Location::Field(rest)),
            "arg" => rest.parse().ok().map(|index| Location::Arg { index, previous: previous_arg }),
            _ => None,
        }
    }

    /// The name that gives the value meaning: the variable, header or field name, or the
    /// previous argument when it is a flag (`--api-key`, `-t`).
    pub fn context_name(&self) -> Option<&'a str> {
        match *self {
            Location::Env(n) | Location::Header(n) | Location::Field(n) => Some(n),
            Location::Arg { previous, .. } => {
                previous.filter(|p| p.starts_with('-') && p.len() > 1 && !p.contains('='))
            }
            Location::Url => None,
        }
    }
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Env(n) => write!(f, "env:{n}"),
            Location::Header(n) => write!(f, "header:{n}"),
            Location::Arg { index, .. } => write!(f, "arg:{index}"),
            Location::Url => f.write_str("url"),
            Location::Field(n) => write!(f, "field:{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for label in ["env:GITHUB_TOKEN", "header:Authorization", "arg:3", "url", "field:oauth.clientSecret"] {
            assert_eq!(Location::parse(label, None).map(|l| l.to_string()).as_deref(), Some(label));
        }
        assert_eq!(Location::parse("arg:x", None), None);
        assert_eq!(Location::parse("bogus", None), None);
        assert_eq!(Location::parse("other:x", None), None);
    }

    #[test]
    fn only_flags_give_argument_context() {
        assert_eq!(Location::Arg { index: 2, previous: Some("--token") }.context_name(), Some("--token"));
        assert_eq!(Location::Arg { index: 2, previous: Some("server.js") }.context_name(), None);
        assert_eq!(Location::Arg { index: 2, previous: Some("--mode=fast") }.context_name(), None);
        assert_eq!(Location::Arg { index: 0, previous: None }.context_name(), None);
        assert_eq!(Location::Env("API_KEY").context_name(), Some("API_KEY"));
        assert_eq!(Location::Url.context_name(), None);
    }
}
