//! The trace graph, trace order and the originating-failure resolution (spec reads §3.1-§3.2),
//! over any slice of events of one trace ([`TraceNode`]).
//!
//! Invariants:
//! - Identity order is ascending `(ts_start, service, event_id)`, strings byte-wise.
//! - A usable graph is a forest reaching every event: each event with a non-empty
//!   `parent_span_id` has exactly one parent (the owner of that span), no event is its own
//!   ancestor, and there is at least one edge. Anything else is unusable.
//! - The graph is built from every event given (suppressed ones included); only the candidate
//!   set of the resolution drops suppressed events.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::trace_rows::TraceRow;
use crate::model::Event;
use crate::model::status_is_failed;

/// How the chosen event or the order was derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Linkage {
    Causal,
    TimestampFallback,
    /// The story of an event asked for by id.
    Direct,
}

impl Linkage {
    pub fn as_str(self) -> &'static str {
        match self {
            Linkage::Causal => "causal",
            Linkage::TimestampFallback => "timestamp_fallback",
            Linkage::Direct => "direct",
        }
    }
}

/// What the graph and the resolution read of an event.
pub trait TraceNode {
    fn event_id(&self) -> &str;
    fn service(&self) -> &str;
    fn ts_start_ns(&self) -> i64;
    fn status(&self) -> &str;
    fn parent_span_id(&self) -> &str;
    /// The non-empty `steps[].span_id`s.
    fn step_span_ids(&self) -> impl Iterator<Item = &str>;
}

impl TraceNode for Event {
    fn event_id(&self) -> &str {
        &self.event_id
    }
    fn service(&self) -> &str {
        &self.service
    }
    fn ts_start_ns(&self) -> i64 {
        self.ts_start_ns
    }
    fn status(&self) -> &str {
        self.status.as_str()
    }
    fn parent_span_id(&self) -> &str {
        &self.parent_span_id
    }
    fn step_span_ids(&self) -> impl Iterator<Item = &str> {
        self.steps
            .iter()
            .filter_map(|s| s.span_id.as_deref())
            .filter(|s| !s.is_empty())
    }
}

impl TraceNode for TraceRow {
    fn event_id(&self) -> &str {
        &self.event_id
    }
    fn service(&self) -> &str {
        &self.service
    }
    fn ts_start_ns(&self) -> i64 {
        self.ts_start_ns
    }
    fn status(&self) -> &str {
        self.status.as_str()
    }
    fn parent_span_id(&self) -> &str {
        &self.parent_span_id
    }
    fn step_span_ids(&self) -> impl Iterator<Item = &str> {
        self.step_span_ids.iter().map(String::as_str)
    }
}

/// Identity order of two events.
pub fn identity_cmp<N: TraceNode>(a: &N, b: &N) -> Ordering {
    a.ts_start_ns()
        .cmp(&b.ts_start_ns())
        .then_with(|| a.service().cmp(b.service()))
        .then_with(|| a.event_id().cmp(b.event_id()))
}

/// The span graph of one trace (§3.1).
#[derive(Debug, Clone)]
pub struct TraceGraph {
    usable: bool,
    /// Indices in identity order.
    identity: Vec<usize>,
    /// Meaningful only when usable.
    parent: Vec<Option<usize>>,
    /// Children in identity order, all nodes' in one list: node `i`'s are
    /// `children[child_at[i]..child_at[i + 1]]`; empty when not usable.
    children: Vec<usize>,
    child_at: Vec<usize>,
    depth: Vec<usize>,
    /// Does the event's parent span have an owner in the trace (first owner wins)?
    parent_owned: Vec<bool>,
}

impl TraceGraph {
    pub fn build<N: TraceNode>(nodes: &[N]) -> TraceGraph {
        let n = nodes.len();
        let mut identity: Vec<usize> = (0..n).collect();
        identity.sort_by(|a, b| identity_cmp(&nodes[*a], &nodes[*b]));

        let mut usable = true;
        // The owner of each span: the first event (in input order) with it among its steps;
        // a span in the steps of two events makes the graph unusable. A sorted list (traces
        // are small: no hashing, one allocation).
        let mut spans: Vec<(&str, usize)> = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            spans.extend(node.step_span_ids().map(|s| (s, i)));
        }
        spans.sort_unstable();
        let mut owners: Vec<(&str, usize)> = Vec::with_capacity(spans.len());
        for (span, i) in spans {
            match owners.last() {
                Some(&(last, j)) if last == span => usable &= j == i,
                _ => owners.push((span, i)),
            }
        }
        let owner_of = |span: &str| {
            owners
                .binary_search_by(|(s, _)| (*s).cmp(span))
                .ok()
                .map(|k| owners[k].1)
        };

