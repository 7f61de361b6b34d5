//! The module graph of `src/` has no cycles and follows the layers written in
//! docs/ARCHITECTURE.md ("Layers"), in the spirit of rust-analyzer's tidy tests.
//!
//! Every file of `src/` is a module. Its dependencies are the paths it names (in `use`
//! items, types and expressions) that lead to another module of the crate: `crate::...`,
//! `super::...`, `self::...` and a child module's name. A path to an item that a module
//! only re-exports (`pub use child::Item`) is followed to the module that defines it, so a
//! `mod.rs` that gathers its children's names does not make every child depend on all the
//! others. Code under `#[cfg(test)]` and test-only files are not part of the graph.
//!
//! Two rules:
//! 1. no cycle between modules (files);
//! 2. a top-level module uses only top-level modules of a lower layer (`LAYERS`).
//!
//! Run alone: `cargo test --test layering`. A violation names the `use` that breaks it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The layers, lowest first. A module may use modules of lower layers only; the modules
/// in one layer do not use each other. Keep in step with docs/ARCHITECTURE.md.
const LAYERS: &[&[&str]] = &[
    &["metrics", "codec", "secret", "clock"],
    &["heap"],
    &["model"],
    &["state"],
    &["store"],
    &["raft"],
    &["service"],
    &["ops", "cluster"],
    &["dyndns"],
    &["dns"],
    &["http"],
    &["config"],
    &["node"],
    &["cli"],
];

type ModPath = Vec<String>;

struct Module {
    file: PathBuf,
    /// `use` re-exports: name -> the path it stands for (absolute, from the crate root).
    reexports: BTreeMap<String, ModPath>,
    /// Every path this module names, made absolute, with the line it is on.
    paths: Vec<(ModPath, usize)>,
}

fn is_test_file(p: &Path) -> bool {
    let s = p.to_string_lossy();
    s.contains("/tests/")
        || s.ends_with("tests.rs")
        || s.ends_with("testutil.rs")
        || s.ends_with("fuzzing.rs")
        || s.ends_with("/bench.rs")
        || s.ends_with("update_model.rs")
}

fn module_path(src: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && a.meta.require_list().is_ok_and(|l| l.tokens.to_string().contains("test")))
}

/// Collects paths (as segment lists relative to the module) and `use` trees.
struct Collector<'a> {
    here: &'a ModPath,
    children: &'a BTreeSet<String>,
    paths: Vec<(ModPath, usize)>,
    reexports: BTreeMap<String, ModPath>,
}

