//! The import graph between the modules of one crate, read from its source with `syn`, and the
//! cycles in it.
//!
//! A module's references are every path its own code names: `use` items, paths in types,
//! expressions and patterns, and `crate::`/`super::`/`self::` paths inside macro input and
//! `macro_rules!` bodies (found by scanning their tokens). Paths are resolved the way the compiler
//! resolves them (`crate::`, `super::`, `self::`, a child module's name, a name the module
//! imported) and then followed through re-exports (`pub use detection::Confidence` in
//! `secrets/mod.rs` makes `super::Confidence` a reference to `secrets::detection`). Code under
//! `#[cfg(test)]` is left out: test modules may reach anywhere without shaping the crate.
//!
//! The graph is drawn one level at a time: the children of one module are its nodes, each
//! standing for everything under it. The parent's own items (what its `lib.rs` or `mod.rs`
//! defines) are no node: a folder's `mod.rs` listing its children in a registry while each child
//! uses the folder's shared types is the intended shape (`discovery/clients/`), not a cycle.
//!
//! This is a reading of the text, not the compiler's name resolution: a glob import hides the
//! names it brings, and a path that names no module of the crate is ignored (external crates,
//! local items, variables).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;
use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// A module's path from the crate root (`["secrets", "detect"]`); empty for the root.
pub type ModPath = Vec<String>;

/// One module of the crate, with what its own code references (not its children's).
#[derive(Debug)]
struct Module {
    /// The file it is written in, relative to the crate directory.
    file: PathBuf,
    children: BTreeSet<String>,
    /// What each `use` item binds: name -> the path as written.
    imports: BTreeMap<String, Vec<String>>,
    /// Paths named by the module's `use` items.
    use_refs: Vec<Reference>,
    /// Paths named anywhere else in the module's own code.
    code_refs: Vec<Reference>,
}

/// A path as written, and where.
#[derive(Clone, Debug)]
struct Reference {
    segments: Vec<String>,
    line: usize,
    /// Named by a `use` item (in code, a lone name is a variable as often as a module).
    is_use: bool,
}

/// Where an edge of the graph was seen.
#[derive(Clone, Debug)]
pub struct Evidence {
    pub file: PathBuf,
    pub line: usize,
    pub path: String,
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} names `{}`", self.file.display(), self.line, self.path)
    }
}

/// The modules of one crate, read from `src/lib.rs` down.
#[derive(Debug)]
pub struct CrateModules {
    modules: BTreeMap<ModPath, Module>,
}

/// A cycle among the nodes of one level: a strongly connected set of two or more nodes, with
/// every edge between them and where it was seen.
#[derive(Debug)]
pub struct Cycle {
    /// The module whose children form the cycle (empty for the crate root).
    pub level: ModPath,
    /// The child modules it runs through, sorted.
    pub members: Vec<String>,
    pub edges: Vec<(String, String, Evidence)>,
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = if self.level.is_empty() { "the crate root".to_string() } else { self.level.join("::") };
        writeln!(f, "cycle among the modules of {level}: {{{}}}", self.members.join(", "))?;
        for (from, to, evidence) in &self.edges {
            writeln!(f, "    {from} -> {to}: {evidence}")?;
        }
        Ok(())
    }
}

impl CrateModules {
    /// Reads the library crate whose `Cargo.toml` is in `crate_dir`, starting at `src/lib.rs`.
    pub fn read(crate_dir: &Path) -> anyhow::Result<CrateModules> {
        let mut modules = BTreeMap::new();
        let root = Path::new("src/lib.rs");
        let file = parse(crate_dir, root)?;
        load(crate_dir, Vec::new(), root, &file.items, Path::new("src"), &mut modules)?;
        Ok(CrateModules { modules })
    }

    /// Every module that has children, outermost first: the levels a graph can be drawn at.
    pub fn levels(&self) -> Vec<ModPath> {
        self.modules.iter().filter(|(_, m)| !m.children.is_empty()).map(|(p, _)| p.clone()).collect()
    }

    /// The cycles among the children of `level`, each with its edges.
    pub fn cycles_at(&self, level: &[String]) -> Vec<Cycle> {
        cycles(level, &self.edges_at(level))
    }

