//! Where a form may send the browser afterwards: local paths only, so no link can turn the
//! dashboard into an open redirect.

/// Whether `path` is a local path (`/...`, not `//host` or `/\host`, no backslash or control
/// character): the only kind of target a redirect after a form may go to.
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c == '\\' || c.is_control())
}

/// A `next` target only if it is a local path (see [`is_local_path`]); else `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if is_local_path(path) => path.to_string(),
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_accepts_only_local_paths() {
        assert_eq!(safe_next(Some("/endpoints?page=2")), "/endpoints?page=2");
        for bad in ["https://evil.example/", "//evil.example", "/\\evil.example", "evil", "/a\\b", "/a\nb", ""] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
