//! Package identity from a launch command (`npx -y @scope/pkg@1.2.3`, `uvx pkg==1.0`,
//! `docker run ... image@sha256:...`, `node ./server.js`, a plain binary) and the remote endpoint
//! behind a URL or a proxy wrapper (`npx mcp-remote https://...`).
//!
//! `pinned` means an exact registry version (npm exact semver, PyPI `==`, an OCI digest or a
//! non-`latest` tag). Local scripts and plain binaries are never "pinned": the unpinned-package
//! finding applies only to registry ecosystems.

use muster_proto::v1::{Ecosystem, Package, RemoteEndpoint};

/// The package a server is launched from, or `None` when there is no command.
pub fn identify(command: &str, args: &[&str]) -> Option<Package> {
    let (command, args) = unwrap_shell(command, args);
    let prog = program_name(command);
    match prog.as_str() {
        "npx" | "bunx" => npm_after_flags(args, &["-p", "--package", "-c", "--call", "--node-options"]),
        "pnpx" => npm_after_flags(args, &[]),
        "pnpm" | "yarn" => match args.first() {
            Some(&"dlx") => npm_after_flags(&args[1..], &["-p", "--package"]),
            _ => Some(binary(&prog)),
        },
        "npm" => match args.first() {
            Some(&"exec") | Some(&"x") => npm_after_flags(&args[1..], &["-p", "--package", "-c", "--call"]),
            _ => Some(binary(&prog)),
        },
        "bun" => match args.first() {
            Some(&"x") => npm_after_flags(&args[1..], &[]),
            Some(&"run") => local_script(&args[1..]).or(Some(binary(&prog))),
            _ => local_script(args).or(Some(binary(&prog))),
        },
        "uvx" => pypi_after_flags(args),
        "uv" => match (args.first(), args.get(1)) {
            (Some(&"tool"), Some(&"run")) => pypi_after_flags(&args[2..]),
            (Some(&"x"), _) => pypi_after_flags(&args[1..]),
            (Some(&"run"), _) => local_script(&args[1..]).or(Some(binary(&prog))),
            _ => Some(binary(&prog)),
        },
        "pipx" => match args.first() {
            Some(&"run") => pypi_after_flags(&args[1..]),
            _ => Some(binary(&prog)),
        },
        "docker" | "podman" | "nerdctl" => oci_run(args).or(Some(binary(&prog))),
        "deno" => deno(args).or(Some(binary(&prog))),
        p if p == "node" || p == "nodejs" || p == "tsx" || p == "ts-node" || p.starts_with("python") => {
            // `python -m module` runs an installed module: that is a PyPI package.
            if p.starts_with("python")
                && let Some(i) = args.iter().position(|a| *a == "-m")
                && let Some(m) = args.get(i + 1)
            {
                return Some(pypi_spec(&m.replace('_', "-")).unwrap_or_else(|| binary(m)));
            }
            local_script(args).or(Some(binary(&prog)))
        }
        _ => {
            if looks_like_path(command) {
                Some(Package {
                    ecosystem: Ecosystem::Local as i32,
                    name: command.to_string(),
                    version: None,
                    pinned: false,
                })
            } else {
                Some(binary(&prog))
            }
        }
    }
}

/// Where a launch names its registry package, for rewriting it to an exact version: only
/// `npx`, `npm exec` / `npm x`, `uvx` and `uv tool run`, run directly (not through a shell).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchSpec {
    /// Index into the launch's arguments of the argument holding the spec.
    pub index: usize,
    /// What precedes the spec inside that argument (`--package=`, `--from=`) or nothing.
    pub prefix: String,
    /// The spec as written (`pkg`, `@scope/pkg@latest`, `pkg[extra]>=1`).
    pub spec: String,
    pub ecosystem: Ecosystem,
    /// The package name from the spec.
    pub name: String,
    /// For uv: the command run (the package name unless `--from` names another package).
    pub command: String,
    /// For uv: the spec came from `--from`, so an exact version is written `name==version`
    /// (uv's `name@version` form is only for the command position).
    pub from: bool,
}

