//! Whether a project configuration file could be committed: inside a git work tree and not
//! ignored by the repository's `.gitignore` files or `.git/info/exclude`. Matching uses the
//! `ignore` crate (ripgrep's implementation of git's rules). The user's global excludes file is
//! not consulted: it differs per developer, so a file it hides is still committable by others.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Caches one matcher per (repository, directory) so a scan parses each `.gitignore` once.
#[derive(Default)]
pub struct GitIgnoreCache {
    matchers: RefCell<HashMap<PathBuf, Option<Gitignore>>>,
}

/// The work tree root holding `path` (a directory with a `.git` dir or file), if any.
pub fn work_tree_of(path: &Path) -> Option<PathBuf> {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.join(".git").exists() {
            return Some(d.to_path_buf());
        }
        dir = d.parent();
    }
    None
}

impl GitIgnoreCache {
    /// `Some(true)` when `path` sits in a git work tree and is not ignored; `Some(false)` when
    /// ignored; `None` outside any work tree.
    pub fn committable(&self, path: &Path) -> Option<bool> {
        let root = work_tree_of(path)?;
        let parent = path.parent()?.to_path_buf();
        let mut cache = self.matchers.borrow_mut();
        let matcher = cache.entry(parent.clone()).or_insert_with(|| build(&root, &parent));
        let ignored = matcher.as_ref().is_some_and(|m| m.matched_path_or_any_parents(path, false).is_ignore());
        Some(!ignored)
    }
}

fn build(root: &Path, dir: &Path) -> Option<Gitignore> {
    let mut b = GitignoreBuilder::new(root);
    // Unreadable or malformed ignore files are skipped: the file then counts as committable,
    // the cautious answer.
    let _ = b.add(root.join(".git/info/exclude"));
    let mut chain: Vec<PathBuf> = dir.ancestors().take_while(|a| a.starts_with(root)).map(Path::to_path_buf).collect();
    chain.reverse();
    for d in chain {
        let f = d.join(".gitignore");
        if f.is_file() {
            let _ = b.add(f);
        }
    }
    b.build().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_and_committable_files() {
        let repo = tempfile::tempdir().expect("tempdir");
        let r = repo.path();
        std::fs::create_dir_all(r.join(".git/info")).expect("mkdir");
        std::fs::create_dir_all(r.join(".vscode")).expect("mkdir");
        std::fs::create_dir_all(r.join("sub/.cursor")).expect("mkdir");
        std::fs::write(r.join(".gitignore"), ".env\n.cursor/\n").expect("write");
        std::fs::write(r.join(".git/info/exclude"), ".vscode/mcp.json\n").expect("write");
        let cache = GitIgnoreCache::default();
        assert_eq!(cache.committable(&r.join(".mcp.json")), Some(true));
        assert_eq!(cache.committable(&r.join(".vscode/mcp.json")), Some(false));
        assert_eq!(cache.committable(&r.join("sub/.cursor/mcp.json")), Some(false));
        let outside = tempfile::tempdir().expect("tempdir");
        assert_eq!(cache.committable(&outside.path().join(".mcp.json")), None);
    }
}
