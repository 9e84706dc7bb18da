//! The dependency graph of an image family: which family images each image is built from, the
//! order to build them in, what `plinth build NAME...` has to build, cycles, and the tree that
//! `plinth graph` prints (text or Graphviz DOT).
//!
//! Pure: the caller reads `images/<name>/Dockerfile` and passes each file's text as an
//! [`ImageSource`]; nothing here touches the filesystem or the environment.
//!
//! # Edges
//!
//! An image's Dockerfile is parsed with `plinth_dockerfile` ([`parse`](plinth_dockerfile::parse),
//! [`stages`](plinth_dockerfile::stages)) and read the way the build engine reads it:
//!
//! - Only the stages the last stage needs count (its `FROM` stage, `COPY --from` and
//!   `RUN --mount=from=` stages, transitively), as the engine builds only those.
//! - A `FROM` name is expanded with the meta `ARG`s (those before the first `FROM`): a build arg
//!   of the image ([`ImageSource::build_args`], the last one wins) overrides the default, a
//!   default is expanded with the `ARG`s before it, and BuildKit's predefined platform args
//!   (`TARGETARCH`, ...) describe the host, exactly like the engine. A `FROM` that names an
//!   earlier stage (case-insensitively) is that stage, not an image.
//! - `COPY --from=X` and `RUN --mount=...,from=X` are not expanded (BuildKit does not expand
//!   them); `X` is a stage when it names any stage of the file or is a stage index.
//! - Every other name is an image reference. It names a family image when it is the image's
//!   name, optionally with a tag (`base-root`, `base-root:1.2.3`), optionally behind the
//!   [`FamilyNaming::prefix`] (`registry.example.com/base/base-root:latest`). That reference is
//!   an edge parent → child. Everything else — `debian:bookworm`, a named context such as
//!   `debian-bookworm`, `scratch`, a digest reference (`base-root@sha256:...`, which pins one
//!   image rather than what the family builds) — is an *external* base, recorded per image in
//!   first-use order for pinning ([`Graph::external`]). `scratch` is always external, even if a
//!   family image had that (reserved) name.
//!
//! # Errors
//!
//! A Dockerfile that does not parse, or whose `FROM` or meta `ARG` does not expand, is a
//! [`GraphError::Dockerfile`] with `path:line:col`. Two images with one name, an image that
//! names itself, and a cycle (`base-a -> base-b -> base-a`, each image the parent of the next)
//! are errors too. A name that is not a family image is never an error: it is external.
//!
//! # Queries
//!
//! [`Graph::order`] is a topological order (parents first; among images that are ready at the
//! same time, the smallest name first). [`Graph::levels`] groups images by the length of their
//! longest parent chain: an image only depends on images of earlier levels, so one level can be
//! built in parallel (`-j N`). [`Graph::select`] is what `plinth build NAME...` builds: the named
//! images, with [`WithDependents::Yes`] their descendants, and the ancestors of all of those
//! ([`Reason::Ancestor`]: the caller may take them from the cache), in build order.
//!
//! # Rendering
//!
//! [`Graph::render_text`] draws the family like `tree`: each root, its children indented with
//! `├──`/`└──` (by name); an image with several family parents is drawn in full under the first
//! one reached and as `name (also under X)` under the others. Then, under `external bases:`,
//! each image that uses external images (in build order) with those images.
//! [`Graph::render_dot`] writes a Graphviz `digraph family` with the family edges and, dashed,
//! the external bases and their edges.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use plinth_dockerfile::{ArgCommand, Command, EmptyEnv, Lexer, RunMount, Stage};

/// One image of the family, as the caller read it.
#[derive(Debug, Clone, Copy)]
pub struct ImageSource<'a> {
    /// The image name (`images/<name>/`), e.g. `base-root`.
    pub name: &'a str,
    /// Where the Dockerfile is, for error messages, e.g. `images/base-root/Dockerfile`.
    pub dockerfile_path: &'a str,
    /// The Dockerfile's text.
    pub dockerfile: &'a str,
    /// `--build-arg`s of this image's build (`KEY`, `VALUE`); the last one of a key wins.
    pub build_args: &'a [(String, String)],
}

/// How references in Dockerfiles name family images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilyNaming {
    /// A registry/namespace the family is published under, e.g. `registry.example.com/base`:
    /// `registry.example.com/base/base-root:latest` then names the family image `base-root`
    /// (as `base-root` and `base-root:TAG` always do). A trailing `/` is ignored.
    pub prefix: Option<String>,
}

/// Whether [`Graph::select`] adds the descendants of the named images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithDependents {
    /// Only the named images (and their ancestors).
    No,
    /// The named images and everything built from them (`--with-dependents`).
    Yes,
}

/// Options of [`Graph::select`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// Whether descendants are rebuilt too.
    pub dependents: WithDependents,
}

/// Why [`Graph::select`] selected an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// It was named.
    Named,
    /// It descends from a named image (with [`WithDependents::Yes`]).
    Dependent,
    /// A selected image is built from it: the caller may take it from the cache.
    Ancestor,
}

/// One image of a [`Selected`] set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedImage {
    /// The image name.
    pub name: String,
    /// Why it is selected.
    pub reason: Reason,
    /// Its level ([`Graph::levels`]): it depends only on selected images of lower levels.
    pub level: usize,
}

/// The images [`Graph::select`] picked, in build order (parents first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The images, in [`Graph::order`] order.
    pub images: Vec<SelectedImage>,
}

impl Selected {
    /// The names, in build order.
    pub fn names(&self) -> Vec<&str> {
        self.images.iter().map(|i| i.name.as_str()).collect()
    }

    /// The names grouped by level: each group only depends on earlier groups.
    pub fn levels(&self) -> Vec<Vec<&str>> {
        let mut levels: Vec<Vec<&str>> = Vec::new();
        for image in &self.images {
            if levels.len() <= image.level {
                levels.resize_with(image.level + 1, Vec::new);
            }
            levels[image.level].push(&image.name);
        }
        levels.retain(|l| !l.is_empty());
        for level in &mut levels {
            level.sort_unstable();
        }
        levels
    }
}

