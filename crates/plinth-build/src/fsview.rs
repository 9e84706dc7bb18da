//! A metadata-only view of an image's merged filesystem (paths, kinds, modes, owners), built from
//! layer headers without extracting anything. The engine uses it to know which directories exist
//! (WORKDIR, COPY parents) and with what owner and mode.

use std::collections::BTreeMap;

use plinth_oci::layer::{EntryKind, LayerEntry};

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

/// One header of a layer, as the view needs it (`path` relative, without leading `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderInfo {
    pub path: String,
    pub node: Node,
    /// The target of a symlink.
    pub target: Option<String>,
}

/// The merged view: path (relative, no leading `/`) → node, plus symlink targets.
#[derive(Debug, Clone, Default)]
pub struct FsView {
    nodes: BTreeMap<String, Node>,
    targets: BTreeMap<String, String>,
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

    /// Applies one layer given as raw tar paths (which may contain `.wh.` whiteouts).
    pub fn apply_tar_layer(&mut self, headers: &[HeaderInfo]) {
        // Whiteouts apply to the lower layers, so remove first, then add this layer's entries.
        for h in headers {
            let (dir, name) = split(&h.path);
            if name == ".wh..wh..opq" {
                self.remove_children(dir);
            } else if let Some(victim) = name.strip_prefix(".wh.") {
                self.remove_tree(&join(dir, victim));
            }
        }
        for h in headers {
            let (_, name) = split(&h.path);
            if name.starts_with(".wh.") {
                continue;
            }
            let p = h.path.trim_matches('/').to_string();
            if p.is_empty() {
                continue;
            }
            if h.node.kind != NodeKind::Dir {
                self.remove_children(&p);
            }
            match &h.target {
                Some(t) if h.node.kind == NodeKind::Symlink => {
                    self.targets.insert(p.clone(), t.clone())
                }
                _ => self.targets.remove(&p),
            };
            self.nodes.insert(p, h.node);
        }
    }

    /// Applies the entries of a layer plinth just wrote.
    pub fn apply_entries(&mut self, entries: &[LayerEntry]) {
        for e in entries {
            match &e.kind {
                EntryKind::Whiteout => self.remove_tree(&e.path),
                EntryKind::OpaqueWhiteout => self.remove_children(&e.path),
                _ => {}
            }
        }
        for e in entries {
            let kind = match &e.kind {
                EntryKind::Whiteout => continue,
                EntryKind::Dir | EntryKind::OpaqueWhiteout => NodeKind::Dir,
                EntryKind::File(_) | EntryKind::Hardlink { .. } => NodeKind::File,
                EntryKind::Symlink { .. } => NodeKind::Symlink,
                _ => NodeKind::Other,
            };
            if kind != NodeKind::Dir {
                self.remove_children(&e.path);
            }
            match &e.kind {
                EntryKind::Symlink { target } => {
                    self.targets.insert(e.path.clone(), target.clone())
                }
                _ => self.targets.remove(&e.path),
            };
            self.nodes.insert(
                e.path.clone(),
                Node {
                    kind,
                    mode: e.mode,
                    uid: e.uid,
                    gid: e.gid,
                },
            );
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

fn split(path: &str) -> (&str, &str) {
    let p = path.trim_matches('/');
    match p.rfind('/') {
        Some(i) => (&p[..i], &p[i + 1..]),
        None => ("", p),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(path: &str, kind: NodeKind) -> HeaderInfo {
        HeaderInfo {
            path: path.to_string(),
            node: Node {
                kind,
                mode: 0o755,
                uid: 0,
                gid: 0,
            },
            target: None,
        }
    }

    #[test]
    fn whiteouts_and_opaque_dirs_hide_lower_layers() {
        let mut v = FsView::default();
        v.apply_tar_layer(&[
            h("etc/", NodeKind::Dir),
            h("etc/a", NodeKind::File),
            h("etc/b", NodeKind::File),
            h("var/x/y", NodeKind::File),
            h("var/x", NodeKind::Dir),
        ]);
        v.apply_tar_layer(&[
            h("etc/.wh.a", NodeKind::File),
            h("var/x/.wh..wh..opq", NodeKind::File),
            h("var/x/new", NodeKind::File),
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
        v.apply_tar_layer(&[h("d", NodeKind::Dir), h("d/x", NodeKind::File)]);
        v.apply_tar_layer(&[h("d", NodeKind::File)]);
        assert!(v.get("d/x").is_none());
        assert_eq!(v.get("d").unwrap().kind, NodeKind::File);
    }
}
