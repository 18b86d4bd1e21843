//! Opens a config file for the developer, at the server entry's line when the agent located it:
//! the one place the app starts another program. Callers check the path is one the agent named.
//!
//! Which program (recorded in `desktop-ui/README.md`), first that starts wins:
//! 1. the editor of the client the file belongs to, when it is a VS Code build that takes
//!    `--goto FILE:LINE:COLUMN` (`code` for VS Code and its extensions' clients, `cursor`,
//!    `windsurf`), found on `PATH` (a spawn that finds no program falls through);
//! 2. `$VISUAL`, then `$EDITOR`, when it names an editor whose line syntax is known (`+LINE FILE`
//!    for vi, vim, nvim, nano, emacs, micro, kak, gedit...; `FILE:LINE:COLUMN` for subl, zed, hx;
//!    `--goto` for VS Code builds; `--line` for kate), terminal editors inside
//!    `x-terminal-emulator -e` (the tray has no terminal);
//! 3. the desktop's default application for the file (`xdg-open`, `open`, `explorer`), at its top.
//!
//! [`plan`] is pure (the environment comes from a [`Launcher`]), so tests check the command
//! lines without starting anything.

use std::path::Path;

/// One program to start: the program and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub program: String,
    pub args: Vec<String>,
}

/// Reads the environment and starts programs; the app's real one is [`SystemLauncher`], tests
/// record instead.
pub trait Launcher: Send + Sync {
    fn var(&self, name: &str) -> Option<String>;
    /// Starts `launch` without waiting; `ErrorKind::NotFound` when the program is not there.
    fn spawn(&self, launch: &Launch) -> std::io::Result<()>;
}

/// The process environment and `std::process::Command`.
#[derive(Debug, Default)]
pub struct SystemLauncher;

impl Launcher for SystemLauncher {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }

    fn spawn(&self, launch: &Launch) -> std::io::Result<()> {
        let mut cmd = std::process::Command::new(&launch.program);
        cmd.args(&launch.args);
        // The app's own start-up switch (see `muster_desktop_core::startup`) is not the editor's business.
        if std::env::var_os(muster_desktop_core::startup::SET_BY_APP).is_some() {
            cmd.env_remove("GDK_GL").env_remove(muster_desktop_core::startup::SET_BY_APP);
        }
        cmd.spawn().map(drop)
    }
}

/// Clients whose config files are best opened in a VS Code build, and the command of that build.
fn client_editor(client: &str) -> Option<&'static str> {
    match client {
        "vscode" | "cline" | "roo-code" | "kilo-code" | "augment" | "amp" => Some("code"),
        "cursor" => Some("cursor"),
        "windsurf" => Some("windsurf"),
        _ => None,
    }
}

fn default_opener() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    }
}

/// How an editor takes a line.
enum LineSyntax {
    /// `+LINE FILE`
    Plus,
    /// `--goto FILE:LINE:COLUMN`
    Goto,
    /// `FILE:LINE:COLUMN`
    Suffix,
    /// `--line LINE FILE`
    LineFlag,
}

/// The line syntax of a known editor, and whether it needs a terminal.
fn known_editor(program: &str) -> Option<(LineSyntax, bool)> {
    let name = Path::new(program).file_name()?.to_str()?;
    let name = name.strip_suffix(".exe").unwrap_or(name);
    Some(match name {
        "vi" | "vim" | "nvim" | "nano" | "micro" | "kak" | "joe" | "ne" => (LineSyntax::Plus, true),
        "emacs" | "emacsclient" | "gvim" | "gedit" | "gnome-text-editor" | "mousepad" | "pluma" | "xed" => {
            (LineSyntax::Plus, false)
        }
        "code" | "code-insiders" | "codium" | "cursor" | "windsurf" => (LineSyntax::Goto, false),
        "subl" | "zed" | "zeditor" => (LineSyntax::Suffix, false),
        "hx" | "helix" => (LineSyntax::Suffix, true),
        "kate" | "kwrite" => (LineSyntax::LineFlag, false),
        _ => return None,
    })
}

fn at_line(words: Vec<String>, syntax: &LineSyntax, file: &str, line: u32, column: u32) -> Vec<String> {
    let mut args = words;
    match syntax {
        LineSyntax::Plus => args.extend([format!("+{line}"), file.to_string()]),
        LineSyntax::Goto => args.extend(["--goto".to_string(), format!("{file}:{line}:{column}")]),
        LineSyntax::Suffix => args.push(format!("{file}:{line}:{column}")),
        LineSyntax::LineFlag => args.extend(["--line".to_string(), line.to_string(), file.to_string()]),
    }
    args
}