/// What is wrong with a family.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A Dockerfile does not parse, or a `FROM` or meta `ARG` of it does not expand.
    #[error("{path}:{line}:{col}: {message}")]
    Dockerfile {
        /// The Dockerfile's path as given.
        path: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        col: u32,
        /// What is wrong.
        message: String,
    },
    /// Two images have the same name.
    #[error("two images are named {name:?}: {first} and {second}")]
    Duplicate {
        /// The name.
        name: String,
        /// The first Dockerfile's path.
        first: String,
        /// The second Dockerfile's path.
        second: String,
    },
    /// An image is built from (or copies from) itself.
    #[error(
        "{path}:{line}: {image} refers to itself ({reference:?}); an image of the family cannot be built from itself"
    )]
    SelfReference {
        /// The image.
        image: String,
        /// Its Dockerfile's path.
        path: String,
        /// The line of the instruction.
        line: u32,
        /// The reference as written (expanded), e.g. `base-root:latest`.
        reference: String,
    },
    /// The images form a cycle; each one is a parent of the next and the last is the first.
    #[error("the image family has a cycle: {}", .cycle.join(" -> "))]
    Cycle {
        /// The cycle, e.g. `["base-a", "base-b", "base-a"]`.
        cycle: Vec<String>,
    },
    /// A name given to [`Graph::select`] is not a family image.
    #[error(
        "no image named {name:?} in the family{}; the family has: {}",
        did_you_mean(.suggestions),
        if .known.is_empty() { "no images".to_string() } else { .known.join(", ") }
    )]
    UnknownImage {
        /// The name given.
        name: String,
        /// Close matches, best first.
        suggestions: Vec<String>,
        /// Every image of the family, by name.
        known: Vec<String>,
    },
}

fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", suggestions.join(", "))
    }
}

/// The family's dependency graph. Build it with [`Graph::build`].
#[derive(Debug, Clone)]
pub struct Graph {
    /// Sorted by name, so comparing indices compares names.
    nodes: Vec<Node>,
    index: BTreeMap<String, usize>,
    /// Topological order, parents first, ties by name.
    order: Vec<usize>,
    /// Longest parent chain of each node.
    level: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    path: String,
    /// Family parents, sorted (by name), no duplicates.
    parents: Vec<usize>,
    /// Family children, sorted (by name), no duplicates.
    children: Vec<usize>,
    /// External images, in first-use order, no duplicates.
    external: Vec<String>,
    /// The references (as written, expanded) that name family images, with the image each
    /// names, in first-use order, no duplicates.
    parent_refs: Vec<(String, usize)>,
}

/// An image reference found in a needed stage: the name and where it is.
struct Reference {
    name: String,
    line: u32,
}

impl Graph {
    /// Reads the family's Dockerfiles and builds the graph.
    pub fn build(images: &[ImageSource<'_>], naming: &FamilyNaming) -> Result<Graph, GraphError> {
        let mut sorted: Vec<&ImageSource<'_>> = images.iter().collect();
        // Stable: of two images with one name, the first given comes first.
        sorted.sort_by(|a, b| a.name.cmp(b.name));
        for pair in sorted.windows(2) {
            if let [a, b] = pair
                && a.name == b.name
            {
                return Err(GraphError::Duplicate {
                    name: a.name.to_string(),
                    first: a.dockerfile_path.to_string(),
                    second: b.dockerfile_path.to_string(),
                });
            }
        }
        let index: BTreeMap<String, usize> = sorted
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.to_string(), i))
            .collect();
        let prefix = naming
            .prefix
            .as_deref()
            .map(|p| p.trim_end_matches('/'))
            .filter(|p| !p.is_empty());

        let mut nodes: Vec<Node> = Vec::with_capacity(sorted.len());
        for (i, source) in sorted.iter().enumerate() {
            let mut parents = BTreeSet::new();
            let mut external: Vec<String> = Vec::new();
            let mut parent_refs: Vec<(String, usize)> = Vec::new();
            for reference in references(source, Stages::Needed)? {
                if reference.name.eq_ignore_ascii_case("scratch") {
                    push_unique(&mut external, reference.name);
                    continue;
                }
                match family_image(&reference.name, prefix, &index) {
                    Some(p) if p == i => {
                        return Err(GraphError::SelfReference {
                            image: source.name.to_string(),
                            path: source.dockerfile_path.to_string(),
                            line: reference.line,
                            reference: reference.name,
                        });
                    }
                    Some(p) => {
                        parents.insert(p);
                        if !parent_refs.iter().any(|(r, _)| *r == reference.name) {
                            parent_refs.push((reference.name, p));
                        }
                    }
                    None => push_unique(&mut external, reference.name),
                }
            }
            nodes.push(Node {
                name: source.name.to_string(),
                path: source.dockerfile_path.to_string(),
                parents: parents.into_iter().collect(),
                children: Vec::new(),
                external,
                parent_refs,
            });
        }
        for child in 0..nodes.len() {
            for p in nodes[child].parents.clone() {
                nodes[p].children.push(child);
            }
        }
        // Children were pushed in increasing child index, so they are sorted already.

        let order = topological_order(&nodes)?;
        let mut level = vec![0; nodes.len()];
        for &i in &order {
            level[i] = nodes[i]
                .parents
                .iter()
                .map(|&p| level[p] + 1)
                .max()
                .unwrap_or(0);
        }
        Ok(Graph {
            nodes,
            index,
            order,
            level,
        })
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the family has no image.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every image name, sorted.
    pub fn images(&self) -> Vec<&str> {
        self.nodes.iter().map(|n| n.name.as_str()).collect()
    }

    /// Whether `name` is a family image.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The Dockerfile path given for `name`.
    pub fn dockerfile_path(&self, name: &str) -> Option<&str> {
        self.node(name).map(|n| n.path.as_str())
    }

    /// The build order: every image after its parents; among images ready at the same time,
    /// the smallest name first.
    pub fn order(&self) -> Vec<&str> {
        self.names(&self.order)
    }

    /// The images grouped by level (longest chain of family parents): each level depends only
    /// on earlier levels, so the images of one level can be built in parallel. Sorted by name
    /// within a level.
    pub fn levels(&self) -> Vec<Vec<&str>> {
        let mut levels: Vec<Vec<&str>> = Vec::new();
        // Nodes are in name order, so each level comes out sorted.
        for (i, node) in self.nodes.iter().enumerate() {
            let l = self.level[i];
            if levels.len() <= l {
                levels.resize_with(l + 1, Vec::new);
            }
            levels[l].push(&node.name);
        }
        levels
    }

