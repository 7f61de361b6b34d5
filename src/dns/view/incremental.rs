//! Updating a [`ZoneView`] per changed owner name instead of rendering the whole zone.
//!
//! A full build is the same procedure applied to every name of the zone (`ZoneView::build`
//! calls [`ZoneView::set_name`] for each), so the incremental and the full path cannot
//! drift apart; a property test checks that they agree.
//!
//! Besides the name itself, a change can affect:
//! - its empty non-terminal ancestors: each node counts its children, an ancestor is
//!   created on the first child and removed with the last one;
//! - owners whose NS/MX/SRV records point at it (their additional section carries its
//!   A/AAAA): [`GlueIndex`] maps targets back to those owners;
//! - the zone-wide record count and the cut count (kept as running totals).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::snapshot::{render_set, render_soa, NodeBuilder, NodeView, RenderedSoa, ZoneView};
use crate::model::{Fqdn, Node, RData, RType, Zone};
use crate::state::State;

fn glue_targets(zone: &Zone, node: Option<&Node>) -> Vec<Fqdn> {
    let mut out: Vec<Fqdn> = node
        .into_iter()
        .flat_map(|n| n.values())
        .flat_map(|set| set.data.iter())
        .filter_map(|d| match d {
            RData::Ns(t) | RData::Mx { exchange: t, .. } | RData::Srv { target: t, .. } => Some(t),
            _ => None,
        })
        .filter(|t| t.is_in(&zone.origin))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

fn render_node(zone: &Zone, key: &[u8], name: &Fqdn, node: &Node) -> NodeView {
    let is_cut = name != &zone.origin && node.contains_key(&RType::Ns);
    let chase = node.get(&RType::Cname).and_then(|s| s.data.first()).and_then(|d| match d {
        RData::Cname(target) if target.is_in(&zone.origin) => Some(target.to_wire()),
        _ => None,
    });
    let mut out = NodeBuilder::new(key, is_cut, chase.as_deref());
    // `Node` is in `RType` order, which is type-code order.
    for (t, set) in node.iter() {
        render_set(&mut out, key, name, zone, *t, set);
    }
    out.finish()
}

impl ZoneView {
    /// A new version of this view for `zone` (the zone after the change) in which only
    /// `names` (and what depends on them) are rendered again.
    pub fn updated(&self, state: &State, zone: &Zone, names: &BTreeSet<Fqdn>) -> ZoneView {
        let RenderedSoa { positive: soa, negative: negative_soa, plain: soa_plain } = render_soa(zone);
        let mut view = ZoneView {
            origin: self.origin.clone(),
            origin_wire: self.origin_wire.clone(),
            serial: zone.serial.0,
            record_count: self.record_count,
            nodes: self.nodes.clone(),
            soa,
            negative_soa,
            soa_plain,
            expire: zone.soa.expire,
            has_cuts: self.has_cuts,
            cuts: self.cuts,
            glue: self.glue.clone(),
            journal: state.journals.get(&zone.origin).map(|j| j.entries.iter().cloned().collect()).unwrap_or_default(),
        };
        let mut todo: BTreeSet<&Fqdn> = names.iter().collect();
        for n in names {
            todo.extend(self.glue.by_target.get(n).into_iter().flatten());
        }
        for name in todo {
            view.set_name(zone, name);
        }
        if view.nodes.needs_rebalance() {
            view.nodes = view.nodes.rebalanced();
        }
        view
    }

    /// Renders `name` as it is in `zone` now: (re)creates, updates or removes its node,
    /// keeping empty non-terminals, the glue index and the running totals right.
    pub(super) fn set_name(&mut self, zone: &Zone, name: &Fqdn) {
        if !name.is_in(&self.origin) {
            return;
        }
        let node = zone.nodes.get(name);
        let targets = glue_targets(zone, node);
        let known = self.glue.by_owner.get(name).map(Vec::as_slice).unwrap_or_default();
        if known != targets.as_slice() {
            Arc::make_mut(&mut self.glue).set(name, targets);
        }
        let key = name.to_wire();
        match node {
            Some(node) => {
                let mut fresh = render_node(zone, &key, name, node);
                self.record_count += fresh.record_count();
                self.cuts += usize::from(fresh.is_cut());
                match self.nodes.get_mut(&key) {
                    Some(v) => {
                        self.record_count = self.record_count.saturating_sub(v.record_count());
                        self.cuts = self.cuts.saturating_sub(usize::from(v.is_cut()));
                        fresh.set_children(v.children());
                        *v = fresh;
                    }
                    None => {
                        self.nodes.insert(fresh);
                        self.link_parent(name);
                    }
                }
            }
            None => {
                let Some(v) = self.nodes.get_mut(&key) else { return };
                self.record_count = self.record_count.saturating_sub(v.record_count());
                self.cuts = self.cuts.saturating_sub(usize::from(v.is_cut()));
                if v.children() > 0 || *key == *self.origin_wire {
                    *v = NodeView::empty(&key, v.children());
                } else {
                    self.nodes.remove(&key);
                    self.unlink_parent(name);
                }
            }
        }
        self.has_cuts = self.cuts > 0;
    }

    /// A node was added at `name`: count it in its parent, creating empty non-terminals.
    fn link_parent(&mut self, name: &Fqdn) {
        let mut up = name.parent();
        while let Some(p) = up.filter(|p| p.is_in(&self.origin)) {
            let key = p.to_wire();
            if let Some(v) = self.nodes.get_mut(&key) {
                v.set_children(v.children() + 1);
                return;
            }
            self.nodes.insert(NodeView::empty(&key, 1));
            up = p.parent();
        }
    }

    /// The node at `name` was removed: uncount it, removing empty non-terminals left
    /// without children (never the apex).
    fn unlink_parent(&mut self, name: &Fqdn) {
        let mut up = name.parent();
        while let Some(p) = up.filter(|p| p.is_in(&self.origin)) {
            let key = p.to_wire();
            let Some(v) = self.nodes.get_mut(&key) else { return };
            v.set_children(v.children().saturating_sub(1));
            if v.children() > 0 || v.has_sets() || *key == *self.origin_wire {
                return;
            }
            self.nodes.remove(&key);
            up = p.parent();
        }
    }

    /// Whether two views render the same answers (tests compare incremental and full builds).
    pub fn same_content(&self, other: &ZoneView) -> bool {
        self.origin_wire == other.origin_wire
            && self.serial == other.serial
            && self.record_count == other.record_count
            && self.soa == other.soa
            && self.negative_soa == other.negative_soa
            && self.soa_plain == other.soa_plain
            && self.has_cuts == other.has_cuts
            && self.glue == other.glue
            && self.nodes.len() == other.nodes.len()
            && self.nodes.iter().all(|v| other.nodes.get(v.key()) == Some(v))
    }
}
