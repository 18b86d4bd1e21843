//! Reading one configuration file safely: never blocking on a FIFO, never following a symlink
//! loop, never reading more than [`MAX_CONFIG_BYTES`], and turning every failure into a
//! [`ReadError`] the scan reports as a problem. Decoding handles a UTF-8 BOM and UTF-16 files
//! with a BOM (as Windows editors write them). This module does not parse anything.

use std::fs::File;
use std::io::{Read, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

/// Files larger than this are not parsed (`~/.claude.json` with a long history is a few MB).
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// A configuration file's text and the facts about it that findings need.
#[derive(Debug)]
pub struct FileData {
    pub text: String,
    /// The path after following symbolic links, when it differs.
    pub real_path: Option<PathBuf>,
    pub size: u64,
    pub mtime_unix: Option<i64>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    #[error("file does not exist")]
    NotFound,
    #[error("cannot read file: permission denied")]
    PermissionDenied,
    #[error("symbolic link loop or dangling link")]
    BadLink,
    #[error("not a regular file ({0})")]
    NotAFile(&'static str),
    #[error("file is {size} bytes, over the {limit}-byte limit; not parsed")]
    TooLarge { size: u64, limit: u64 },
    #[error("file is not valid UTF-8 (first bad byte at offset {0})")]
    NotUtf8(usize),
    #[error("file is not valid UTF-16")]
    NotUtf16,
    #[error("cannot read file: {0}")]
    Io(String),
}

impl ReadError {
    fn from_io(e: &std::io::Error) -> ReadError {
        match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::NotFound,
            std::io::ErrorKind::PermissionDenied => ReadError::PermissionDenied,
            _ => ReadError::Io(e.kind().to_string()),
        }
    }
}

/// Whether anything exists at `path` (a file, dir, FIFO or even a dangling link): candidates
/// that do not exist are skipped silently, everything else is read or reported.
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Reads a configuration file. See the module docs for what is refused.
pub fn read_config(path: &Path) -> Result<FileData, ReadError> {
    let (mut file, mut data) = open_config(path)?;
    data.text = read_text(&mut file, data.size)?;
    Ok(data)
}

/// Like [`read_config`], except that a file of at least `stream_from` bytes is first handed to
/// `stream` as a reader (unbuffered: the stream reads in large blocks; capped at
/// [`MAX_CONFIG_BYTES`]), so its text is never held
/// whole; only when `stream` gives up (`None`) is the file read whole, from the start, and
/// returned as text. With a streamed result the returned text is empty.
pub fn read_config_streamed<T>(
    path: &Path,
    stream_from: u64,
    stream: impl FnOnce(&mut dyn Read) -> Option<T>,
) -> Result<(FileData, Option<T>), ReadError> {
    let (mut file, mut data) = open_config(path)?;
    if data.size >= stream_from {
        let mut reader = (&file).take(MAX_CONFIG_BYTES + 1);
        if let Some(value) = stream(&mut reader) {
            return Ok((data, Some(value)));
        }
        file.seek(SeekFrom::Start(0)).map_err(|e| ReadError::from_io(&e))?;
    }
    data.text = read_text(&mut file, data.size)?;
    Ok((data, None))
}

fn read_text(file: &mut File, size: u64) -> Result<String, ReadError> {
    let mut bytes = Vec::with_capacity(size.min(MAX_CONFIG_BYTES) as usize);
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).map_err(|e| ReadError::from_io(&e))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ReadError::TooLarge { size: bytes.len() as u64, limit: MAX_CONFIG_BYTES });
    }
    decode(bytes)
}

/// Opens a configuration file after every check of [`read_config`]; the facts are filled in,
/// the text is left empty.
fn open_config(path: &Path) -> Result<(File, FileData), ReadError> {
    let link_meta = std::fs::symlink_metadata(path).map_err(|e| ReadError::from_io(&e))?;
    let real_path = if link_meta.file_type().is_symlink() {
        // canonicalize fails with ELOOP on loops and ENOENT on dangling links.
        Some(std::fs::canonicalize(path).map_err(|_| ReadError::BadLink)?)
    } else {
        None
    };
    let meta = std::fs::metadata(path).map_err(|e| ReadError::from_io(&e))?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile(file_kind(&meta)));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(ReadError::TooLarge { size: meta.len(), limit: MAX_CONFIG_BYTES });
    }
    let file = open_nonblocking(path).map_err(|e| ReadError::from_io(&e))?;
    // The path may have been swapped for a FIFO between the stat and the open: check the handle.
    let handle_meta = file.metadata().map_err(|e| ReadError::from_io(&e))?;
    if !handle_meta.is_file() {
        return Err(ReadError::NotAFile(file_kind(&handle_meta)));
    }
    let data = FileData {
        text: String::new(),
        real_path,
        size: handle_meta.len(),
        mtime_unix: handle_meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64),
        mode: unix_mode(&handle_meta),
        uid: unix_uid(&handle_meta),
    };
    Ok((file, data))
}