impl Collector<'_> {
    /// Absolute path of `segs` as written in this module, if it leads into the crate.
    fn absolute(&self, segs: &[String]) -> Option<ModPath> {
        let first = segs.first()?;
        let mut base: ModPath = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.here.clone(),
            "super" => self.here.clone(),
            c if self.children.contains(c) => self.here.clone(),
            _ => return None,
        };
        let mut rest = segs;
        if first == "crate" || first == "self" {
            rest = &segs[1..];
        }
        while rest.first().is_some_and(|s| s == "super") {
            base.pop();
            rest = &rest[1..];
        }
        while rest.first().is_some_and(|s| s == "self") {
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, line: usize, export: bool) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree, line, export);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.use_leaf(prefix, &n.ident.to_string(), None, line, export),
            syn::UseTree::Rename(r) => {
                self.use_leaf(prefix, &r.ident.to_string(), Some(r.rename.to_string()), line, export)
            }
            syn::UseTree::Glob(_) => {
                if let Some(abs) = self.absolute(prefix) {
                    self.paths.push((abs, line));
                }
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t, line, export);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], name: &str, rename: Option<String>, line: usize, export: bool) {
        let mut segs = prefix.to_vec();
        if name != "self" {
            segs.push(name.to_string());
        }
        let Some(abs) = self.absolute(&segs) else { return };
        let local = rename.unwrap_or_else(|| segs.last().cloned().unwrap_or_default());
        if export {
            self.reexports.insert(local, abs);
        } else {
            self.paths.push((abs, line));
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Trait(t) => &t.attrs,
            syn::Item::Type(t) => &t.attrs,
            syn::Item::Macro(m) => &m.attrs,
            _ => &[],
        };
        if is_cfg_test(attrs) {
            return;
        }
        if let syn::Item::Use(u) = item {
            let line = u.use_token.span.start().line;
            // A `pub use` re-exports; it is followed where it is used, not counted here.
            let export = !matches!(u.vis, syn::Visibility::Inherited);
            self.use_tree(&mut Vec::new(), &u.tree, line, export);
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_cfg_test(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if segs.len() > 1 {
            if let Some(abs) = self.absolute(&segs) {
                let line = p.segments[0].ident.span().start().line;
                self.paths.push((abs, line));
            }
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        // Paths inside macro calls (format args, `matches!`) are token streams: read the
        // `a::b::c` runs out of them.
        let tokens: Vec<proc_macro2::TokenTree> = m.tokens.clone().into_iter().collect();
        let mut run: Vec<String> = Vec::new();
        let mut line = 0;
        let flush = |run: &mut Vec<String>, line: usize, this: &mut Self| {
            if run.len() > 1 {
                if let Some(abs) = this.absolute(run) {
                    this.paths.push((abs, line));
                }
            }
            run.clear();
        };
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                proc_macro2::TokenTree::Ident(id) => {
                    if run.is_empty() {
                        line = id.span().start().line;
                    }
                    run.push(id.to_string());
                }
                proc_macro2::TokenTree::Punct(p) if p.as_char() == ':' => {
                    i += 1; // the second ':'
                }
                proc_macro2::TokenTree::Group(g) => {
                    flush(&mut run, line, self);
                    let inner = syn::Macro { tokens: g.stream(), ..m.clone() };
                    self.visit_macro(&inner);
                }
                _ => flush(&mut run, line, self),
            }
            i += 1;
        }
        flush(&mut run, line, self);
        syn::visit::visit_macro(self, m);
    }
}