/// The registry spec of a launch `command args`, if it is one of the launchers in
/// [`LaunchSpec`] (a `cmd /c` or `sh -c` wrapper is not unwrapped: its argument indices are not
/// the file's).
pub fn launch_spec(command: &str, args: &[&str]) -> Option<LaunchSpec> {
    let prog = program_name(command);
    let (offset, ecosystem) = match prog.as_str() {
        "npx" => (0, Ecosystem::Npm),
        "npm" if matches!(args.first(), Some(&"exec") | Some(&"x")) => (1, Ecosystem::Npm),
        "uvx" => (0, Ecosystem::Pypi),
        "uv" if args.first() == Some(&"tool") && args.get(1) == Some(&"run") => (2, Ecosystem::Pypi),
        _ => return None,
    };
    let rest = &args[offset..];
    let at = |i: usize, prefix: &str, spec: &str, command: String, from: bool| {
        let name = match ecosystem {
            Ecosystem::Npm => npm_spec(spec).name,
            _ => pypi_spec(spec)?.name,
        };
        Some(LaunchSpec {
            index: offset + i,
            prefix: prefix.to_string(),
            spec: spec.to_string(),
            ecosystem,
            command: if command.is_empty() { name.clone() } else { command },
            name,
            from,
        })
    };
    if ecosystem == Ecosystem::Npm {
        for (i, a) in rest.iter().enumerate() {
            if let Some(p) = a.strip_prefix("--package=") {
                return at(i, "--package=", p, String::new(), false);
            }
            if (*a == "-p" || *a == "--package") && i + 1 < rest.len() {
                return at(i + 1, "", rest[i + 1], String::new(), false);
            }
        }
        let (i, spec) = first_positional(rest, &["-c", "--call", "--node-options"])?;
        return at(i, "", spec, String::new(), false);
    }
    let flags = ["--with", "--python", "-p", "--index-url", "--index", "--extra-index-url", "-i", "--from"];
    let command = first_positional(rest, &flags).map(|(_, c)| c.to_string());
    for (i, a) in rest.iter().enumerate() {
        if let Some(p) = a.strip_prefix("--from=") {
            return at(i, "--from=", p, command.unwrap_or_default(), true);
        }
        if *a == "--from" && i + 1 < rest.len() {
            return at(i + 1, "", rest[i + 1], command.unwrap_or_default(), true);
        }
    }
    let (i, spec) = first_positional(rest, &flags)?;
    let name = pypi_spec(spec)?.name;
    at(i, "", spec, name, false)
}

/// The argument pinning `launch` to exactly `version`: `name@version` for npm and for uv's
/// command position (the form uv documents for an exact version), `name==version` after
/// `--from` (a PEP 508 requirement), keeping extras. `None` for a spec that cannot be rewritten
/// safely (a URL, a path, extras in uv's command position).
pub fn pinned_argument(launch: &LaunchSpec, version: &str) -> Option<String> {
    let spec = launch.spec.as_str();
    // A URL, a `file:` spec or a path (for npm, a `/` outside a scope is a path or a GitHub
    // shorthand) is not a registry package.
    let scoped_npm = launch.ecosystem == Ecosystem::Npm && spec.starts_with('@') && spec.matches('/').count() == 1;
    if spec.contains("://") || spec.starts_with("file:") || (looks_like_path(spec) && !scoped_npm) {
        return None;
    }
    let pinned = match launch.ecosystem {
        Ecosystem::Npm => format!("{}@{version}", npm_spec(spec).name),
        _ => {
            let cut = spec.find(['=', '<', '>', '~', '!', '@', ';', ' ']).unwrap_or(spec.len());
            let name_part = spec[..cut].trim();
            if launch.from {
                format!("{name_part}=={version}")
            } else if name_part.contains('[') {
                return None;
            } else {
                format!("{name_part}@{version}")
            }
        }
    };
    Some(format!("{}{pinned}", launch.prefix))
}

/// The remote endpoint of a URL, or of the URL a proxy wrapper is given (`mcp-remote <url>`,
/// `supergateway --sse <url>`, `mcp-proxy <url>`).
pub fn endpoint(url: Option<&str>, package: Option<&Package>, args: &[&str]) -> Option<RemoteEndpoint> {
    if let Some(u) = url {
        return parse_endpoint(u);
    }
    let pkg = package?;
    let wrapper = ["mcp-remote", "supergateway", "mcp-proxy", "@modelcontextprotocol/inspector"];
    if wrapper.iter().any(|w| pkg.name == *w || pkg.name.ends_with(&format!("/{w}"))) {
        return args
            .iter()
            .find(|a| a.starts_with("http://") || a.starts_with("https://"))
            .and_then(|u| parse_endpoint(u));
    }
    None
}

