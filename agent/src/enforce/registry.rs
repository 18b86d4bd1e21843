//! The Windows registry, as far as the client-policy levers need it: one string value under a
//! key, read, set or deleted. [`RegistryBackend`] is the seam; [`RegFile`] keeps a machine
//! image's registry as a `.reg`-format text file under the image root (used for `--root` images
//! and for `--os windows` on other hosts), and `Native` (Windows builds only) is the live
//! registry. Only `HKLM` is modelled: the levers Muster reads are machine-wide policy keys.

use std::path::{Path, PathBuf};

use crate::platform::Layout;

/// Where an image's `HKLM` lives, as a path on the imaged machine.
pub const IMAGE_HKLM_FILE: &str = "C:\\Windows\\muster-registry\\HKLM.reg";

const HEADER: &str = "Windows Registry Editor Version 5.00";
const HKLM_LONG: &str = "HKEY_LOCAL_MACHINE\\";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("only HKLM keys are supported, not {0}")]
    UnsupportedHive(String),
    #[error("{path}: line {line}: {why}")]
    Malformed { path: String, line: usize, why: String },
    #[error("{key}\\{name} is not a string value")]
    NotAString { key: String, name: String },
    #[error("a value stored in a .reg file cannot hold a line break")]
    LineBreak,
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Get, set and delete one string value (`REG_SZ`) under a key such as
/// `HKLM\SOFTWARE\Policies\ClaudeCode`. Key paths and value names compare case-insensitively,
/// as Windows does.
pub trait RegistryBackend {
    /// The value, `None` when the key or the value is absent.
    fn get(&self, key: &str, name: &str) -> Result<Option<String>, RegistryError>;
    /// Creates the key when needed.
    fn set(&self, key: &str, name: &str, value: &str) -> Result<(), RegistryError>;
    /// Deletes the value (and, in a `.reg` file, the key once it holds nothing); absent is fine.
    fn delete(&self, key: &str, name: &str) -> Result<(), RegistryError>;
}

/// The backend for a layout: the image's `.reg` file for an image (or a Windows layout on another
/// host); the live registry on a live Windows machine. `None` when the layout has no registry.
pub fn for_layout(layout: &Layout) -> Option<Box<dyn RegistryBackend>> {
    if layout.os() != crate::platform::Os::Windows {
        return None;
    }
    #[cfg(windows)]
    if !layout.is_image() {
        return Some(Box::new(native::Native));
    }
    Some(Box::new(RegFile::new(layout.resolve(IMAGE_HKLM_FILE)?)))
}

/// `HKLM\X` or `HKEY_LOCAL_MACHINE\X` → `X` (the path under the hive).
fn under_hklm(key: &str) -> Result<&str, RegistryError> {
    let k = key.trim_matches('\\');
    for prefix in ["HKLM\\", HKLM_LONG] {
        if k.len() > prefix.len() && k[..prefix.len()].eq_ignore_ascii_case(prefix) {
            return Ok(&k[prefix.len()..]);
        }
    }
    Err(RegistryError::UnsupportedHive(key.to_string()))
}

/// One key of a `.reg` file: its path under HKLM and its values (name, data as written).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    key: String,
    values: Vec<(String, Data)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Data {
    Sz(String),
    /// Any other type, kept as its raw text (`dword:…`, `hex(2):…`).
    Other(String),
}

/// An image's `HKLM` as a `.reg`-format file (UTF-8, or UTF-16LE with a byte-order mark as
/// `regedit` exports it; written back as UTF-8). Writes replace the file atomically.
#[derive(Debug, Clone)]
pub struct RegFile {
    path: PathBuf,
}