    /// The edges among the children of `level`: (from, to) -> the first place it was seen.
    pub fn edges_at(&self, level: &[String]) -> BTreeMap<(String, String), Evidence> {
        let mut edges = BTreeMap::new();
        let Some(parent) = self.modules.get(level) else { return edges };
        for (path, module) in &self.modules {
            if path.len() <= level.len() || !path.starts_with(level) {
                continue;
            }
            let from = &path[level.len()];
            for reference in module.use_refs.iter().chain(&module.code_refs) {
                let Some(target) = self.resolve(path, reference) else { continue };
                let owner = self.owner(&target);
                if owner.len() <= level.len() || !owner.starts_with(level) {
                    continue;
                }
                let to = &owner[level.len()];
                if to != from && parent.children.contains(to) {
                    edges.entry((from.clone(), to.clone())).or_insert_with(|| Evidence {
                        file: module.file.clone(),
                        line: reference.line,
                        path: reference.segments.join("::"),
                    });
                }
            }
        }
        edges
    }

    /// The absolute path (from the crate root) that `segments`, written in module `at`, names;
    /// `None` when it names nothing in this crate as far as a text reading can tell.
    fn resolve(&self, at: &[String], reference: &Reference) -> Option<Vec<String>> {
        self.resolve_bounded(at, &reference.segments, reference.is_use, 16)
    }

    fn resolve_bounded(
        &self,
        at: &[String],
        segments: &[String],
        reference_is_use: bool,
        budget: usize,
    ) -> Option<Vec<String>> {
        let budget = budget.checked_sub(1)?;
        let (first, rest) = segments.split_first()?;
        let module = self.modules.get(at)?;
        match first.as_str() {
            "crate" => Some(rest.to_vec()),
            "self" => Some([at, rest].concat()),
            "super" => {
                let mut base = at.to_vec();
                let mut rest = segments;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
                Some([base.as_slice(), rest].concat())
            }
            // A lone name in code is more likely a variable than a module: only `use` and
            // longer paths count as naming a child module.
            name if module.children.contains(name) && (!rest.is_empty() || reference_is_use) => {
                Some([at, segments].concat())
            }
            name => {
                let imported = module.imports.get(name)?;
                // An import names itself (`use serde;` of an external crate): nothing here.
                if imported.as_slice() == [name.to_string()] {
                    return None;
                }
                let target = self.resolve_bounded(at, imported, true, budget)?;
                Some([target.as_slice(), rest].concat())
            }
        }
    }

    /// The module that owns the item at the absolute path `target`, following re-exports: the
    /// longest prefix that is a module, or, where a module re-exports the next name, the owner
    /// of what it re-exports.
    fn owner(&self, target: &[String]) -> Vec<String> {
        let mut target = target.to_vec();
        let mut hops = 0;
        'restart: loop {
            let mut at: Vec<String> = Vec::new();
            for (i, name) in target.iter().enumerate() {
                let Some(module) = self.modules.get(&at) else { return at };
                if module.children.contains(name) {
                    at.push(name.clone());
                    continue;
                }
                hops += 1;
                if hops < 16
                    && let Some(imported) = module.imports.get(name)
                    && let Some(resolved) = self.resolve_bounded(&at, imported, true, 16)
                {
                    target = [resolved.as_slice(), &target[i + 1..]].concat();
                    continue 'restart;
                }
                return at;
            }
            return at;
        }
    }
}

/// The cycles of the graph `edges` drawn at `level`: its strongly connected sets of two or more
/// nodes.
pub fn cycles(level: &[String], edges: &BTreeMap<(String, String), Evidence>) -> Vec<Cycle> {
    let graph: DiGraphMap<&str, ()> =
        DiGraphMap::from_edges(edges.keys().map(|(from, to)| (from.as_str(), to.as_str())));
    tarjan_scc(&graph)
        .into_iter()
        .filter(|component| component.len() > 1)
        .map(|component| {
            let set: BTreeSet<String> = component.into_iter().map(str::to_string).collect();
            Cycle {
                level: level.to_vec(),
                edges: edges
                    .iter()
                    .filter(|((from, to), _)| set.contains(from) && set.contains(to))
                    .map(|((from, to), evidence)| (from.clone(), to.clone(), evidence.clone()))
                    .collect(),
                members: set.into_iter().collect(),
            }
        })
        .collect()
}

/// Parses one file of the crate.
fn parse(crate_dir: &Path, file: &Path) -> anyhow::Result<syn::File> {
    let text = std::fs::read_to_string(crate_dir.join(file)).with_context(|| format!("reading {}", file.display()))?;
    syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))
}