fn load(src: &Path) -> BTreeMap<ModPath, Module> {
    let mut files = Vec::new();
    rs_files(src, &mut files);
    let paths: BTreeSet<ModPath> = files.iter().map(|f| module_path(src, f)).collect();
    let mut modules = BTreeMap::new();
    for file in files {
        let here = module_path(src, &file);
        let children: BTreeSet<String> = paths
            .iter()
            .filter(|p| p.len() == here.len() + 1 && p.starts_with(&here))
            .map(|p| p.last().cloned().unwrap_or_default())
            .collect();
        if is_test_file(&file) {
            modules.insert(here, Module { file, reexports: BTreeMap::new(), paths: Vec::new() });
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut c = Collector { here: &here, children: &children, paths: Vec::new(), reexports: BTreeMap::new() };
        c.visit_file(&ast);
        let (paths, reexports) = (c.paths, c.reexports);
        modules.insert(here.clone(), Module { file, reexports, paths });
    }
    modules
}

/// The module that defines what `path` names: its longest module prefix, following
/// re-exports.
fn resolve(modules: &BTreeMap<ModPath, Module>, path: &ModPath) -> Option<ModPath> {
    let mut path = path.clone();
    for _ in 0..16 {
        let n = (0..=path.len()).rev().find(|&n| modules.contains_key(&path[..n]))?;
        let module = &modules[&path[..n]];
        match path.get(n).and_then(|item| module.reexports.get(item)) {
            Some(target) => {
                let mut next = target.clone();
                next.extend(path[n + 1..].iter().cloned());
                path = next;
            }
            None => return Some(path[..n].to_vec()),
        }
    }
    None
}

type Graph = BTreeMap<ModPath, BTreeMap<ModPath, (PathBuf, usize)>>;

fn graph(src: &Path) -> Graph {
    let modules = load(src);
    let mut g: Graph = BTreeMap::new();
    for (here, m) in &modules {
        let entry = g.entry(here.clone()).or_default();
        for (path, line) in &m.paths {
            let Some(target) = resolve(&modules, path) else { continue };
            // Test-only modules and the crate root are not part of the layering.
            if target == *here || target.is_empty() || is_test_file(&modules[&target].file) {
                continue;
            }
            entry.entry(target).or_insert_with(|| (m.file.clone(), *line));
        }
    }
    g
}

fn name(p: &ModPath) -> String {
    if p.is_empty() {
        "crate".into()
    } else {
        p.join("::")
    }
}

/// A cycle through `start`, if any (depth-first search for a path back to it).
fn cycle_from(g: &Graph, start: &ModPath) -> Option<Vec<ModPath>> {
    let mut stack = vec![(start.clone(), vec![start.clone()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in g.get(&node).map(|e| e.keys()).into_iter().flatten() {
            if next == start {
                return Some(path.clone());
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

fn cycles(g: &Graph) -> Vec<String> {
    let mut reported = BTreeSet::new();
    let mut out = Vec::new();
    for start in g.keys() {
        if reported.contains(start) {
            continue;
        }
        if let Some(cycle) = cycle_from(g, start) {
            let mut text = Vec::new();
            for (i, m) in cycle.iter().enumerate() {
                let next = &cycle[(i + 1) % cycle.len()];
                let (file, line) = &g[m][next];
                text.push(format!("  {} -> {} ({}:{line})", name(m), name(next), file.display()));
            }
            reported.extend(cycle);
            out.push(text.join("\n"));
        }
    }
    out
}

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&top))
}

fn layer_violations(g: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for (from, edges) in g {
        let Some(from_top) = from.first() else { continue };
        for (to, (file, line)) in edges {
            let Some(to_top) = to.first() else { continue };
            if from_top == to_top {
                continue;
            }
            match (layer_of(from_top), layer_of(to_top)) {
                (Some(a), Some(b)) if b < a => {}
                (Some(_), Some(_)) => out.push(format!(
                    "  {} uses {} ({}:{line}): `{to_top}` is not in a lower layer than `{from_top}`",
                    name(from),
                    name(to),
                    file.display()
                )),
                _ => out.push(format!(
                    "  {} uses {} ({}:{line}): a top-level module missing from LAYERS",
                    name(from),
                    name(to),
                    file.display()
                )),
            }
        }
    }
    out
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn the_module_graph_has_no_cycles() {
    let found = cycles(&graph(&src_dir()));
    assert!(found.is_empty(), "import cycles between modules:\n{}", found.join("\n\n"));
}

#[test]
fn every_module_uses_only_lower_layers() {
    let found = layer_violations(&graph(&src_dir()));
    assert!(found.is_empty(), "layering violations (docs/ARCHITECTURE.md, Layers):\n{}", found.join("\n"));
}

#[test]
fn every_top_level_module_has_a_layer() {
    let missing: Vec<String> = graph(&src_dir())
        .keys()
        .filter_map(|m| m.first())
        .filter(|top| layer_of(top).is_none())
        .map(String::clone)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(missing.is_empty(), "top-level modules without a layer in LAYERS: {missing:?}");
}

/// The checker itself: a made-up tree with a cycle and an upward use is caught.
#[test]
fn the_checker_sees_a_cycle_and_an_upward_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("model")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "pub mod model; pub mod state;").expect("write");
    std::fs::write(src.join("model/mod.rs"), "mod a; mod b; pub use a::A;").expect("write");
    std::fs::write(src.join("model/a.rs"), "use super::b::B; pub struct A(B);").expect("write");
    std::fs::write(src.join("model/b.rs"), "pub struct B; fn f() -> crate::model::A { todo!() }").expect("write");
    std::fs::write(src.join("state.rs"), "pub struct S;").expect("write");
    let g = graph(src);
    let found = cycles(&g);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("model::a -> model::b") && found[0].contains("model::b -> model::a"), "{found:?}");
    assert!(layer_violations(&g).is_empty());
    std::fs::write(src.join("model/b.rs"), "pub struct B; pub fn f() -> crate::state::S { todo!() }").expect("write");
    let g = graph(src);
    assert!(cycles(&g).is_empty());
    let up = layer_violations(&g);
    assert_eq!(up.len(), 1, "{up:?}");
    assert!(up[0].contains("model::b uses state"), "{up:?}");
}
