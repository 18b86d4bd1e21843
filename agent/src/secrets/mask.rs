//! Masking of command-line arguments and URLs for display: values of secret-named flags
//! (`--token`, `--api-key`, `--password`, ...), URL userinfo passwords and query values become
//! [`MASK`]. The credential detectors decide what *is* a secret; this module only makes sure
//! such parts are never printed.

use super::Secret;

/// What a masked part is replaced with.
pub const MASK: &str = "****";

/// Whether a flag or variable name suggests its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.trim_start_matches('-').to_ascii_lowercase().replace('-', "_");
    const WORDS: &[&str] = &[
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "api_key",
        "apikey",
        "access_key",
        "auth",
        "credential",
        "private_key",
        "pat",
        "bearer",
        "cookie",
        "session",
        "client_secret",
        "key",
    ];
    if n.is_empty() {
        return false;
    }
    let parts: Vec<&str> = n.split('_').collect();
    WORDS.iter().any(|w| {
        if w.contains('_') {
            n.contains(w)
        } else if *w == "key" || *w == "pat" || *w == "pwd" || *w == "auth" {
            // Short words only as a whole segment: `--key`, `API_KEY`, `GITHUB_PAT`, `--auth`,
            // but not `--keyboard` or `--path`.
            parts.contains(w) || (*w == "auth" && parts.iter().any(|p| p.starts_with("auth")))
        } else {
            n.contains(w)
        }
    })
}

/// Masks an argument list: `--token=abc` → `--token=****`, `--token abc` → `--token ****`,
/// URLs with credentials or query values masked, and any argument `extra` says is a secret.
pub fn mask_args(args: &[Secret], extra: &dyn Fn(usize, &str) -> bool) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut mask_next = false;
    for (i, arg) in args.iter().enumerate() {
        let a = arg.expose();
        if mask_next {
            mask_next = false;
            if !a.starts_with('-') || a.len() == 1 {
                out.push(MASK.to_string());
                continue;
            }
        }
        if extra(i, a) {
            out.push(MASK.to_string());
            continue;
        }
        if a.starts_with('-') {
            if let Some((flag, value)) = a.split_once('=') {
                if is_secret_name(flag) && !value.is_empty() {
                    out.push(format!("{flag}={MASK}"));
                } else {
                    out.push(format!("{flag}={}", mask_embedded(value)));
                }
                continue;
            }
            if is_secret_name(a) {
                mask_next = true;
            }
            out.push(a.to_string());
            continue;
        }
        out.push(mask_embedded(a));
    }
    out
}

/// Masks `NAME=value` pairs with secret names and URLs anywhere in a single value.
fn mask_embedded(value: &str) -> String {
    if value.contains("://") {
        return mask_url(value);
    }
    if let Some((name, v)) = value.split_once('=')
        && !name.is_empty()
        && !name.contains(' ')
        && is_secret_name(name)
        && !v.is_empty()
    {
        return format!("{name}={MASK}");
    }
    // `Authorization: Bearer x` style header arguments.
    if let Some((name, v)) = value.split_once(':')
        && !v.trim().is_empty()
        && is_secret_name(name.trim())
    {
        return format!("{name}: {MASK}");
    }
    value.to_string()
}

/// Masks a URL's password (or a lone userinfo token) and every query value; a value that does
/// not parse as a URL but has `user:pass@` is masked conservatively.
pub fn mask_url(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://") else { return raw.to_string() };
    let (scheme, rest) = raw.split_at(scheme_end + 3);
    let (authority_and_path, fragment) = match rest.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (rest, None),
    };
    let (before_query, query) = match authority_and_path.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (authority_and_path, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _pass)) => format!("{user}:{MASK}@{host}"),
            None => format!("{MASK}@{host}"),
        },
        None => authority.to_string(),
    };
    let mut out = format!("{scheme}{authority}{path}");
    if let Some(q) = query {
        out.push('?');
        let masked: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if !v.is_empty() => format!("{k}={MASK}"),
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&masked.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(if f.is_empty() { "" } else { MASK });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Secret> {
        v.iter().map(|s| Secret::new(*s)).collect()
    }

    #[test]
    fn secret_flags_are_masked_in_both_spellings() {
        let masked = mask_args(
            &args(&["-y", "server", "--token=abc", "--api-key", "def", "--port", "8080", "--password", "--verbose"]),
            &|_, _| false,
        );
        assert_eq!(
            masked,
            ["-y", "server", "--token=****", "--api-key", "****", "--port", "8080", "--password", "--verbose"]
        );
    }

    #[test]
    fn urls_lose_passwords_and_query_values() {
        assert_eq!(
            mask_url("postgres://app:hunter2@db.internal:5432/prod?sslmode=require"),
            "postgres://app:****@db.internal:5432/prod?sslmode=****"
        );
        assert_eq!(mask_url("https://ghp_abc@github.com/x"), "https://****@github.com/x");
        assert_eq!(mask_url("https://mcp.example.com/sse"), "https://mcp.example.com/sse");
        let masked = mask_args(&args(&["https://x.io/mcp?key=abc&flag"]), &|_, _| false);
        assert_eq!(masked, ["https://x.io/mcp?key=****&flag"]);
    }

    #[test]
    fn secret_names() {
        for n in
            ["--token", "GITHUB_PERSONAL_ACCESS_TOKEN", "API_KEY", "--api-key", "PGPASSWORD", "GITHUB_PAT", "--auth"]
        {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["--port", "--path", "--keyboard-layout", "HOME", "--verbose", "PATH"] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn header_style_args_are_masked() {
        let masked = mask_args(&args(&["--header", "Authorization: Bearer abc"]), &|_, _| false);
        assert_eq!(masked, ["--header", "Authorization: ****"]);
    }
}
