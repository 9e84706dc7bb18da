//! A metadata-only view of an image's merged filesystem (paths, kinds, modes, owners), built from
//! layer headers without extracting anything. The engine uses it to know which directories exist
//! (WORKDIR, COPY parents) and with what owner and mode.

use std::collections::BTreeMap;

use plinth_oci::layer::{EntryInfoKind, EntryKind, LayerEntry, LayerEntryInfo};

use crate::context::{DestFs, DestNode};

/// The kind of a node, as far as the engine cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Dir,
    File,
    Symlink,
    Other,
}

/// Metadata of one path in the merged filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

/// The merged view: path (relative, no leading `/`) → node, plus symlink targets.
#[derive(Debug, Clone, Default)]
pub struct FsView {
    nodes: BTreeMap<String, Node>,
    targets: BTreeMap<String, String>,
}

/// What a layer entry does to the paths below the lower layers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hide {
    Nothing,
    /// A whiteout: the path and everything below it.
    Tree,
    /// An opaque directory: everything below the path.
    Children,
}

/// One entry of a layer, as the view needs it.
struct Change<'a> {
    path: &'a str,
    hide: Hide,
    add: Option<(Node, Option<&'a str>)>,
}

impl DestFs for FsView {
    fn lookup(&self, path: &str) -> Option<DestNode> {
        if path.is_empty() {
            return Some(DestNode::Dir);
        }
        let node = self.nodes.get(path)?;
        Some(match node.kind {
            NodeKind::Dir => DestNode::Dir,
            NodeKind::Symlink => DestNode::Symlink {
                target: self.targets.get(path).cloned().unwrap_or_default(),
            },
            NodeKind::File | NodeKind::Other => DestNode::File,
        })
    }
}

impl FsView {
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path.trim_matches('/'))
    }

    /// Applies a layer read from a blob ([`plinth_oci::layer::read_layer_entries`]).
    pub fn apply_layer(&mut self, entries: &[LayerEntryInfo]) {
        self.apply(entries.iter().map(|e| {
            let node = |kind| Node {
                kind,
                mode: e.mode,
                uid: e.uid,
                gid: e.gid,
            };
            let (hide, add) = match &e.kind {
                EntryInfoKind::Whiteout => (Hide::Tree, None),
                EntryInfoKind::OpaqueWhiteout => (Hide::Children, None),
                EntryInfoKind::Dir => (Hide::Nothing, Some((node(NodeKind::Dir), None))),
                EntryInfoKind::File | EntryInfoKind::Hardlink { .. } => {
                    (Hide::Nothing, Some((node(NodeKind::File), None)))
                }
                EntryInfoKind::Symlink { target } => (
                    Hide::Nothing,
                    Some((node(NodeKind::Symlink), Some(target.as_str()))),
                ),
                _ => (Hide::Nothing, Some((node(NodeKind::Other), None))),
            };
            Change {
                path: &e.path,
                hide,
                add,
            }
        }));
    }

    /// Applies the entries of a layer plinth just wrote.
    pub fn apply_entries(&mut self, entries: &[LayerEntry]) {
        self.apply(entries.iter().map(|e| {
            let node = |kind| Node {
                kind,
                mode: e.mode,
                uid: e.uid,
                gid: e.gid,
            };
            let (hide, add) = match &e.kind {
                EntryKind::Whiteout => (Hide::Tree, None),
                // Plinth's opaque entry is the directory itself plus its marker.
                EntryKind::OpaqueWhiteout => (Hide::Children, Some((node(NodeKind::Dir), None))),
                EntryKind::Dir => (Hide::Nothing, Some((node(NodeKind::Dir), None))),
                EntryKind::File(_) | EntryKind::Hardlink { .. } => {
                    (Hide::Nothing, Some((node(NodeKind::File), None)))
                }
                EntryKind::Symlink { target } => (
                    Hide::Nothing,
                    Some((node(NodeKind::Symlink), Some(target.as_str()))),
                ),
                _ => (Hide::Nothing, Some((node(NodeKind::Other), None))),
            };
            Change {
                path: &e.path,
                hide,
                add,
            }
        }));
    }

    /// Whiteouts apply to the lower layers, so everything a layer hides goes first, then its
    /// entries are added.
    fn apply<'a>(&mut self, changes: impl Iterator<Item = Change<'a>>) {
        let changes: Vec<Change<'a>> = changes.collect();
        for c in &changes {
            match c.hide {
                Hide::Tree => self.remove_tree(c.path),
                Hide::Children => self.remove_children(c.path),
                Hide::Nothing => {}
            }
        }
        for c in changes {
            let Some((node, target)) = c.add else {
                continue;
            };
            let p = c.path.trim_matches('/');
            if p.is_empty() {
                continue;
            }
            if node.kind != NodeKind::Dir {
                self.remove_children(p);
            }
            match target {
                Some(t) => self.targets.insert(p.to_string(), t.to_string()),
                None => self.targets.remove(p),
            };
            self.nodes.insert(p.to_string(), node);
        }
    }

    fn remove_tree(&mut self, path: &str) {
        self.nodes.remove(path);
        self.targets.remove(path);
        self.remove_children(path);
    }

    fn remove_children(&mut self, dir: &str) {
        if dir.is_empty() {
            self.nodes.clear();
            self.targets.clear();
            return;
        }
        let prefix = format!("{dir}/");
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
            self.targets.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(path: &str, kind: EntryInfoKind) -> LayerEntryInfo {
        LayerEntryInfo {
            path: path.to_string(),
            kind,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            xattrs: Default::default(),
        }
    }

    #[test]
    fn whiteouts_and_opaque_dirs_hide_lower_layers() {
        let mut v = FsView::default();
        v.apply_layer(&[
            h("etc", EntryInfoKind::Dir),
            h("etc/a", EntryInfoKind::File),
            h("etc/b", EntryInfoKind::File),
            h("var/x/y", EntryInfoKind::File),
            h("var/x", EntryInfoKind::Dir),
        ]);
        v.apply_layer(&[
            h("etc/a", EntryInfoKind::Whiteout),
            h("var/x", EntryInfoKind::OpaqueWhiteout),
            h("var/x/new", EntryInfoKind::File),
        ]);
        assert!(v.get("etc/a").is_none());
        assert!(v.get("/etc/b").is_some());
        assert!(
            v.get("var/x/y").is_none(),
            "opaque dir hides lower contents"
        );
        assert!(
            v.get("var/x/new").is_some(),
            "but keeps its own layer's entries"
        );
        assert_eq!(v.get("etc").unwrap().kind, NodeKind::Dir);
    }

    #[test]
    fn a_file_replacing_a_dir_removes_its_children() {
        let mut v = FsView::default();
        v.apply_layer(&[h("d", EntryInfoKind::Dir), h("d/x", EntryInfoKind::File)]);
        v.apply_layer(&[h("d", EntryInfoKind::File)]);
        assert!(v.get("d/x").is_none());
        assert_eq!(v.get("d").unwrap().kind, NodeKind::File);
    }
}