fn parse_endpoint(u: &str) -> Option<RemoteEndpoint> {
    let parsed = url::Url::parse(u).ok()?;
    Some(RemoteEndpoint {
        scheme: parsed.scheme().to_string(),
        host: parsed.host_str().unwrap_or("").to_string(),
        port: parsed.port().map(u32::from),
        path: parsed.path().to_string(),
        auth: None,
    })
}

/// `cmd /c npx ...`, `cmd.exe /c ...`, `sh -c "npx ..."`: the real command inside.
fn unwrap_shell<'a>(command: &'a str, args: &'a [&'a str]) -> (&'a str, &'a [&'a str]) {
    let prog = program_name(command);
    if (prog == "cmd") && args.len() >= 2 && args[0].eq_ignore_ascii_case("/c") {
        return (args[1], &args[2..]);
    }
    (command, args)
}

/// Lower-case file name without directory and Windows extension.
pub fn program_name(command: &str) -> String {
    let base = command.rsplit(['/', '\\']).next().unwrap_or(command).to_ascii_lowercase();
    for ext in [".exe", ".cmd", ".bat", ".ps1"] {
        if let Some(stem) = base.strip_suffix(ext) {
            return stem.to_string();
        }
    }
    base
}

fn binary(name: &str) -> Package {
    Package { ecosystem: Ecosystem::Binary as i32, name: name.to_string(), version: None, pinned: false }
}

fn looks_like_path(s: &str) -> bool {
    s.contains('/') || s.contains('\\')
}

fn local_script(args: &[&str]) -> Option<Package> {
    let script = args.iter().find(|a| !a.starts_with('-'))?;
    let is_script =
        looks_like_path(script) || [".js", ".mjs", ".cjs", ".ts", ".py", ".pyz"].iter().any(|e| script.ends_with(e));
    is_script.then(|| Package {
        ecosystem: Ecosystem::Local as i32,
        name: (*script).to_string(),
        version: None,
        pinned: false,
    })
}

/// The first positional argument after flags (skipping values of flags that take one).
fn first_positional<'a>(args: &[&'a str], flags_with_value: &[&str]) -> Option<(usize, &'a str)> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if a == "--" {
            return args.get(i + 1).map(|s| (i + 1, *s));
        }
        if a.starts_with('-') {
            if !a.contains('=') && flags_with_value.contains(&a) {
                i += 1;
            }
            i += 1;
            continue;
        }
        return Some((i, a));
    }
    None
}

fn npm_after_flags(args: &[&str], flags_with_value: &[&str]) -> Option<Package> {
    // `--package=pkg` / `-p pkg` names the package explicitly.
    for (i, a) in args.iter().enumerate() {
        if let Some(p) = a.strip_prefix("--package=") {
            return Some(npm_spec(p));
        }
        if (*a == "-p" || *a == "--package") && i + 1 < args.len() {
            return Some(npm_spec(args[i + 1]));
        }
    }
    first_positional(args, flags_with_value).map(|(_, spec)| npm_spec(spec))
}

/// `@scope/name@version`, `name@tag`, `name`.
pub fn npm_spec(spec: &str) -> Package {
    let spec = spec.strip_prefix("npm:").unwrap_or(spec);
    // A URL spec (`git+https://host/org/repo.git#ref`, a tarball URL): its `@` is userinfo,
    // never a version separator; a `#ref` is the version, pinned when it is a full commit.
    if spec.contains("://") {
        let (name, version) = match spec.split_once('#') {
            Some((n, r)) => (n.to_string(), Some(r.to_string()).filter(|r| !r.is_empty())),
            None => (spec.to_string(), None),
        };
        let pinned = version.as_deref().is_some_and(|r| r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()));
        return Package { ecosystem: Ecosystem::Npm as i32, name, version, pinned };
    }
    let (name, version) = match spec.strip_prefix('@') {
        Some(rest) => match rest.split_once('@') {
            Some((n, v)) => (format!("@{n}"), Some(v.to_string())),
            None => (spec.to_string(), None),
        },
        None => match spec.split_once('@') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (spec.to_string(), None),
        },
    };
    let pinned = version.as_deref().is_some_and(is_exact_semver);
    Package { ecosystem: Ecosystem::Npm as i32, name, version: version.filter(|v| !v.is_empty()), pinned }
}