    /// The images without a family parent, sorted.
    pub fn roots(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|n| n.parents.is_empty())
            .map(|n| n.name.as_str())
            .collect()
    }

    /// The family images `name` is built from (or copies from), sorted; `None` if `name` is not
    /// a family image.
    pub fn parents(&self, name: &str) -> Option<Vec<&str>> {
        self.node(name).map(|n| self.names(&n.parents))
    }

    /// The references in `name`'s Dockerfile that name family images (`base-root`,
    /// `registry.example.com/base/base-root:1`), each with the image it names, in first-use
    /// order: what a build pins to the digests of the parents just built. `None` if `name` is
    /// not a family image.
    pub fn parent_references(&self, name: &str) -> Option<Vec<(&str, &str)>> {
        self.node(name).map(|n| {
            n.parent_refs
                .iter()
                .map(|(r, p)| (r.as_str(), self.nodes[*p].name.as_str()))
                .collect()
        })
    }

    /// The family images built from `name`, sorted; `None` if `name` is not a family image.
    pub fn children(&self, name: &str) -> Option<Vec<&str>> {
        self.node(name).map(|n| self.names(&n.children))
    }

    /// The external images `name` uses (FROM, COPY --from, RUN --mount from=), in first-use
    /// order; `None` if `name` is not a family image.
    pub fn external(&self, name: &str) -> Option<&[String]> {
        self.node(name).map(|n| n.external.as_slice())
    }

    /// What building `names` takes, in build order: the named images, with
    /// [`WithDependents::Yes`] their descendants, and the ancestors of all of those. A name that
    /// is not a family image is an error listing the family and close matches.
    pub fn select(&self, names: &[&str], with: Selection) -> Result<Selected, GraphError> {
        let mut reason: Vec<Option<Reason>> = vec![None; self.nodes.len()];
        let mut named = Vec::new();
        for name in names {
            let i = self.lookup(name)?;
            reason[i] = Some(Reason::Named);
            named.push(i);
        }
        if with.dependents == WithDependents::Yes {
            for i in self.reach(&named, |n| &n.children) {
                reason[i].get_or_insert(Reason::Dependent);
            }
        }
        let chosen: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| reason[i].is_some())
            .collect();
        for i in self.reach(&chosen, |n| &n.parents) {
            reason[i].get_or_insert(Reason::Ancestor);
        }
        let images = self
            .order
            .iter()
            .filter_map(|&i| {
                reason[i].map(|reason| SelectedImage {
                    name: self.nodes[i].name.clone(),
                    reason,
                    level: self.level[i],
                })
            })
            .collect();
        Ok(Selected { images })
    }

    /// The family as a tree (see the module docs), ending with a newline; empty for an empty
    /// family.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        // Where each image was first drawn: `Some(None)` as a root, `Some(Some(p))` under `p`.
        let mut drawn: Vec<Option<Option<usize>>> = vec![None; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            if node.parents.is_empty() {
                out.push_str(&node.name);
                out.push('\n');
                drawn[i] = Some(None);
                self.draw_children(i, "", &mut drawn, &mut out);
            }
        }
        let with_external: Vec<&Node> = self
            .order
            .iter()
            .map(|&i| &self.nodes[i])
            .filter(|n| !n.external.is_empty())
            .collect();
        if !with_external.is_empty() {
            out.push_str("\nexternal bases:\n");
            for node in with_external {
                let _ = writeln!(out, "  {}: {}", node.name, node.external.join(", "));
            }
        }
        out
    }

    fn draw_children(
        &self,
        parent: usize,
        indent: &str,
        drawn: &mut Vec<Option<Option<usize>>>,
        out: &mut String,
    ) {
        let children = &self.nodes[parent].children;
        for (k, &c) in children.iter().enumerate() {
            let last = k + 1 == children.len();
            let branch = if last { "└── " } else { "├── " };
            let name = &self.nodes[c].name;
            match drawn[c] {
                Some(first) => {
                    let under = first.map_or("", |p| self.nodes[p].name.as_str());
                    let _ = writeln!(out, "{indent}{branch}{name} (also under {under})");
                }
                None => {
                    let _ = writeln!(out, "{indent}{branch}{name}");
                    drawn[c] = Some(Some(parent));
                    let deeper = format!("{indent}{}", if last { "    " } else { "│   " });
                    self.draw_children(c, &deeper, drawn, out);
                }
            }
        }
    }

    /// The family as a Graphviz digraph (see the module docs).
    pub fn render_dot(&self) -> String {
        let mut out = String::from("digraph family {\n  rankdir=LR;\n  node [shape=box];\n");
        for node in &self.nodes {
            let _ = writeln!(out, "  {};", dot_id(&node.name));
        }
        for node in &self.nodes {
            for &c in &node.children {
                let _ = writeln!(
                    out,
                    "  {} -> {};",
                    dot_id(&node.name),
                    dot_id(&self.nodes[c].name)
                );
            }
        }
        let mut external: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for node in &self.nodes {
            for e in &node.external {
                external.entry(e).or_default().push(&node.name);
            }
        }
        for e in external.keys() {
            let _ = writeln!(out, "  {} [style=dashed];", dot_id(e));
        }
        for (e, users) in &external {
            for user in users {
                let _ = writeln!(out, "  {} -> {} [style=dashed];", dot_id(e), dot_id(user));
            }
        }
        out.push_str("}\n");
        out
    }

    fn node(&self, name: &str) -> Option<&Node> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    fn names(&self, ids: &[usize]) -> Vec<&str> {
        ids.iter().map(|&i| self.nodes[i].name.as_str()).collect()
    }

    fn lookup(&self, name: &str) -> Result<usize, GraphError> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| GraphError::UnknownImage {
                name: name.to_string(),
                suggestions: suggestions(name, self.nodes.iter().map(|n| n.name.as_str())),
                known: self.nodes.iter().map(|n| n.name.clone()).collect(),
            })
    }

    /// Everything reachable from `start` (excluded) along `next`.
    fn reach(&self, start: &[usize], next: impl Fn(&Node) -> &Vec<usize>) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<usize> = start.to_vec();
        while let Some(i) = todo.pop() {
            for &j in next(&self.nodes[i]) {
                if seen.insert(j) {
                    todo.push(j);
                }
            }
        }
        seen
    }
}

