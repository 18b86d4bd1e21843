//! The tray process must not map WebKit (ADR 0027, issue 13: the idle tray stays small). Reads
//! the built `muster-tray` itself: the shared libraries its ELF dynamic section asks for
//! (`DT_NEEDED`, read with the `object` crate), then every library the loader would map for it
//! (`ldd`, which resolves the whole closure). Neither may name WebKitGTK, JavaScriptCore or
//! libsoup (WebKit's network stack). The dependency graph is checked too, by
//! `tests/tests/architecture` (no tauri, wry or webkit2gtk crate under `muster-tray`).
#![cfg(target_os = "linux")]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;

/// Libraries only a webview brings.
const WEBVIEW_LIBRARIES: &[&str] = &["webkit2gtk", "webkitgtk", "javascriptcoregtk", "libsoup"];

fn webview_libraries<'a>(libraries: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    libraries.into_iter().filter(|l| WEBVIEW_LIBRARIES.iter().any(|w| l.contains(w))).collect()
}

/// The `DT_NEEDED` entries of the ELF file at `path`.
fn needed(path: &Path) -> Vec<String> {
    let data = std::fs::read(path).expect("the tray binary");
    let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(&*data).expect("an ELF file");
    let table = elf.elf_dynamic_table().expect("its dynamic section");
    table
        .iter()
        .filter(|d| d.tag == object::elf::DT_NEEDED)
        .map(|d| String::from_utf8_lossy(table.string(d).expect("a library name")).into_owned())
        .collect()
}

#[test]
fn the_tray_binary_asks_for_no_webview_library() {
    let tray = Path::new(env!("CARGO_BIN_EXE_muster-tray"));
    let needed = needed(tray);
    // The section was read: the tray needs GTK for its icon and menu.
    assert!(needed.iter().any(|l| l.starts_with("libgtk-3")), "{needed:?}");
    let webview = webview_libraries(needed.iter().map(String::as_str));
    assert!(webview.is_empty(), "muster-tray links {webview:?} (DT_NEEDED: {needed:?})");
}

#[test]
fn the_loader_maps_no_webview_library_for_the_tray() {
    let tray = Path::new(env!("CARGO_BIN_EXE_muster-tray"));
    let out = std::process::Command::new("ldd").arg(tray).output().expect("ldd runs (Debian's libc-bin)");
    assert!(out.status.success(), "ldd: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let libraries: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(libraries.iter().any(|l| l.starts_with("libglib-2")), "{libraries:?}");
    let webview = webview_libraries(libraries.iter().copied());
    assert!(webview.is_empty(), "the loader maps {webview:?} for muster-tray:\n{text}");
}

#[test]
fn the_check_names_what_a_webview_brings() {
    let window = ["libgtk-3.so.0", "libwebkit2gtk-4.1.so.0", "libjavascriptcoregtk-4.1.so.0", "libsoup-3.0.so.0"];
    assert_eq!(webview_libraries(window), &window[1..]);
}
