//! Endpoint tags: the one rule for what a tag may be, shared by the agent (which refuses a config
//! file with a bad tag, naming every problem) and the control plane (which refuses a report
//! carrying one). Tags are set by IT at install time (`tags = [...]` in `agent.toml`, the MSI's
//! `TAGS` property) and used for policy targeting and fleet filters.
//!
//! The rule: 1 to [`MAX_TAG_LEN`] characters from `a-z`, `0-9` and `-_.:/`, starting with a letter
//! or a digit; at most [`MAX_TAGS`] tags; no tag twice. Lower case only, so `Team:Payments` and
//! `team:payments` can never be two tags; no spaces, commas, quotes or glob characters, so a tag
//! is safe in a comma-separated list, a shell word and a policy glob. This module does not store
//! or normalise tags; it only judges them.

use std::fmt;

/// The longest tag, in characters (all ASCII, so also in bytes).
pub const MAX_TAG_LEN: usize = 64;
/// The most tags one endpoint may carry.
pub const MAX_TAGS: usize = 32;

/// One reason a tag list breaks the rule. Positions count from 1, as people read a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagProblem {
    /// More than [`MAX_TAGS`] tags.
    TooMany { count: usize },
    /// An empty string.
    Empty { position: usize },
    /// Longer than [`MAX_TAG_LEN`] (the tag itself is not repeated: it may be anything).
    TooLong { position: usize, len: usize },
    /// A character outside `a-z0-9-_.:/`, or a first character that is not a letter or digit.
    BadCharacter { position: usize, tag: String, character: char },
    /// The same tag again.
    Duplicate { position: usize, tag: String },
}

impl fmt::Display for TagProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagProblem::TooMany { count } => write!(f, "{count} tags given, at most {MAX_TAGS} are allowed"),
            TagProblem::Empty { position } => write!(f, "tag {position} is empty"),
            TagProblem::TooLong { position, len } => {
                write!(f, "tag {position} is {len} characters long, at most {MAX_TAG_LEN} are allowed")
            }
            TagProblem::BadCharacter { position, tag, character } => write!(
                f,
                "tag {position} `{tag}`: {character:?} is not allowed (use a-z, 0-9 and -_.:/, starting with a \
                 letter or digit)"
            ),
            TagProblem::Duplicate { position, tag } => write!(f, "tag {position} `{tag}` is given twice"),
        }
    }
}

/// Every problem of `tags` at once; empty when the list follows the rule.
pub fn check<S: AsRef<str>>(tags: &[S]) -> Vec<TagProblem> {
    check_items(tags.iter().map(|tag| Some(tag.as_ref())))
}

/// [`check`] for a list read from a file where some items were not strings at all: `None` marks
/// such an item (its reader reports it); it still counts and keeps the positions of the others.
pub fn check_items<'a>(items: impl IntoIterator<Item = Option<&'a str>>) -> Vec<TagProblem> {
    let items: Vec<Option<&str>> = items.into_iter().collect();
    let mut problems = Vec::new();
    if items.len() > MAX_TAGS {
        problems.push(TagProblem::TooMany { count: items.len() });
    }
    for (index, item) in items.iter().enumerate() {
        let Some(tag) = *item else { continue };
        let position = index + 1;
        let len = tag.chars().count();
        if len == 0 {
            problems.push(TagProblem::Empty { position });
            continue;
        }
        if len > MAX_TAG_LEN {
            problems.push(TagProblem::TooLong { position, len });
            continue;
        }
        let bad = tag.chars().enumerate().find(|&(i, c)| {
            let alnum = c.is_ascii_lowercase() || c.is_ascii_digit();
            !(alnum || (i > 0 && matches!(c, '-' | '_' | '.' | ':' | '/')))
        });
        if let Some((_, character)) = bad {
            problems.push(TagProblem::BadCharacter { position, tag: printable(tag), character });
            continue;
        }
        if items[..index].contains(&Some(tag)) {
            problems.push(TagProblem::Duplicate { position, tag: tag.to_string() });
        }
    }
    problems
}

/// A tag as it may appear in a message: control characters escaped.
fn printable(tag: &str) -> String {
    tag.chars().flat_map(char::escape_default).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_tags_pass() {
        let tags = ["team:payments", "ring/canary", "eu-west-1", "contractor", "a", "0_x.y"];
        assert_eq!(check(&tags), []);
        assert_eq!(check(&["x".repeat(MAX_TAG_LEN)]), []);
        assert_eq!(check::<&str>(&[]), []);
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let long = "a".repeat(MAX_TAG_LEN + 1);
        let tags = ["Team", "", long.as_str(), "-lead", "a b", "ok", "ok", "semi;colon", "tab\t"];
        let problems = check(&tags);
        assert_eq!(
            problems,
            [
                TagProblem::BadCharacter { position: 1, tag: "Team".into(), character: 'T' },
                TagProblem::Empty { position: 2 },
                TagProblem::TooLong { position: 3, len: MAX_TAG_LEN + 1 },
                TagProblem::BadCharacter { position: 4, tag: "-lead".into(), character: '-' },
                TagProblem::BadCharacter { position: 5, tag: "a b".into(), character: ' ' },
                TagProblem::Duplicate { position: 7, tag: "ok".into() },
                TagProblem::BadCharacter { position: 8, tag: "semi;colon".into(), character: ';' },
                TagProblem::BadCharacter { position: 9, tag: "tab\\t".into(), character: '\t' },
            ]
        );
        assert!(problems[0].to_string().contains("use a-z, 0-9"), "{}", problems[0]);
    }

    #[test]
    fn too_many_tags_is_one_problem() {
        let tags: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert_eq!(check(&tags), [TagProblem::TooMany { count: MAX_TAGS + 1 }]);
    }

    #[test]
    fn items_that_are_no_strings_keep_the_positions_of_the_others() {
        assert_eq!(
            check_items([Some("a"), None, Some("A")]),
            [TagProblem::BadCharacter { position: 3, tag: "A".into(), character: 'A' }]
        );
    }

    #[test]
    fn non_ascii_letters_are_refused() {
        assert!(matches!(check(&["équipe"])[..], [TagProblem::BadCharacter { character: 'é', .. }]));
    }
}