fn is_exact_semver(v: &str) -> bool {
    let v = v.strip_prefix('v').unwrap_or(v);
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn pypi_after_flags(args: &[&str]) -> Option<Package> {
    for (i, a) in args.iter().enumerate() {
        if let Some(p) = a.strip_prefix("--from=").or_else(|| a.strip_prefix("--spec=")) {
            return pypi_spec(p);
        }
        if (*a == "--from" || *a == "--spec") && i + 1 < args.len() {
            return pypi_spec(args[i + 1]);
        }
    }
    let flags = ["--with", "--python", "-p", "--index-url", "--index", "--extra-index-url", "-i", "--pip-args"];
    first_positional(args, &flags).and_then(|(_, s)| pypi_spec(s))
}

/// `name==1.0`, `name@1.0` (uvx), `name[extra]>=1`, `name`.
pub fn pypi_spec(spec: &str) -> Option<Package> {
    if spec.is_empty() || looks_like_path(spec) && !spec.contains("://") {
        return None;
    }
    let op_pos = spec.find(['=', '<', '>', '~', '!', '@']);
    let (name_part, rest) = match op_pos {
        Some(i) => spec.split_at(i),
        None => (spec, ""),
    };
    let name = name_part.split('[').next().unwrap_or(name_part).trim().to_string();
    let (version, pinned) = if let Some(v) = rest.strip_prefix("==") {
        (Some(v.to_string()), !v.contains('*'))
    } else if let Some(v) = rest.strip_prefix('@') {
        (Some(v.to_string()), v != "latest")
    } else if rest.is_empty() {
        (None, false)
    } else {
        (Some(rest.to_string()), false)
    };
    Some(Package { ecosystem: Ecosystem::Pypi as i32, name, version, pinned })
}

fn oci_run(args: &[&str]) -> Option<Package> {
    let start = match args.first() {
        Some(&"run") => 1,
        Some(&"container") if args.get(1) == Some(&"run") => 2,
        _ => return None,
    };
    let flags = [
        "-e",
        "--env",
        "--env-file",
        "-v",
        "--volume",
        "--mount",
        "--name",
        "--network",
        "--net",
        "-p",
        "--publish",
        "-u",
        "--user",
        "-w",
        "--workdir",
        "--entrypoint",
        "-l",
        "--label",
        "--add-host",
        "--cap-add",
        "--cap-drop",
        "--security-opt",
        "--memory",
        "-m",
        "--cpus",
        "--platform",
        "--pull",
        "--device",
        "--ulimit",
        "-h",
        "--hostname",
        "--tmpfs",
        "--log-driver",
        "--restart",
        "--dns",
        "--pid",
        "--ipc",
        "--userns",
        "--gpus",
        "--shm-size",
        "--stop-signal",
        "--runtime",
    ];
    let (_, image) = first_positional(&args[start..], &flags)?;
    Some(oci_ref(image))
}

/// `registry/name:tag@sha256:...`.
pub fn oci_ref(image: &str) -> Package {
    let (without_digest, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d.to_string())),
        None => (image, None),
    };
    // A tag is after the last ':' that comes after the last '/' (registry ports have ':' too).
    let last_slash = without_digest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match without_digest[last_slash..].rfind(':') {
        Some(i) => (&without_digest[..last_slash + i], Some(&without_digest[last_slash + i + 1..])),
        None => (without_digest, None),
    };
    let pinned = digest.is_some() || tag.is_some_and(|t| !t.is_empty() && t != "latest");
    let version = digest.or_else(|| tag.map(str::to_string));
    Package { ecosystem: Ecosystem::Oci as i32, name: name.to_string(), version, pinned }
}