fn push_unique(list: &mut Vec<String>, name: String) {
    if !list.contains(&name) {
        list.push(name);
    }
}

/// Kahn's algorithm, smallest ready index (= name) first; a cycle is an error naming it.
fn topological_order(nodes: &[Node]) -> Result<Vec<usize>, GraphError> {
    let mut waiting: Vec<usize> = nodes.iter().map(|n| n.parents.len()).collect();
    let mut ready: BTreeSet<usize> = (0..nodes.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &c in &nodes[i].children {
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.insert(c);
            }
        }
    }
    if order.len() == nodes.len() {
        return Ok(order);
    }
    // Every image left waits for a parent that is left too: walking up from the smallest one
    // (smallest parent first) must come back to an image already seen.
    let left: BTreeSet<usize> = (0..nodes.len()).filter(|&i| waiting[i] > 0).collect();
    let mut path: Vec<usize> = Vec::new();
    let mut current = left.first().copied();
    while let Some(i) = current {
        if let Some(pos) = path.iter().position(|&p| p == i) {
            // path[pos..] is child → parent; the cycle reads parent → child.
            let mut cycle: Vec<usize> = path[pos..].iter().rev().copied().collect();
            let smallest = (0..cycle.len()).min_by_key(|&k| cycle[k]).unwrap_or(0);
            cycle.rotate_left(smallest);
            let mut names: Vec<String> = cycle.iter().map(|&c| nodes[c].name.clone()).collect();
            names.push(names[0].clone());
            return Err(GraphError::Cycle { cycle: names });
        }
        path.push(i);
        current = nodes[i].parents.iter().copied().find(|p| left.contains(p));
    }
    // Not reachable: a left image always has a left parent. Report what is left.
    let mut names: Vec<String> = left.iter().map(|&i| nodes[i].name.clone()).collect();
    if let Some(first) = names.first().cloned() {
        names.push(first);
    }
    Err(GraphError::Cycle { cycle: names })
}

/// The family image `reference` names, if any: `NAME`, `NAME:TAG`, or either behind `prefix/`.
fn family_image(
    reference: &str,
    prefix: Option<&str>,
    index: &BTreeMap<String, usize>,
) -> Option<usize> {
    candidate_names(reference, prefix).find_map(|name| index.get(name).copied())
}

/// The image names `reference` may be a family reference to: itself without a tag, and the
/// same behind `prefix/` (a trailing `/` of the prefix is ignored). A digest reference gives
/// none (its `@` part is not a tag).
pub(crate) fn candidate_names<'r>(
    reference: &'r str,
    prefix: Option<&str>,
) -> impl Iterator<Item = &'r str> {
    let prefix = prefix
        .map(|p| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty());
    let unprefixed = prefix.and_then(|p| reference.strip_prefix(p)?.strip_prefix('/'));
    [Some(reference), unprefixed]
        .into_iter()
        .flatten()
        .filter_map(|candidate| match candidate.split_once(':') {
            Some((name, tag)) if is_tag(tag) => Some(name),
            Some(_) => None,
            None => Some(candidate),
        })
}

/// A Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    tag.len() <= 128
        && chars.next().is_some_and(word)
        && chars.all(|c| word(c) || c == '.' || c == '-')
}

/// Which stages [`references`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stages {
    /// Those the last stage needs (what a build of the Dockerfile uses).
    Needed,
    /// Every stage (a build with `--target` may use any of them).
    All,
}

/// The images a Dockerfile names in FROM lines (ARG-expanded), `COPY --from` and
/// `RUN --mount=from=` of any of its stages, stage names left out: what a build of it may need
/// from outside (store images, named contexts, family images), in file order, each once.
pub fn image_references(source: &ImageSource<'_>) -> Result<Vec<String>, GraphError> {
    let mut out = Vec::new();
    for r in references(source, Stages::All)? {
        push_unique(&mut out, r.name);
    }
    Ok(out)
}

/// The image references of the stages `which` says, in file order per stage.
fn references(source: &ImageSource<'_>, which: Stages) -> Result<Vec<Reference>, GraphError> {
    let at = |line: u32, col: u32, message: String| GraphError::Dockerfile {
        path: source.dockerfile_path.to_string(),
        line,
        col,
        message,
    };
    let df =
        plinth_dockerfile::parse(source.dockerfile).map_err(|e| at(e.line, e.col, e.message))?;
    let parsed = plinth_dockerfile::stages(&df).map_err(|e| at(e.line, e.col, e.message))?;
    let stages = &parsed.stages;
    let lex = Lexer::new(df.escape);
    let env = global_args(&parsed.meta_args, source.build_args, &lex)
        .map_err(|(line, col, message)| at(line, col, message))?;

    // Which stages the last one needs, and the expanded FROM of each needed stage.
    let mut needed: BTreeMap<usize, String> = BTreeMap::new();
    let mut todo: Vec<usize> = match which {
        Stages::Needed => stages.len().checked_sub(1).into_iter().collect(),
        Stages::All => (0..stages.len()).collect(),
    };
    while let Some(i) = todo.pop() {
        if needed.contains_key(&i) {
            continue;
        }
        let stage = &stages[i];
        let span = stage.from.meta.keyword_span;
        let from = stage
            .from
            .expand(&lex, &env)
            .map_err(|e| at(span.line, span.col, e.message))?;
        if let Some(j) = stage_index(&stages[..i], &from.base) {
            todo.push(j);
        }
        for (name, _) in stage_sources(stage, &lex) {
            if let Some(j) = stage_index(&stages[..i], &name)
                .or_else(|| name.parse::<usize>().ok().filter(|j| *j < i))
            {
                todo.push(j);
            }
        }
        needed.insert(i, from.base);
    }

    let mut refs = Vec::new();
    for (&i, base) in &needed {
        let stage = &stages[i];
        if stage_index(&stages[..i], base).is_none() {
            refs.push(Reference {
                name: base.clone(),
                line: stage.span().line,
            });
        }
        for (name, line) in stage_sources(stage, &lex) {
            let is_stage = stage_index(stages, &name).is_some()
                || name.parse::<usize>().is_ok_and(|j| j < stages.len());
            if !is_stage {
                refs.push(Reference { name, line });
            }
        }
    }
    Ok(refs)
}

