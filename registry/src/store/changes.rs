//! The recent changes of a node, kept in memory: what blocking queries and watch streams
//! read. Not replicated: it is rebuilt from the commands a node applies, and starts empty (with
//! `compacted_at` = the current revision) after a restart or a snapshot install, so a watcher
//! that asks for older changes is told to list again.

use std::collections::VecDeque;

use vigil_model::{
    policy::DocumentKind,
    registry::{Change, WatchEvent},
};

/// Changes kept; older ones are compacted away.
const CAPACITY: usize = 20_000;

/// What a blocking query or a watch looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchTarget {
    /// The instances of one service.
    Service {
        namespace: String,
        service: String,
    },
    /// Every instance of a namespace (the service list).
    Namespace {
        namespace: String,
    },
    Key(String),
    Prefix(String),
    /// The documents of one kind in a namespace.
    Documents {
        kind: DocumentKind,
        namespace: String,
    },
}

impl WatchTarget {
    pub fn matches(&self, change: &Change) -> bool {
        if let WatchTarget::Documents { kind, namespace } = self {
            return match change {
                Change::Document { document } => document.document.kind() == *kind && document.namespace == *namespace,
                Change::DocumentRemoved { kind: k, namespace: n, .. } => k == kind && n == namespace,
                _ => false,
            };
        }
        let (namespace, service, key) = match change {
            Change::Instance { instance } => (Some(&instance.namespace), Some(&instance.service), None),
            Change::InstanceRemoved { namespace, service, .. } => (Some(namespace), Some(service), None),
            Change::Service { settings } => (Some(&settings.namespace), Some(&settings.service), None),
            Change::Kv { entry } => (None, None, Some(&entry.key)),
            Change::KvRemoved { key } => (None, None, Some(key)),
            Change::Document { .. }
            | Change::DocumentRemoved { .. }
            | Change::Token { .. }
            | Change::TokenRemoved { .. }
            | Change::Session { .. }
            | Change::SessionRemoved { .. } => (None, None, None),
        };
        match self {
            WatchTarget::Service { namespace: n, service: s } => namespace == Some(n) && service == Some(s),
            WatchTarget::Namespace { namespace: n } => namespace == Some(n),
            WatchTarget::Key(k) => key == Some(k),
            WatchTarget::Prefix(p) => key.is_some_and(|key| key.starts_with(p.as_str())),
            WatchTarget::Documents { .. } => false,
        }
    }
}

/// Changes after `compacted_at`, oldest first.
#[derive(Debug, Default)]
pub struct ChangeLog {
    compacted_at: u64,
    events: VecDeque<WatchEvent>,
}

/// The changes asked for are older than what is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    pub compacted_at: u64,
}

impl ChangeLog {
    /// An empty log: nothing is known about changes up to `revision`.
    pub fn starting_at(revision: u64) -> ChangeLog {
        ChangeLog { compacted_at: revision, events: VecDeque::new() }
    }

    pub fn record(&mut self, event: WatchEvent) {
        if self.events.len() >= CAPACITY {
            if let Some(oldest) = self.events.pop_front() {
                self.compacted_at = oldest.revision;
            }
        }
        self.events.push_back(event);
    }

    /// The index of `target`: the revision of its last change, or, when that is no longer
    /// kept, the compaction point (a safe upper bound: any later change is kept).
    pub fn index_of(&self, target: &WatchTarget) -> u64 {
        self.events.iter().rev().find(|event| target.matches(&event.change)).map_or(self.compacted_at, |e| e.revision)
    }

    /// The changes to `target` after `revision`.
    pub fn since(&self, revision: u64, target: Option<&WatchTarget>) -> Result<Vec<WatchEvent>, Compacted> {
        if revision < self.compacted_at {
            return Err(Compacted { compacted_at: self.compacted_at });
        }
        let start = self.events.partition_point(|event| event.revision <= revision);
        Ok(self
            .events
            .range(start..)
            .filter(|event| target.is_none_or(|target| target.matches(&event.change)))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(revision: u64, key: &str) -> WatchEvent {
        WatchEvent { revision, change: Change::KvRemoved { key: key.into() } }
    }

    #[test]
    fn index_and_since_follow_the_target_and_report_compaction() {
        let mut log = ChangeLog::starting_at(10);
        log.record(kv(11, "app/a"));
        log.record(kv(12, "other"));
        let app = WatchTarget::Prefix("app/".into());
        assert_eq!(log.index_of(&app), 11);
        assert_eq!(log.index_of(&WatchTarget::Key("none".into())), 10, "never changed here: the compaction point");
        assert_eq!(log.since(11, Some(&app)).map(|e| e.len()), Ok(0), "a change elsewhere is no change to app/");
        assert_eq!(log.since(10, None).map(|e| e.len()), Ok(2));
        assert_eq!(log.since(9, None), Err(Compacted { compacted_at: 10 }));
    }
}