fn deno(args: &[&str]) -> Option<Package> {
    let rest = match args.first() {
        Some(&"run") => &args[1..],
        _ => args,
    };
    let (_, target) = first_positional(rest, &["--config", "-c", "--import-map", "--env-file"])?;
    if let Some(spec) = target.strip_prefix("npm:") {
        return Some(npm_spec(spec));
    }
    if let Some(spec) = target.strip_prefix("jsr:") {
        let mut p = npm_spec(spec);
        p.name = format!("jsr:{}", p.name);
        return Some(p);
    }
    local_script(&[target])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(cmd: &str, args: &[&str]) -> (Ecosystem, String, Option<String>, bool) {
        let p = identify(cmd, args).expect("package");
        (p.ecosystem(), p.name, p.version, p.pinned)
    }

    #[test]
    fn npm_launchers() {
        assert_eq!(
            id("npx", &["-y", "@modelcontextprotocol/server-github"]),
            (Ecosystem::Npm, "@modelcontextprotocol/server-github".into(), None, false)
        );
        assert_eq!(id("npx", &["-y", "pkg@1.2.3"]), (Ecosystem::Npm, "pkg".into(), Some("1.2.3".into()), true));
        assert_eq!(id("npx", &["pkg@latest"]), (Ecosystem::Npm, "pkg".into(), Some("latest".into()), false));
        assert_eq!(id("npx", &["@s/p@^1.0.0"]), (Ecosystem::Npm, "@s/p".into(), Some("^1.0.0".into()), false));
        assert_eq!(id("pnpm", &["dlx", "pkg@2.0.0"]).1, "pkg");
        assert_eq!(id("yarn", &["dlx", "pkg"]).1, "pkg");
        assert!(id("npm", &["exec", "--", "pkg@1.0.0"]).3);
        assert_eq!(id("bunx", &["pkg"]).1, "pkg");
        assert_eq!(id("C:\\Program Files\\nodejs\\npx.cmd", &["-y", "pkg"]).1, "pkg");
        assert_eq!(
            id("cmd", &["/c", "npx", "-y", "pkg@1.0.0"]),
            (Ecosystem::Npm, "pkg".into(), Some("1.0.0".into()), true)
        );
        assert_eq!(id("npx", &["--package=@a/b@1.0.0", "b-cli"]).1, "@a/b");
    }

    #[test]
    fn pypi_launchers() {
        assert_eq!(id("uvx", &["mcp-server-git"]), (Ecosystem::Pypi, "mcp-server-git".into(), None, false));
        assert!(id("uvx", &["mcp-server-git==0.6.2"]).3);
        assert_eq!(id("uvx", &["mcp-server-git@0.6.2"]).2, Some("0.6.2".into()));
        assert_eq!(id("uvx", &["--from", "awslabs.core-mcp-server>=1", "core"]).1, "awslabs.core-mcp-server");
        assert_eq!(id("pipx", &["run", "mcp-server-fetch"]).1, "mcp-server-fetch");
        assert!(id("uv", &["tool", "run", "mcp-server-time==1.0"]).3);
        assert_eq!(id("python3", &["-m", "mcp_server_time"]).1, "mcp-server-time");
    }

    #[test]
    fn oci_launchers() {
        assert_eq!(
            id("docker", &["run", "-i", "--rm", "-e", "GITHUB_TOKEN", "ghcr.io/github/github-mcp-server"]),
            (Ecosystem::Oci, "ghcr.io/github/github-mcp-server".into(), None, false)
        );
        assert!(!id("docker", &["run", "mcp/fetch:latest"]).3);
        assert_eq!(
            id("podman", &["run", "localhost:5000/x:1.2"]),
            (Ecosystem::Oci, "localhost:5000/x".into(), Some("1.2".into()), true)
        );
        assert!(id("docker", &["run", "mcp/git@sha256:abc"]).3);
    }

    #[test]
    fn local_and_binaries() {
        assert_eq!(
            id("node", &["/home/dev/mcp/server.js"]),
            (Ecosystem::Local, "/home/dev/mcp/server.js".into(), None, false)
        );
        assert_eq!(id("python", &["server.py"]).0, Ecosystem::Local);
        assert_eq!(id("github-mcp-server", &["stdio"]), (Ecosystem::Binary, "github-mcp-server".into(), None, false));
        assert_eq!(id("/opt/tools/my-mcp", &[]).0, Ecosystem::Local);
        assert_eq!(id("deno", &["run", "-A", "npm:pkg@1.0.0"]).1, "pkg");
    }

    #[test]
    fn endpoints_from_urls_and_wrappers() {
        let e = endpoint(Some("https://mcp.atlassian.com:8443/v1/sse?x=1"), None, &[]).expect("endpoint");
        assert_eq!(
            (e.scheme.as_str(), e.host.as_str(), e.port, e.path.as_str()),
            ("https", "mcp.atlassian.com", Some(8443), "/v1/sse")
        );
        let pkg = identify("npx", &["mcp-remote", "https://mcp.linear.app/sse"]);
        let e = endpoint(None, pkg.as_ref(), &["mcp-remote", "https://mcp.linear.app/sse"]).expect("wrapped");
        assert_eq!(e.host, "mcp.linear.app");
    }
}