impl RegFile {
    pub fn new(path: PathBuf) -> RegFile {
        RegFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> RegistryError {
        RegistryError::Io { path: self.path.display().to_string(), source }
    }

    fn load(&self) -> Result<Vec<Section>, RegistryError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(e)),
        };
        let text = decode(&bytes).ok_or_else(|| self.malformed(0, "not UTF-8 or UTF-16LE text"))?;
        self.parse(&text)
    }

    fn malformed(&self, line: usize, why: &str) -> RegistryError {
        RegistryError::Malformed { path: self.path.display().to_string(), line, why: why.to_string() }
    }

    fn parse(&self, text: &str) -> Result<Vec<Section>, RegistryError> {
        let mut out: Vec<Section> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with(';') || line == HEADER || line == "REGEDIT4" {
                continue;
            }
            if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let key = under_hklm(inner).map_err(|_| self.malformed(n, "a key outside HKLM"))?;
                out.push(Section { key: key.to_string(), values: Vec::new() });
                continue;
            }
            let Some(section) = out.last_mut() else { return Err(self.malformed(n, "a value before any [key]")) };
            let (name, rest) = if let Some(rest) = line.strip_prefix('@') {
                (String::new(), rest)
            } else {
                let (name, len) = unquote(line).ok_or_else(|| self.malformed(n, "a value name must be quoted"))?;
                (name, &line[len..])
            };
            let rest = rest.trim_start().strip_prefix('=').ok_or_else(|| self.malformed(n, "expected '='"))?.trim();
            let data = if rest.starts_with('"') {
                let (v, len) = unquote(rest).ok_or_else(|| self.malformed(n, "an unterminated string"))?;
                if !rest[len..].trim().is_empty() {
                    return Err(self.malformed(n, "text after the string"));
                }
                Data::Sz(v)
            } else if rest.ends_with('\\') {
                return Err(self.malformed(n, "continued hex values are not supported"));
            } else {
                Data::Other(rest.to_string())
            };
            section.values.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
            section.values.push((name, data));
        }
        Ok(out)
    }

    fn store(&self, sections: &[Section]) -> Result<(), RegistryError> {
        let mut text = format!("{HEADER}\r\n");
        for s in sections {
            text.push_str(&format!("\r\n[{HKLM_LONG}{}]\r\n", s.key));
            for (name, data) in &s.values {
                let name = if name.is_empty() { "@".to_string() } else { quote(name) };
                let data = match data {
                    Data::Sz(v) => quote(v),
                    Data::Other(raw) => raw.clone(),
                };
                text.push_str(&format!("{name}={data}\r\n"));
            }
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        crate::state::write_atomic(&self.path, text.as_bytes()).map_err(|e| self.io(e))
    }
}

impl RegistryBackend for RegFile {
    fn get(&self, key: &str, name: &str) -> Result<Option<String>, RegistryError> {
        let k = under_hklm(key)?;
        let sections = self.load()?;
        let found = sections
            .iter()
            .rev()
            .filter(|s| s.key.eq_ignore_ascii_case(k))
            .find_map(|s| s.values.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)));
        match found {
            None => Ok(None),
            Some((_, Data::Sz(v))) => Ok(Some(v.clone())),
            Some(_) => Err(RegistryError::NotAString { key: key.to_string(), name: name.to_string() }),
        }
    }

    fn set(&self, key: &str, name: &str, value: &str) -> Result<(), RegistryError> {
        if value.contains(['\r', '\n']) {
            return Err(RegistryError::LineBreak);
        }
        let k = under_hklm(key)?;
        let mut sections = self.load()?;
        let i = match sections.iter().position(|s| s.key.eq_ignore_ascii_case(k)) {
            Some(i) => i,
            None => {
                sections.push(Section { key: k.to_string(), values: Vec::new() });
                sections.len() - 1
            }
        };
        let section = &mut sections[i];
        match section.values.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, d)) => *d = Data::Sz(value.to_string()),
            None => section.values.push((name.to_string(), Data::Sz(value.to_string()))),
        }
        self.store(&sections)
    }

    fn delete(&self, key: &str, name: &str) -> Result<(), RegistryError> {
        let k = under_hklm(key)?;
        let mut sections = self.load()?;
        let before = sections.clone();
        for s in sections.iter_mut().filter(|s| s.key.eq_ignore_ascii_case(k)) {
            s.values.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
        sections.retain(|s| !(s.key.eq_ignore_ascii_case(k) && s.values.is_empty()));
        if sections == before {
            return Ok(());
        }
        self.store(&sections)
    }
}

/// UTF-8, or UTF-16LE behind its byte-order mark.
fn decode(bytes: &[u8]) -> Option<String> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if rest.len() % 2 != 0 {
            return None;
        }
        let units: Vec<u16> = rest.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        return String::from_utf16(&units).ok();
    }
    let b = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    String::from_utf8(b.to_vec()).ok()
}

