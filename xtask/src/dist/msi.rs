//! The MSI writer: fills `packaging/windows/muster-agent.wxs` with the version and the agent
//! executable and builds it with Debian's `wixl -a x64` (msitools). This machine cannot compile
//! for Windows, so without `--windows-agent` the payload is a stand-in text file and the package
//! says so in its name (`…_STAND-IN.msi`); the Windows CI job passes the real `muster-agent.exe`
//! and `muster-tray.exe` (with `muster-window.exe` beside it, which the tray starts on "Open").

use std::path::{Path, PathBuf};
use std::process::Command;

use super::tool;

pub(super) fn build(
    version: &str,
    windows_agent: Option<&Path>,
    windows_tray: Option<&Path>,
    root: &Path,
    work: &Path,
    out: &Path,
) -> anyhow::Result<PathBuf> {
    let dir = work.join("msi");
    std::fs::create_dir_all(&dir)?;
    // wixl resolves `Source` relative to its working directory only (absolute paths fail).
    let mut stand_in = false;
    // The window program is taken from beside the tray, where the tray looks for it.
    let windows_window = windows_tray.map(|tray| tray.with_file_name("muster-window.exe"));
    for (name, given, flag) in [
        ("muster-agent.exe", windows_agent, "--windows-agent"),
        ("muster-tray.exe", windows_tray, "--windows-tray"),
        ("muster-window.exe", windows_window.as_deref(), "--windows-tray (beside it)"),
    ] {
        let exe = dir.join(name);
        match given {
            Some(path) => {
                std::fs::copy(path, &exe).map_err(|e| anyhow::anyhow!("copying {}: {e}", path.display()))?;
            }
            None => {
                std::fs::write(
                    &exe,
                    format!(
                        "STAND-IN: not a Windows program. This MSI was built on Linux to check the packaging; \
                         the Windows CI job builds the real {name} and passes it with {flag}.\n"
                    ),
                )?;
                stand_in = true;
            }
        }
    }
    let suffix = if stand_in { "_STAND-IN" } else { "" };
    let template = std::fs::read_to_string(root.join("packaging/windows/muster-agent.wxs"))?;
    // MSI product versions are major.minor.build with numbers only.
    let msi_version: String = version.split(['-', '+']).next().unwrap_or(version).to_string();
    let wxs = template
        .replace("@VERSION@", &msi_version)
        .replace("@AGENT_EXE@", "muster-agent.exe")
        .replace("@TRAY_EXE@", "muster-tray.exe")
        .replace("@WINDOW_EXE@", "muster-window.exe");
    let wxs_path = dir.join("muster-agent.wxs");
    std::fs::write(&wxs_path, wxs)?;
    let file = out.join(format!("muster-agent_{version}_x64{suffix}.msi"));
    tool(Command::new("wixl").current_dir(&dir).args(["-a", "x64", "-o"]).arg(&file).arg(&wxs_path))?;
    Ok(file)
}