        let mut parent = vec![None; n];
        let mut parent_owned = vec![false; n];
        let mut edges = 0usize;
        for (i, node) in nodes.iter().enumerate() {
            let p = node.parent_span_id();
            if p.is_empty() {
                continue;
            }
            match owner_of(p) {
                Some(owner) => {
                    parent_owned[i] = true;
                    if owner == i {
                        usable = false;
                    } else {
                        parent[i] = Some(owner);
                        edges += 1;
                    }
                }
                None => usable = false,
            }
        }
        if edges == 0 {
            usable = false;
        }

        // Depths by walking parent chains; a chain longer than n is a cycle.
        let mut depth = vec![0usize; n];
        if usable {
            const UNKNOWN: usize = usize::MAX;
            depth.fill(UNKNOWN);
            let mut chain = Vec::new();
            'nodes: for start in 0..n {
                chain.clear();
                let mut cur = start;
                while depth[cur] == UNKNOWN {
                    chain.push(cur);
                    if chain.len() > n {
                        usable = false;
                        break 'nodes;
                    }
                    match parent[cur] {
                        Some(p) => cur = p,
                        None => {
                            depth[cur] = 0;
                            chain.pop();
                            break;
                        }
                    }
                }
                let mut d = depth[cur];
                while let Some(c) = chain.pop() {
                    d += 1;
                    depth[c] = d;
                }
            }
        }

        // Children counted per parent, then placed in identity order.
        let (mut children, mut child_at) = (Vec::new(), vec![0usize; n + 1]);
        if usable {
            for p in parent.iter().flatten() {
                child_at[p + 1] += 1;
            }
            for k in 0..n {
                child_at[k + 1] += child_at[k];
            }
            children = vec![0usize; child_at[n]];
            let mut next = child_at.clone();
            for &i in &identity {
                if let Some(p) = parent[i] {
                    children[next[p]] = i;
                    next[p] += 1;
                }
            }
        } else {
            depth.fill(0);
        }
        TraceGraph {
            usable,
            identity,
            parent,
            children,
            child_at,
            depth,
            parent_owned,
        }
    }

    pub fn usable(&self) -> bool {
        self.usable
    }

    /// The parent of node `i` (always `None` when the graph is not usable).
    pub fn parent(&self, i: usize) -> Option<usize> {
        self.parent
            .get(i)
            .copied()
            .flatten()
            .filter(|_| self.usable)
    }

    /// The children of node `i` in identity order (empty when the graph is not usable).
    pub fn children(&self, i: usize) -> &[usize] {
        let span = self.child_at.get(i).zip(self.child_at.get(i + 1));
        match span.and_then(|(a, b)| self.children.get(*a..*b)) {
            Some(c) if self.usable => c,
            _ => &[],
        }
    }

    /// Node indices in identity order.
    pub fn identity(&self) -> &[usize] {
        &self.identity
    }

    pub fn linkage(&self) -> Linkage {
        if self.usable {
            Linkage::Causal
        } else {
            Linkage::TimestampFallback
        }
    }

    /// Trace order: depth-first pre-order from the roots when usable, else identity order.
    pub fn order(&self) -> Vec<usize> {
        if !self.usable {
            return self.identity.clone();
        }
        let mut out = Vec::with_capacity(self.identity.len());
        let mut stack: Vec<usize> = self
            .identity
            .iter()
            .rev()
            .copied()
            .filter(|i| self.parent[*i].is_none())
            .collect();
        while let Some(i) = stack.pop() {
            out.push(i);
            stack.extend(self.children(i).iter().rev());
        }
        out
    }

    fn linked(&self, i: usize) -> bool {
        self.usable && (self.parent[i].is_some() || !self.children(i).is_empty())
    }
}

/// Trace order of `nodes` and its linkage.
pub fn trace_order<N: TraceNode>(nodes: &[N]) -> (Vec<usize>, Linkage) {
    let graph = TraceGraph::build(nodes);
    (graph.order(), graph.linkage())
}

/// `resolve(events, exclude_suppressed)` of §3.2: the index of the chosen event and its
/// linkage, or `None` when no candidate remains.
pub fn resolve_origin<N: TraceNode>(
    nodes: &[N],
    exclude_suppressed: bool,
) -> Option<(usize, Linkage)> {
    let graph = TraceGraph::build(nodes);
    resolve_with(nodes, &graph, exclude_suppressed)
}