/// The programs to try, in order, to open `path` (at `place`, line and column, when known) for
/// a server of `client`.
pub fn plan(path: &str, place: Option<(u32, u32)>, client: &str, launcher: &dyn Launcher) -> Vec<Launch> {
    let mut out = Vec::new();
    if let Some((line, column)) = place {
        if let Some(editor) = client_editor(client) {
            out.push(Launch {
                program: editor.into(),
                args: at_line(Vec::new(), &LineSyntax::Goto, path, line, column),
            });
        }
        for var in ["VISUAL", "EDITOR"] {
            // `$EDITOR` may carry flags (`code -w`, `emacsclient -c`): split as a shell would.
            let Some(words) = launcher.var(var).and_then(|v| shlex::split(&v)) else { continue };
            let Some((program, flags)) = words.split_first() else { continue };
            let Some((syntax, terminal)) = known_editor(program) else { continue };
            let args = at_line(flags.to_vec(), &syntax, path, line, column);
            if terminal {
                if cfg!(target_os = "linux") {
                    let mut wrapped = vec!["-e".to_string(), program.clone()];
                    wrapped.extend(args);
                    out.push(Launch { program: "x-terminal-emulator".into(), args: wrapped });
                }
            } else {
                out.push(Launch { program: program.clone(), args });
            }
        }
    }
    out.push(Launch { program: default_opener().into(), args: vec![path.to_string()] });
    out
}

/// Starts the first program of `plan` that exists; the error of the last one otherwise.
pub fn open(plan: &[Launch], launcher: &dyn Launcher) -> std::io::Result<Launch> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no program to open the file with");
    for launch in plan {
        match launcher.spawn(launch) {
            Ok(()) => return Ok(launch.clone()),
            Err(e) => {
                tracing::debug!(program = %launch.program, error = %e, "cannot start; trying the next");
                last = e;
            }
        }
    }
    Err(last)
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// An environment of its own and a record of what was started; programs not in `present`
    /// are not found.
    #[derive(Default)]
    pub struct RecordingLauncher {
        pub env: BTreeMap<String, String>,
        pub present: Vec<String>,
        pub started: Arc<Mutex<Vec<Launch>>>,
    }

    impl Launcher for RecordingLauncher {
        fn var(&self, name: &str) -> Option<String> {
            self.env.get(name).cloned()
        }
        fn spawn(&self, launch: &Launch) -> std::io::Result<()> {
            if !self.present.contains(&launch.program) {
                return Err(std::io::ErrorKind::NotFound.into());
            }
            self.started.lock().unwrap().push(launch.clone());
            Ok(())
        }
    }

    pub fn launcher(env: &[(&str, &str)], present: &[&str]) -> RecordingLauncher {
        RecordingLauncher {
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            present: present.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        }
    }

    fn line(l: &Launch) -> String {
        std::iter::once(l.program.as_str()).chain(l.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
    }

    fn first(path: &str, place: Option<(u32, u32)>, client: &str, l: &RecordingLauncher) -> String {
        line(&open(&plan(path, place, client, l), l).unwrap())
    }

    #[test]
    fn the_first_available_editor_opens_the_file_at_the_line() {
        let f = "/home/dev/.cursor/mcp.json";
        let everything = ["code", "cursor", "vim", "subl", "kate", "x-terminal-emulator", "xdg-open"];
        // The client's own VS Code build, when present.
        assert_eq!(first(f, Some((12, 5)), "cursor", &launcher(&[], &everything)), format!("cursor --goto {f}:12:5"));
        assert_eq!(
            first(f, Some((12, 5)), "vscode", &launcher(&[("EDITOR", "vim")], &everything)),
            format!("code --goto {f}:12:5")
        );
        // Not on PATH: the user's editor, $VISUAL before $EDITOR, flags kept.
        let l = launcher(&[("VISUAL", "subl -n"), ("EDITOR", "vim")], &["vim", "subl", "xdg-open"]);
        assert_eq!(first(f, Some((12, 5)), "vscode", &l), format!("subl -n {f}:12:5"));
        let l = launcher(&[("EDITOR", "kate")], &everything);
        assert_eq!(first(f, Some((3, 1)), "codex", &l), format!("kate --line 3 {f}"));
        let l = launcher(&[("EDITOR", "/usr/bin/code -w")], &["/usr/bin/code", "xdg-open"]);
        assert_eq!(first(f, Some((3, 1)), "codex", &l), format!("/usr/bin/code -w --goto {f}:3:1"));
        // A terminal editor runs in a terminal.
        let l = launcher(&[("EDITOR", "nvim")], &everything);
        if cfg!(target_os = "linux") {
            assert_eq!(first(f, Some((7, 3)), "codex", &l), format!("x-terminal-emulator -e nvim +7 {f}"));
        }
        // An editor of unknown syntax, no line known, or nothing present: the default opener.
        let l = launcher(&[("EDITOR", "my-editor")], &everything);
        assert_eq!(first(f, Some((7, 3)), "codex", &l), format!("{} {f}", default_opener()));
        assert_eq!(first(f, None, "cursor", &launcher(&[], &everything)), format!("{} {f}", default_opener()));
        let none = launcher(&[("EDITOR", "vim")], &[]);
        assert!(open(&plan(f, Some((1, 1)), "cursor", &none), &none).is_err());
    }

    #[test]
    fn a_path_with_spaces_stays_one_argument() {
        let f = "/home/dev/My Projects/.vscode/mcp.json";
        let plan = plan(f, Some((2, 3)), "vscode", &launcher(&[("EDITOR", "vim")], &[]));
        assert_eq!(plan[0].args, ["--goto".to_string(), format!("{f}:2:3")]);
        assert!(plan.iter().all(|l| l.args.iter().any(|a| a.contains("My Projects"))
            && !l.args.iter().any(|a| a == "Projects/.vscode/mcp.json")));
    }
}