/// Decodes configuration bytes: UTF-8 (BOM stripped) or UTF-16 with a BOM.
pub fn decode(bytes: Vec<u8>) -> Result<String, ReadError> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8(rest.to_vec()).map_err(|e| ReadError::NotUtf8(e.utf8_error().valid_up_to() + 3));
    }
    let utf16 = |le: bool| -> Result<String, ReadError> {
        let body = &bytes[2..];
        if !body.len().is_multiple_of(2) {
            return Err(ReadError::NotUtf16);
        }
        let units: Vec<u16> = body
            .chunks_exact(2)
            .map(|c| if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) })
            .collect();
        String::from_utf16(&units).map_err(|_| ReadError::NotUtf16)
    };
    if bytes.starts_with(&[0xFF, 0xFE]) {
        return utf16(true);
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return utf16(false);
    }
    String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8(e.utf8_error().valid_up_to()))
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_block_device() || ft.is_char_device() {
            return "a device";
        }
    }
    "not a regular file"
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    std::fs::OpenOptions::new().read(true).custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32).open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

#[cfg(unix)]
fn unix_mode(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(meta.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn unix_mode(_meta: &std::fs::Metadata) -> Option<u32> {
    None
}

#[cfg(unix)]
fn unix_uid(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    Some(meta.uid())
}

#[cfg(not(unix))]
fn unix_uid(_meta: &std::fs::Metadata) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_and_utf16_decode() {
        assert_eq!(decode(b"\xEF\xBB\xBF{}".to_vec()), Ok("{}".to_string()));
        assert_eq!(decode(vec![0xFF, 0xFE, b'{', 0, b'}', 0]), Ok("{}".to_string()));
        assert_eq!(decode(vec![0xFE, 0xFF, 0, b'{', 0, b'}']), Ok("{}".to_string()));
        assert_eq!(decode(b"{\"a\":\xFF}".to_vec()), Err(ReadError::NotUtf8(5)));
    }

    #[cfg(unix)]
    #[test]
    fn fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("mcp.json");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).expect("mkfifo");
        assert_eq!(read_config(&fifo).unwrap_err(), ReadError::NotAFile("a FIFO"));
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loop_and_directory_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        std::os::unix::fs::symlink(&b, &a).expect("link");
        std::os::unix::fs::symlink(&a, &b).expect("link");
        assert_eq!(read_config(&a).unwrap_err(), ReadError::BadLink);
        assert_eq!(read_config(dir.path()).unwrap_err(), ReadError::NotAFile("a directory"));
    }

    #[cfg(unix)]
    #[test]
    fn symlink_reports_real_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real.json");
        std::fs::write(&real, "{}").expect("write");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).expect("link");
        let data = read_config(&link).expect("read");
        assert_eq!(data.real_path, Some(std::fs::canonicalize(&real).expect("canon")));
    }

    #[test]
    fn a_large_file_is_streamed_and_read_whole_only_when_the_stream_gives_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.json");
        let body = format!("{{\"pad\": \"{}\"}}", "x".repeat(4096));
        std::fs::write(&path, &body).expect("write");
        let streamed = read_config_streamed(&path, 1024, |r| {
            let mut s = String::new();
            r.read_to_string(&mut s).ok().map(|_| s.len())
        });
        let (data, len) = streamed.expect("read");
        assert_eq!((data.text.as_str(), len, data.size), ("", Some(body.len()), body.len() as u64));
        // The stream gives up after reading part of it: the text is read whole, from the start.
        let (data, none) = read_config_streamed(&path, 1024, |r| {
            let mut first = [0u8; 100];
            r.read_exact(&mut first).ok();
            None::<()>
        })
        .expect("read");
        assert_eq!((data.text, none), (body.clone(), None));
        // Below the threshold it is never streamed.
        let (data, none) = read_config_streamed(&path, 1 << 20, |_| Some(())).expect("read");
        assert_eq!((data.text, none), (body, None));
    }
}