/// [`resolve_origin`] over an already built graph.
pub fn resolve_with<N: TraceNode>(
    nodes: &[N],
    graph: &TraceGraph,
    exclude_suppressed: bool,
) -> Option<(usize, Linkage)> {
    // Candidates and failures, both in identity order.
    let candidates: Vec<usize> = graph
        .identity
        .iter()
        .copied()
        .filter(|i| !(exclude_suppressed && nodes[*i].status() == "suppressed"))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let failed: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|i| status_is_failed(nodes[*i].status()))
        .collect();

    if !failed.is_empty() && failed.iter().any(|i| graph.linked(*i)) {
        // failed_below[i]: some descendant of i (through any event) has a failed status.
        let order = graph.order();
        let mut failed_below = vec![false; nodes.len()];
        for &i in order.iter().rev() {
            failed_below[i] = graph
                .children(i)
                .iter()
                .any(|c| failed_below[*c] || status_is_failed(nodes[*c].status()));
        }
        // `failed` is in identity order, so the first of the deepest wins ties.
        let mut best: Option<usize> = None;
        for &i in failed.iter().filter(|i| !failed_below[**i]) {
            if best.is_none_or(|b| graph.depth[i] > graph.depth[b]) {
                best = Some(i);
            }
        }
        return best.map(|i| (i, Linkage::Causal));
    }
    if let Some(&first) = failed.first() {
        return Some((first, Linkage::TimestampFallback));
    }
    let roots = candidates
        .iter()
        .copied()
        .find(|i| nodes[*i].parent_span_id().is_empty());
    let unowned = || candidates.iter().copied().find(|i| !graph.parent_owned[*i]);
    let chosen = roots.or_else(unowned).unwrap_or(candidates[0]);
    Some((chosen, graph.linkage()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone)]
    struct N {
        id: &'static str,
        service: &'static str,
        ts: i64,
        status: &'static str,
        parent: &'static str,
        spans: Vec<&'static str>,
    }

    impl TraceNode for N {
        fn event_id(&self) -> &str {
            self.id
        }
        fn service(&self) -> &str {
            self.service
        }
        fn ts_start_ns(&self) -> i64 {
            self.ts
        }
        fn status(&self) -> &str {
            self.status
        }
        fn parent_span_id(&self) -> &str {
            self.parent
        }
        fn step_span_ids(&self) -> impl Iterator<Item = &str> {
            self.spans.iter().copied()
        }
    }

    fn n(
        id: &'static str,
        service: &'static str,
        ts: i64,
        status: &'static str,
        parent: &'static str,
        spans: &[&'static str],
    ) -> N {
        N {
            id,
            service,
            ts,
            status,
            parent,
            spans: spans.to_vec(),
        }
    }

    /// §3.5: g → c → p, every hop failed.
    fn cascade() -> Vec<N> {
        vec![
            n("p", "payment", 3, "error", "b2", &["c3"]),
            n("g", "api-gateway", 1, "error", "", &["a1"]),
            n("c", "checkout", 2, "error", "a1", &["b2"]),
        ]
    }

    fn pick(nodes: &[N], exclude: bool) -> Option<(&'static str, Linkage)> {
        resolve_origin(nodes, exclude).map(|(i, l)| (nodes[i].id, l))
    }

    fn order_ids(nodes: &[N]) -> (Vec<&'static str>, Linkage) {
        let (o, l) = trace_order(nodes);
        (o.into_iter().map(|i| nodes[i].id).collect(), l)
    }

    #[test]
    fn resolve_picks_deepest_failure_in_worked_example() {
        let t = cascade();
        assert_eq!(pick(&t, true), Some(("p", Linkage::Causal)));
        let g = TraceGraph::build(&t);
        assert!(g.usable());
        assert_eq!(g.depth, vec![2, 0, 1]);
        assert_eq!(order_ids(&t), (vec!["g", "c", "p"], Linkage::Causal));
    }

    #[test]
    fn resolve_falls_back_to_earliest_failure_when_parent_is_dangling() {
        let mut t = cascade();
        t[0].parent = "ffffffffffffffff";
        assert_eq!(pick(&t, true), Some(("g", Linkage::TimestampFallback)));
        assert_eq!(
            order_ids(&t),
            (vec!["g", "c", "p"], Linkage::TimestampFallback)
        );
    }

    #[test]
    fn resolve_keeps_failures_separated_by_a_healthy_hop() {
        // g (error) → c (ok) → p (error): p is the deepest failure without failed descendants;
        // g has a failed descendant through the healthy c.
        let mut t = cascade();
        t[2].status = "ok";
        assert_eq!(pick(&t, true), Some(("p", Linkage::Causal)));
        // Only the root failed: it has no failed descendant.
        t[0].status = "ok";
        assert_eq!(pick(&t, true), Some(("g", Linkage::Causal)));
    }

    #[test]
    fn resolve_follows_descendants_through_suppressed_events() {
        // g (error) → c (suppressed) → p (timeout).
        let mut t = cascade();
        t[2].status = "suppressed";
        t[0].status = "timeout";
        assert_eq!(pick(&t, true), Some(("p", Linkage::Causal)));
        // Only suppressed events: nothing when excluded, the root otherwise.
        let all_suppressed: Vec<N> = cascade()
            .into_iter()
            .map(|mut e| {
                e.status = "suppressed";
                e
            })
            .collect();
        assert_eq!(pick(&all_suppressed, true), None);
        assert_eq!(pick(&all_suppressed, false), Some(("g", Linkage::Causal)));
    }

    #[test]
    fn resolve_breaks_depth_ties_by_identity_order() {
        // Root r with two failed leaves at depth 1; the earlier one (ts, then service) wins.
        let t = vec![
            n("r", "root", 1, "ok", "", &["s1", "s2"]),
            n("x", "zeta", 5, "error", "s1", &[]),
            n("y", "alpha", 5, "error", "s2", &[]),
        ];
        assert_eq!(pick(&t, true), Some(("y", Linkage::Causal)));
        assert_eq!(order_ids(&t).0, vec!["r", "y", "x"]);
    }

    #[test]
    fn resolve_uses_timestamp_fallback_when_every_failure_is_isolated() {
        // Two roots, no edges at all → unusable.
        let t = vec![
            n("a", "s", 2, "error", "", &[]),
            n("b", "s", 1, "aborted", "", &[]),
        ];
        assert_eq!(pick(&t, true), Some(("b", Linkage::TimestampFallback)));
    }

    #[test]
    fn resolve_without_failures_picks_a_root() {
        let mut t = cascade();
        for e in &mut t {
            e.status = "ok";
        }
        assert_eq!(pick(&t, true), Some(("g", Linkage::Causal)));
        // No root: the event whose parent span has no owner, then everything.
        let t = vec![
            n("a", "s", 1, "ok", "aaaaaaaaaaaaaaaa", &["x1"]),
            n("b", "s", 2, "ok", "ffffffffffffffff", &[]),
            n("c", "s", 0, "ok", "x1", &[]),
        ];
        assert_eq!(pick(&t, true), Some(("a", Linkage::TimestampFallback)));
    }

    #[test]
    fn graph_is_unusable_on_shared_span_self_parent_or_cycle() {
        let shared = vec![
            n("a", "s", 1, "error", "", &["x1"]),
            n("b", "s", 2, "error", "x1", &["x1"]),
        ];
        assert!(!TraceGraph::build(&shared).usable());
        let self_parent = vec![
            n("a", "s", 1, "error", "", &["x1"]),
            n("b", "s", 2, "error", "x2", &["x2"]),
        ];
        assert!(!TraceGraph::build(&self_parent).usable());
        let cycle = vec![
            n("r", "s", 0, "ok", "", &[]),
            n("a", "s", 1, "error", "x2", &["x1"]),
            n("b", "s", 2, "error", "x1", &["x2"]),
        ];
        assert!(!TraceGraph::build(&cycle).usable());
        assert_eq!(pick(&cycle, true), Some(("a", Linkage::TimestampFallback)));
        // The same span twice in one event is fine.
        let twice = vec![
            n("a", "s", 1, "error", "", &["x1", "x1"]),
            n("b", "s", 2, "error", "x1", &[]),
        ];
        assert!(TraceGraph::build(&twice).usable());
    }

    #[test]
    fn resolve_of_nothing_is_none() {
        assert_eq!(pick(&[], false), None);
    }

    #[test]
    fn trace_order_is_preorder_with_children_in_identity_order() {
        let t = vec![
            n("c2", "b", 5, "ok", "r1", &[]),
            n("r", "a", 0, "ok", "", &["r1", "r2"]),
            n("c1", "b", 3, "ok", "r2", &["c1s"]),
            n("g", "c", 4, "ok", "c1s", &[]),
            n("r0", "z", 9, "ok", "", &[]),
        ];
        assert_eq!(
            order_ids(&t),
            (vec!["r", "c1", "g", "c2", "r0"], Linkage::Causal)
        );
    }
}