/// `COPY --from` and `RUN --mount=from=` names of a stage (non-empty), with their lines.
fn stage_sources(stage: &Stage, lex: &Lexer) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for cmd in &stage.commands {
        let line = cmd.meta().span.line;
        match cmd {
            Command::Copy(c) => out.extend(c.from.clone().map(|f| (f, line))),
            Command::Run(r) => {
                for m in &r.mounts {
                    let from = match m {
                        RunMount::Unresolved(spec) => {
                            mount_from(spec).map(|f| lex.process_word(&f, &EmptyEnv).unwrap_or(f))
                        }
                        RunMount::Resolved(m) => m.from.clone(),
                    };
                    out.extend(from.map(|f| (f, line)));
                }
            }
            _ => {}
        }
    }
    out.retain(|(f, _)| !f.is_empty());
    out
}

/// The last `from=` value of a `--mount` spec (CSV, as Go's `encoding/csv` reads one record).
fn mount_from(spec: &str) -> Option<String> {
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
        .into_iter()
        .filter_map(|f| {
            let (key, value) = f.split_once('=')?;
            key.eq_ignore_ascii_case("from").then(|| value.to_string())
        })
        .next_back()
}

/// The engine's stage lookup: a stage named `name`, case-insensitively.
fn stage_index(stages: &[Stage], name: &str) -> Option<usize> {
    stages.iter().position(|s| {
        s.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

/// The meta `ARG`s with their values, as the engine computes them for `FROM`: BuildKit's
/// predefined platform args for the host, then each `ARG` (a build arg, else its default
/// expanded with the args before it, else unset). Errors are (line, col, message).
fn global_args(
    meta: &[ArgCommand],
    build_args: &[(String, String)],
    lex: &Lexer,
) -> Result<BTreeMap<String, String>, (u32, u32, String)> {
    let (_, arch) = crate::engine::host_platform();
    let platform = format!("linux/{arch}");
    let mut vars: BTreeMap<String, String> = [
        ("TARGETPLATFORM", platform.as_str()),
        ("TARGETOS", "linux"),
        ("TARGETARCH", arch),
        ("TARGETVARIANT", ""),
        ("BUILDPLATFORM", platform.as_str()),
        ("BUILDOS", "linux"),
        ("BUILDARCH", arch),
        ("BUILDVARIANT", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for arg in meta {
        for pair in &arg.args {
            let given = build_args
                .iter()
                .rev()
                .find(|(k, _)| *k == pair.key)
                .map(|(_, v)| v.clone());
            let value = match (given, &pair.value) {
                (Some(v), _) => Some(v),
                (None, Some(default)) => Some(lex.process_word(default, &vars).map_err(|e| {
                    let span = arg.meta.keyword_span;
                    (span.line, span.col, e.message)
                })?),
                (None, None) => None,
            };
            match value {
                Some(v) => vars.insert(pair.key.clone(), v),
                None => vars.remove(&pair.key),
            };
        }
    }
    Ok(vars)
}

/// Family names close to `name`: edit distance of at most a third of its length (at least 1),
/// or containing it (`runtime` → `base-runtime`); best first, at most 3.
fn suggestions<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Vec<String> {
    let limit = (name.chars().count() / 3).max(1);
    let mut scored: Vec<(usize, &str)> = known
        .filter_map(|k| {
            let d = edit_distance(name, k);
            let contains = name.chars().count() >= 3 && k.contains(name);
            (d <= limit || contains).then_some((d, k))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, k)| k.to_string())
        .collect()
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A Graphviz ID: quoted, with `"` and `\` escaped and line breaks as `\n`.
fn dot_id(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a family from `(name, Dockerfile)` pairs, paths `images/<name>/Dockerfile`.
    fn family_with(
        images: &[(&str, &str)],
        naming: &FamilyNaming,
        build_args: &[(String, String)],
    ) -> Result<Graph, GraphError> {
        let paths: Vec<String> = images
            .iter()
            .map(|(n, _)| format!("images/{n}/Dockerfile"))
            .collect();
        let sources: Vec<ImageSource<'_>> = images
            .iter()
            .zip(&paths)
            .map(|((name, dockerfile), path)| ImageSource {
                name,
                dockerfile_path: path,
                dockerfile,
                build_args,
            })
            .collect();
        Graph::build(&sources, naming)
    }

    fn family(images: &[(&str, &str)]) -> Graph {
        match family_with(images, &FamilyNaming::default(), &[]) {
            Ok(g) => g,
            Err(e) => panic!("family does not build: {e}"),
        }
    }

    fn family_err(images: &[(&str, &str)]) -> String {
        match family_with(images, &FamilyNaming::default(), &[]) {
            Ok(g) => panic!("expected an error, got order {:?}", g.order()),
            Err(e) => e.to_string(),
        }
    }

    /// Seed 004's family, given out of order: base-root is debootstrapped (a stage FROM
    /// debian, then FROM scratch), base-build and base-runtime come from it, and each has a
    /// specialised child.
    const SEED: &[(&str, &str)] = &[
        (
            "base-runtime-jre",
            "FROM base-runtime\nRUN apt-get install -y openjdk-17-jre-headless\n",
        ),
        (
            "base-build-jvm",
            "FROM base-build\nRUN apt-get install -y openjdk-17-jdk-headless sbt\n",
        ),
        (
            "base-root",
            "FROM debian:bookworm AS bootstrap\n\
             RUN debootstrap --variant=minbase bookworm /rootfs\n\
             FROM scratch\n\
             COPY --from=bootstrap /rootfs /\n",
        ),
        (
            "base-runtime",
            "FROM base-root:latest\nRUN apt-get install -y curl jq\n",
        ),
        (
            "base-build",
            "FROM base-root\nRUN apt-get install -y build-essential\n",
        ),
    ];

    fn check_order(images: &[(&str, &str)], expect: &[&str]) {
        assert_eq!(family(images).order(), expect);
    }

    fn check_levels(images: &[(&str, &str)], expect: &[&[&str]]) {
        assert_eq!(family(images).levels(), expect);
    }

    fn check_parents(images: &[(&str, &str)], name: &str, expect: &[&str]) {
        assert_eq!(
            family(images).parents(name),
            Some(expect.to_vec()),
            "{name}"
        );
    }

    fn check_external(images: &[(&str, &str)], name: &str, expect: &[&str]) {
        let g = family(images);
        let got: Vec<&str> = g
            .external(name)
            .unwrap_or_default()
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(got, expect, "{name}");
    }

    fn check_select(
        images: &[(&str, &str)],
        names: &[&str],
        dependents: WithDependents,
        expect: &[(&str, Reason)],
    ) {
        let selected = match family(images).select(names, Selection { dependents }) {
            Ok(s) => s,
            Err(e) => panic!("select {names:?}: {e}"),
        };
        let got: Vec<(&str, Reason)> = selected
            .images
            .iter()
            .map(|i| (i.name.as_str(), i.reason))
            .collect();
        assert_eq!(got, expect, "select {names:?} {dependents:?}");
    }

    #[test]
    fn seed_family_order_and_levels() {
        check_order(
            SEED,
            &[
                "base-root",
                "base-build",
                "base-build-jvm",
                "base-runtime",
                "base-runtime-jre",
            ],
        );
        check_levels(
            SEED,
            &[
                &["base-root"],
                &["base-build", "base-runtime"],
                &["base-build-jvm", "base-runtime-jre"],
            ],
        );
        let reversed: Vec<(&str, &str)> = SEED.iter().rev().copied().collect();
        assert_eq!(family(&reversed).order(), family(SEED).order());
    }

    #[test]
    fn seed_family_parents_children_roots() {
        check_parents(SEED, "base-root", &[]);
        check_parents(SEED, "base-runtime", &["base-root"]);
        check_parents(SEED, "base-build-jvm", &["base-build"]);
        let g = family(SEED);
        assert_eq!(
            g.children("base-root"),
            Some(vec!["base-build", "base-runtime"])
        );
        assert_eq!(g.children("base-runtime-jre"), Some(vec![]));
        assert_eq!(g.children("debian"), None);
        assert_eq!(g.parents("bootstrap"), None);
        assert_eq!(g.roots(), ["base-root"]);
        assert_eq!(g.len(), 5);
        assert_eq!(
            g.dockerfile_path("base-build"),
            Some("images/base-build/Dockerfile")
        );
    }

    #[test]
    fn order_puts_parents_first_and_breaks_ties_by_name() {
        // z-root is ready first; a-leaf waits for m-mid although its name is smallest.
        check_order(
            &[
                ("a-leaf", "FROM m-mid\n"),
                ("m-mid", "FROM z-root\n"),
                ("z-root", "FROM alpine\n"),
                ("b-root", "FROM alpine\n"),
            ],
            &["b-root", "z-root", "m-mid", "a-leaf"],
        );
    }

    #[test]
    fn level_is_the_longest_parent_chain() {
        // c comes from a (level 1) and, by COPY --from, from r (level 0): level 2.
        let images = &[
            ("r", "FROM debian\n"),
            ("a", "FROM r\n"),
            ("c", "FROM r\nCOPY --from=a /x /x\n"),
        ];
        check_levels(images, &[&["r"], &["a"], &["c"]]);
        check_parents(images, "c", &["a", "r"]);
    }

    #[test]
    fn select_without_dependents_adds_ancestors() {
        check_select(
            SEED,
            &["base-build-jvm"],
            WithDependents::No,
            &[
                ("base-root", Reason::Ancestor),
                ("base-build", Reason::Ancestor),
                ("base-build-jvm", Reason::Named),
            ],
        );
        check_select(
            SEED,
            &["base-root"],
            WithDependents::No,
            &[("base-root", Reason::Named)],
        );
        check_select(SEED, &[], WithDependents::Yes, &[]);
    }

    #[test]
    fn select_with_dependents_adds_descendants() {
        check_select(
            SEED,
            &["base-build"],
            WithDependents::Yes,
            &[
                ("base-root", Reason::Ancestor),
                ("base-build", Reason::Named),
                ("base-build-jvm", Reason::Dependent),
            ],
        );
        // A named image stays Named when it also descends from another named one.
        check_select(
            SEED,
            &["base-runtime", "base-root"],
            WithDependents::Yes,
            &[
                ("base-root", Reason::Named),
                ("base-build", Reason::Dependent),
                ("base-build-jvm", Reason::Dependent),
                ("base-runtime", Reason::Named),
                ("base-runtime-jre", Reason::Dependent),
            ],
        );
    }

    #[test]
    fn select_adds_the_other_parents_of_dependents() {
        // c is built from a and b: rebuilding a's dependents needs b too.
        let images = &[
            ("r", "FROM debian\n"),
            ("a", "FROM r\n"),
            ("b", "FROM r\n"),
            ("c", "FROM a\nRUN --mount=type=bind,from=b,target=/b true\n"),
        ];
        check_select(
            images,
            &["a"],
            WithDependents::Yes,
            &[
                ("r", Reason::Ancestor),
                ("a", Reason::Named),
                ("b", Reason::Ancestor),
                ("c", Reason::Dependent),
            ],
        );
        let g = family(images);
        let selected = g.select(
            &["a"],
            Selection {
                dependents: WithDependents::Yes,
            },
        );
        assert_eq!(
            selected.map(|s| s.levels().iter().map(|l| l.join(" ")).collect::<Vec<_>>()),
            Ok(vec!["r".to_string(), "a b".to_string(), "c".to_string()])
        );
    }

    #[test]
    fn select_unknown_name_lists_family_and_close_matches() {
        let g = family(SEED);
        let with = Selection {
            dependents: WithDependents::No,
        };
        let err = |names: &[&str]| g.select(names, with).map_err(|e| e.to_string());
        assert_eq!(
            err(&["base-build", "runtime"]),
            Err(
                "no image named \"runtime\" in the family (did you mean base-runtime, \
                 base-runtime-jre?); the family has: base-build, base-build-jvm, base-root, \
                 base-runtime, base-runtime-jre"
                    .to_string()
            )
        );
        assert_eq!(
            err(&["base-rot"]).map_err(|e| e.split(';').next().map(str::to_string)),
            Err(Some(
                "no image named \"base-rot\" in the family (did you mean base-root?)".to_string()
            ))
        );
        assert_eq!(
            err(&["nginx"]).map_err(|e| e.split(';').next().map(str::to_string)),
            Err(Some("no image named \"nginx\" in the family".to_string()))
        );
    }

    #[test]
    fn cycle_of_two_is_named() {
        assert_eq!(
            family_err(&[
                ("base-b", "FROM base-a\n"),
                ("base-a", "FROM debian\nCOPY --from=base-b / /\n"),
                ("base-ok", "FROM debian\n"),
            ]),
            "the image family has a cycle: base-a -> base-b -> base-a"
        );
    }

    #[test]
    fn cycle_of_three_is_named_without_its_dependents() {
        let images = &[
            ("base-a", "FROM base-c\n"),
            ("base-b", "FROM base-a\n"),
            ("base-c", "FROM base-b\n"),
            ("base-d", "FROM base-a\n"),
            ("base-0", "FROM debian\n"),
        ];
        assert_eq!(
            family_err(images),
            "the image family has a cycle: base-a -> base-b -> base-c -> base-a"
        );
        assert_eq!(
            family_with(images, &FamilyNaming::default(), &[]).err(),
            Some(GraphError::Cycle {
                cycle: ["base-a", "base-b", "base-c", "base-a"]
                    .map(String::from)
                    .to_vec()
            })
        );
    }

    #[test]
    fn self_reference_is_an_error() {
        assert_eq!(
            family_err(&[("base-root", "FROM base-root:old\n")]),
            "images/base-root/Dockerfile:1: base-root refers to itself (\"base-root:old\"); \
             an image of the family cannot be built from itself"
        );
        assert_eq!(
            family_err(&[(
                "base-root",
                "FROM debian\nRUN true\nCOPY --from=base-root /a /a\n"
            )]),
            "images/base-root/Dockerfile:3: base-root refers to itself (\"base-root\"); \
             an image of the family cannot be built from itself"
        );
    }

    #[test]
    fn duplicate_names_are_an_error() {
        assert_eq!(
            family_err(&[
                ("base-root", "FROM debian\n"),
                ("base-root", "FROM alpine\n")
            ]),
            "two images are named \"base-root\": images/base-root/Dockerfile and \
             images/base-root/Dockerfile"
        );
    }

    #[test]
    fn stage_names_are_not_images() {
        let images = &[
            ("base-root", "FROM debian\n"),
            ("base-build", "FROM base-root\n"),
            ("base-runtime", "FROM base-root\n"),
            (
                "app",
                // `builder` is a stage; so is `base-runtime` here (it shadows the family
                // image), and `0`.
                "FROM base-build AS builder\n\
                 RUN make\n\
                 FROM debian AS base-runtime\n\
                 FROM builder AS test\n\
                 RUN make test\n\
                 FROM base-runtime\n\
                 COPY --from=builder /out /opt\n\
                 COPY --from=0 /src /src\n",
            ),
        ];
        check_parents(images, "app", &["base-build"]);
        check_external(images, "app", &["debian"]);
        let g = family(images);
        assert_eq!(g.children("base-runtime"), Some(vec![]));
    }

    #[test]
    fn stages_the_last_stage_does_not_need_are_ignored() {
        let images = &[
            ("base-root", "FROM debian\n"),
            ("base-build", "FROM base-root\n"),
            (
                "app",
                "FROM base-build AS unused\n\
                 FROM golang:1.22 AS tools\n\
                 FROM base-root\n\
                 COPY --from=tools /go/bin /usr/local/bin\n",
            ),
        ];
        check_parents(images, "app", &["base-root"]);
        check_external(images, "app", &["golang:1.22"]);
    }

    #[test]
    fn from_is_expanded_with_meta_args() {
        let images = &[
            ("base-root", "FROM debian\n"),
            ("base-runtime", "FROM base-root\n"),
            (
                "app",
                "ARG BASE=base-root\nARG TAG=1.0\nFROM ${BASE}:$TAG\n",
            ),
        ];
        check_parents(images, "app", &["base-root"]);
        let with_args = |args: &[(&str, &str)]| {
            let args: Vec<(String, String)> = args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            family_with(images, &FamilyNaming::default(), &args)
                .map(|g| g.parents("app").unwrap_or_default().join(" "))
        };
        assert_eq!(
            with_args(&[("BASE", "debian"), ("BASE", "base-runtime")]),
            Ok("base-runtime".to_string())
        );
        // A build arg only counts for a declared ARG.
        let undeclared = &[
            ("base-root", "FROM debian\n"),
            ("base-runtime", "FROM base-root\n"),
            ("app", "FROM ${BASE:-base-root}\n"),
        ];
        let args = [("BASE".to_string(), "base-runtime".to_string())];
        assert_eq!(
            family_with(undeclared, &FamilyNaming::default(), &args)
                .map(|g| g.parents("app").unwrap_or_default().join(" ")),
            Ok("base-root".to_string())
        );
    }

    #[test]
    fn registry_prefixed_names_are_edges_with_the_prefix_only() {
        let images = &[
            ("base-root", "FROM debian\n"),
            (
                "app",
                "ARG REGISTRY=registry.example.com\n\
                 FROM ${REGISTRY}/base/base-root:latest\n\
                 COPY --from=other.example.com/base/base-root /a /a\n\
                 COPY --from=base-root@sha256:0123 /b /b\n",
            ),
        ];
        let prefixed = FamilyNaming {
            prefix: Some("registry.example.com/base/".to_string()),
        };
        let g = family_with(images, &prefixed, &[]).map_err(|e| e.to_string());
        assert_eq!(
            g.as_ref().map(|g| g.parents("app").unwrap_or_default()),
            Ok(vec!["base-root"])
        );
        assert_eq!(
            g.as_ref()
                .map(|g| g.external("app").unwrap_or_default().to_vec()),
            Ok(vec![
                "other.example.com/base/base-root".to_string(),
                "base-root@sha256:0123".to_string()
            ])
        );
        // Without the prefix the registry name is external.
        check_parents(images, "app", &[]);
    }

    #[test]
    fn parent_references_are_the_references_as_written() {
        let images = &[
            ("base-root", "FROM debian\n"),
            ("base-build", "FROM base-root\n"),
            (
                "app",
                "FROM registry.example.com/base/base-root:1 AS a\n\
                 FROM base-build\n\
                 COPY --from=a /x /x\n\
                 COPY --from=base-root /y /y\n\
                 COPY --from=base-build /z /z\n",
            ),
        ];
        let naming = FamilyNaming {
            prefix: Some("registry.example.com/base".to_string()),
        };
        let g = family_with(images, &naming, &[]).map_err(|e| e.to_string());
        assert_eq!(
            g.as_ref()
                .map(|g| g.parent_references("app").unwrap_or_default()),
            Ok(vec![
                ("registry.example.com/base/base-root:1", "base-root"),
                ("base-build", "base-build"),
                ("base-root", "base-root"),
            ])
        );
        assert_eq!(
            g.as_ref()
                .map(|g| g.parent_references("base-root").unwrap_or_default()),
            Ok(vec![])
        );
        assert_eq!(
            g.as_ref().map(|g| g.parent_references("nope").is_none()),
            Ok(true)
        );
    }

    #[test]
    fn copy_from_and_mount_from_name_family_images() {
        let images = &[
            ("base-root", "FROM debian\n"),
            ("base-build", "FROM base-root\n"),
            ("base-runtime", "FROM base-root\n"),
            (
                "app",
                "FROM debian:bookworm\n\
                 COPY --from=base-build:latest /usr/local/bin/tool /usr/local/bin/\n\
                 RUN --mount=type=bind,\"from=base-runtime\",target=/rt cp /rt/x /x\n",
            ),
        ];
        check_parents(images, "app", &["base-build", "base-runtime"]);
        check_external(images, "app", &["debian:bookworm"]);
        check_levels(
            images,
            &[&["base-root"], &["base-build", "base-runtime"], &["app"]],
        );
    }

    #[test]
    fn external_bases_are_recorded_once_in_first_use_order() {
        check_external(SEED, "base-root", &["debian:bookworm", "scratch"]);
        check_external(SEED, "base-build", &[]);
        check_external(
            &[(
                "tools",
                "FROM golang:1.22 AS go\n\
                 FROM debian-bookworm\n\
                 COPY --from=go /usr/local/go /usr/local/go\n\
                 COPY --from=alpine:3.20 /etc/apk /apk\n\
                 COPY --from=golang:1.22 /x /x\n",
            )],
            "tools",
            &["golang:1.22", "debian-bookworm", "alpine:3.20"],
        );
    }

    #[test]
    fn malformed_dockerfile_reports_its_location() {
        assert_eq!(
            family_err(&[
                ("base-root", "FROM debian\n"),
                ("broken", "FROM base-root\nRUN true\nFOO bar\n"),
            ]),
            "images/broken/Dockerfile:3:1: unknown instruction: FOO"
        );
        assert_eq!(
            family_err(&[("broken", "ARG X\n\n  FROM ${X:?required}\n")]),
            "images/broken/Dockerfile:3:3: failed to process \"${X:?required}\": X: required"
        );
        assert_eq!(
            family_err(&[("broken", "ARG A=${B:?unset}\nFROM debian\n")]),
            "images/broken/Dockerfile:1:1: failed to process \"${B:?unset}\": B: unset"
        );
    }

    /// Seed 004 plus a second root and an image with two family parents.
    fn wide_family() -> Graph {
        let mut images = SEED.to_vec();
        images.push(("base-alpine", "FROM alpine:3.20\n"));
        images.push((
            "base-ci",
            "FROM base-build-jvm\n\
             COPY --from=base-runtime-jre /opt/java /opt/jre\n\
             COPY --from=golang:1.22 /usr/local/go /usr/local/go\n",
        ));
        family(&images)
    }

    #[test]
    fn text_rendering() {
        assert_eq!(
            wide_family().render_text(),
            "\
base-alpine
base-root
├── base-build
│   └── base-build-jvm
│       └── base-ci
└── base-runtime
    └── base-runtime-jre
        └── base-ci (also under base-build-jvm)

external bases:
  base-alpine: alpine:3.20
  base-root: debian:bookworm, scratch
  base-ci: golang:1.22
"
        );
        assert_eq!(family(&[]).render_text(), "");
    }

    #[test]
    fn dot_rendering() {
        let dot = wide_family().render_dot();
        assert_eq!(
            dot,
            r#"digraph family {
  rankdir=LR;
  node [shape=box];
  "base-alpine";
  "base-build";
  "base-build-jvm";
  "base-ci";
  "base-root";
  "base-runtime";
  "base-runtime-jre";
  "base-build" -> "base-build-jvm";
  "base-build-jvm" -> "base-ci";
  "base-root" -> "base-build";
  "base-root" -> "base-runtime";
  "base-runtime" -> "base-runtime-jre";
  "base-runtime-jre" -> "base-ci";
  "alpine:3.20" [style=dashed];
  "debian:bookworm" [style=dashed];
  "golang:1.22" [style=dashed];
  "scratch" [style=dashed];
  "alpine:3.20" -> "base-alpine" [style=dashed];
  "debian:bookworm" -> "base-root" [style=dashed];
  "golang:1.22" -> "base-ci" [style=dashed];
  "scratch" -> "base-root" [style=dashed];
}
"#
        );
        // Where Graphviz is installed, it must accept the output.
        if let Ok(mut child) = std::process::Command::new("dot")
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
        {
            use std::io::Write as _;
            if let Some(mut stdin) = child.stdin.take() {
                assert!(stdin.write_all(dot.as_bytes()).is_ok());
            }
            let out = child.wait_with_output();
            assert!(
                out.as_ref().is_ok_and(|o| o.status.success()),
                "dot rejected the output: {out:?}"
            );
        }
    }

    #[test]
    fn dot_ids_are_quoted_and_escaped() {
        assert_eq!(dot_id(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(dot_id("x\ny"), r#""x\ny""#);
    }

    #[test]
    fn tags_are_checked_before_matching() {
        let index: BTreeMap<String, usize> = [("base-root".to_string(), 0)].into();
        let check = |r: &str, prefix: Option<&str>| family_image(r, prefix, &index);
        assert_eq!(check("base-root", None), Some(0));
        assert_eq!(check("base-root:1.2.3", None), Some(0));
        assert_eq!(check("base-root:", None), None);
        assert_eq!(check("base-root:-x", None), None);
        assert_eq!(check("base-rootx", None), None);
        assert_eq!(check("ns/base-root", None), None);
        assert_eq!(check("ns/base-root:1", Some("ns")), Some(0));
        assert_eq!(check("nsx/base-root:1", Some("ns")), None);
    }
}