/// Records module `path` (written in `file`, whose out-of-line children live in `child_dir`)
/// and, recursively, its children.
fn load(
    crate_dir: &Path,
    path: ModPath,
    file: &Path,
    items: &[syn::Item],
    child_dir: &Path,
    modules: &mut BTreeMap<ModPath, Module>,
) -> anyhow::Result<()> {
    let mut module = Module {
        file: file.to_path_buf(),
        children: BTreeSet::new(),
        imports: BTreeMap::new(),
        use_refs: Vec::new(),
        code_refs: Vec::new(),
    };
    let mut collector = PathCollector { refs: Vec::new() };
    for item in items {
        if is_test_only(item_attrs(item)) {
            continue;
        }
        match item {
            syn::Item::Mod(m) => {
                let name = m.ident.to_string();
                if m.attrs.iter().any(|a| a.path().is_ident("path")) {
                    bail!("{}: `mod {name}` has a #[path] attribute, which this check does not follow", file.display());
                }
                let child_path = [path.as_slice(), std::slice::from_ref(&name)].concat();
                let grandchild_dir = child_dir.join(&name);
                match &m.content {
                    Some((_, inline)) => load(crate_dir, child_path, file, inline, &grandchild_dir, modules)?,
                    None => {
                        let flat = child_dir.join(format!("{name}.rs"));
                        let nested = grandchild_dir.join("mod.rs");
                        let child_file = if crate_dir.join(&flat).is_file() { flat } else { nested };
                        let parsed = parse(crate_dir, &child_file)?;
                        load(crate_dir, child_path, &child_file, &parsed.items, &grandchild_dir, modules)?;
                    }
                }
                module.children.insert(name);
            }
            syn::Item::Use(u) => {
                for (segments, bound) in flatten_use(&u.tree) {
                    if let Some(name) = bound {
                        module.imports.insert(name, segments.clone());
                    }
                    module.use_refs.push(Reference { segments, line: u.use_token.span.start().line, is_use: true });
                }
            }
            other => collector.visit_item(other),
        }
    }
    module.code_refs = collector.refs;
    modules.insert(path, module);
    Ok(())
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// `#[cfg(test)]`.
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && matches!(&a.meta, syn::Meta::List(list) if list.tokens.to_string() == "test")
    })
}

/// Every path a `use` tree names, with the name it binds (`None` for globs and `as _`).
fn flatten_use(tree: &syn::UseTree) -> Vec<(Vec<String>, Option<String>)> {
    fn walk(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                walk(&p.tree, prefix, out);
                prefix.pop();
            }
            syn::UseTree::Name(n) if n.ident == "self" => {
                out.push((prefix.clone(), prefix.last().cloned()));
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                out.push(([prefix.as_slice(), std::slice::from_ref(&name)].concat(), Some(name)));
            }
            syn::UseTree::Rename(r) => {
                let path = if r.ident == "self" {
                    prefix.clone()
                } else {
                    [prefix.as_slice(), &[r.ident.to_string()]].concat()
                };
                let bound = (r.rename != "_").then(|| r.rename.to_string());
                out.push((path, bound));
            }
            syn::UseTree::Glob(_) => out.push((prefix.clone(), None)),
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    walk(item, prefix, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(tree, &mut Vec::new(), &mut out);
    out
}

/// Collects the paths named in items, skipping `#[cfg(test)]` items and nested modules.
struct PathCollector {
    refs: Vec<Reference>,
}

impl PathCollector {
    fn push(&mut self, segments: Vec<String>, line: usize, is_use: bool) {
        if !segments.is_empty() {
            self.refs.push(Reference { segments, line, is_use });
        }
    }

    /// Paths inside a macro's tokens: `a::b::c` runs (two or more segments, so a lone variable
    /// is never taken for an import), `$crate` read as `crate`.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => {
                    self.scan_tokens(g.stream());
                    i += 1;
                }
                TokenTree::Ident(first) => {
                    let line = first.span().start().line;
                    let mut segments = vec![first.to_string()];
                    let mut j = i + 1;
                    while let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)), Some(TokenTree::Ident(next))) =
                        (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        segments.push(next.to_string());
                        j += 3;
                    }
                    if segments.len() > 1 {
                        self.push(segments, line, false);
                    }
                    i = j;
                }
                TokenTree::Punct(_) | TokenTree::Literal(_) => i += 1,
            }
        }
    }
}

impl<'ast> Visit<'ast> for PathCollector {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if is_test_only(item_attrs(item)) {
            return;
        }
        match item {
            // A module declared inside a function body is rare; its paths stay with the module.
            syn::Item::Mod(_) => {}
            syn::Item::Use(u) => {
                let line = u.use_token.span.start().line;
                for (segments, _) in flatten_use(&u.tree) {
                    self.push(segments, line, true);
                }
            }
            other => syn::visit::visit_item(self, other),
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test_only(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            let line = path.segments.first().map(|s| s.ident.span().start().line).unwrap_or(0);
            self.push(segments, line, false);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        syn::visit::visit_macro(self, mac);
        self.scan_tokens(mac.tokens.clone());
    }
}