/// A `.reg` quoted string at the start of `s`: its text and the bytes it took.
fn unquote(s: &str) -> Option<(String, usize)> {
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => out.push(chars.next()?.1),
            c => out.push(c),
        }
    }
    None
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The live registry (Windows builds only). NOT compiled or tested on the hosts this project
/// builds on: no Windows target is installed there.
#[cfg(windows)]
mod native {
    use winreg::RegKey;
    use winreg::enums::{HKEY_LOCAL_MACHINE, KEY_READ, KEY_WRITE};

    use super::{RegistryBackend, RegistryError, under_hklm};

    pub struct Native;

    fn io(key: &str, source: std::io::Error) -> RegistryError {
        RegistryError::Io { path: key.to_string(), source }
    }

    impl RegistryBackend for Native {
        fn get(&self, key: &str, name: &str) -> Result<Option<String>, RegistryError> {
            let hklm = RegKey::predef(HKEY_LOCAL_MACHINE);
            let k = match hklm.open_subkey_with_flags(under_hklm(key)?, KEY_READ) {
                Ok(k) => k,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io(key, e)),
            };
            match k.get_value::<String, _>(name) {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io(key, e)),
            }
        }

        fn set(&self, key: &str, name: &str, value: &str) -> Result<(), RegistryError> {
            let hklm = RegKey::predef(HKEY_LOCAL_MACHINE);
            let (k, _) = hklm.create_subkey_with_flags(under_hklm(key)?, KEY_WRITE).map_err(|e| io(key, e))?;
            k.set_value(name, &value).map_err(|e| io(key, e))
        }

        fn delete(&self, key: &str, name: &str) -> Result<(), RegistryError> {
            let hklm = RegKey::predef(HKEY_LOCAL_MACHINE);
            let k = match hklm.open_subkey_with_flags(under_hklm(key)?, KEY_WRITE) {
                Ok(k) => k,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(io(key, e)),
            };
            match k.delete_value(name) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(key, e)),
                _ => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "HKLM\\SOFTWARE\\Policies\\ClaudeCode";

    #[test]
    fn values_round_trip_through_the_reg_file_and_other_keys_survive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("HKLM.reg");
        std::fs::write(
            &path,
            "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Other]\r\n\
             \"Level\"=dword:00000001\r\n\"Path\"=\"C:\\\\x\"\r\n",
        )
        .unwrap();
        let reg = RegFile::new(path.clone());
        let json = r#"{"permissions":{"deny":["mcp__a__b"]},"p":"C:\\y"}"#;
        reg.set(KEY, "Settings", json).unwrap();
        assert_eq!(reg.get("hklm\\software\\policies\\claudecode", "settings").unwrap().as_deref(), Some(json));
        assert_eq!(reg.get("HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Other", "Path").unwrap().as_deref(), Some("C:\\x"));
        assert!(matches!(reg.get("HKLM\\SOFTWARE\\Policies\\Other", "Level"), Err(RegistryError::NotAString { .. })));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"Level\"=dword:00000001"), "{text}");
        reg.delete(KEY, "Settings").unwrap();
        assert_eq!(reg.get(KEY, "Settings").unwrap(), None);
        assert!(!std::fs::read_to_string(&path).unwrap().contains("ClaudeCode"));
        assert!(matches!(reg.get("HKCU\\x", "y"), Err(RegistryError::UnsupportedHive(_))));
        assert!(matches!(reg.set(KEY, "Settings", "a\nb"), Err(RegistryError::LineBreak)));
    }

    #[test]
    fn regedit_utf16_exports_are_read_and_bad_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("HKLM.reg");
        let text = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\ClaudeCode]\r\n\"Settings\"=\"{\\\"a\\\":1}\"\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(RegFile::new(path.clone()).get(KEY, "Settings").unwrap().as_deref(), Some("{\"a\":1}"));
        std::fs::write(&path, "\"Settings\"=\"x\"\r\n").unwrap();
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(RegFile::new(path.clone()).set(KEY, "Settings", "y"), Err(RegistryError::Malformed { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), before, "a refused file is left as it was");
    }
}
