//! The registry's replicated state and how a command changes it. Pure and deterministic:
//! every replica applying the same commands in the same order holds the same state.

use std::collections::BTreeMap;

use vigil_model::{
    policy::DocumentKind,
    registry::{
        Change, Command, CommandOutcome, Health, Instance, KvEntry, RegistryRequest, RegistrySnapshot, ServiceSettings,
        Session, StoredDocument, StoredToken, WatchEvent, REGISTRY_SCHEMA_VERSION,
    },
};

/// (namespace, service, instance id)
pub type InstanceKey = (String, String, String);

#[derive(Debug, Default, Clone, PartialEq)]
pub struct RegistryState {
    /// Bumped by every change; 0 before the first.
    pub revision: u64,
    pub instances: BTreeMap<InstanceKey, Instance>,
    pub kv: BTreeMap<String, KvEntry>,
    /// Service settings, by (namespace, service).
    pub services: BTreeMap<(String, String), ServiceSettings>,
    pub documents: BTreeMap<DocumentKey, StoredDocument>,
    /// API tokens by id.
    pub tokens: BTreeMap<String, StoredToken>,
    pub sessions: BTreeMap<String, Session>,
}

/// (kind, namespace, name)
pub type DocumentKey = (DocumentKind, String, String);

impl RegistryState {
    /// Applies `request`, and adds the changes it made to `events`.
    pub fn apply(&mut self, request: &RegistryRequest, events: &mut Vec<WatchEvent>) -> CommandOutcome {
        self.apply_command(&request.command, request.at_ms, events)
    }

    fn apply_command(&mut self, command: &Command, at_ms: i64, events: &mut Vec<WatchEvent>) -> CommandOutcome {
        if let Command::Batch { commands } = command {
            let outcomes = commands.iter().map(|command| self.apply_command(command, at_ms, events)).collect();
            return CommandOutcome::Batch { outcomes };
        }
        if let Command::DestroySession { id } = command {
            if !self.sessions.contains_key(id) {
                return CommandOutcome::NotFound;
            }
            // Keys bound to the session go first, each a change of its own.
            let bound: Vec<String> = self
                .kv
                .values()
                .filter(|entry| entry.session.as_deref() == Some(id))
                .map(|entry| entry.key.clone())
                .collect();
            for key in bound {
                self.apply_one(&Command::KvDelete { key, cas: None }, at_ms, events);
            }
            return self.apply_one(command, at_ms, events);
        }
        if let Command::PutDocuments { namespace, documents } = command {
            let mut outcome = CommandOutcome::Unchanged { revision: self.revision };
            for (name, document) in documents {
                let command = Command::PutDocument {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    document: document.clone(),
                    cas: None,
                };
                outcome = self.apply_one(&command, at_ms, events);
            }
            return outcome;
        }
        self.apply_one(command, at_ms, events)
    }

    fn apply_one(&mut self, command: &Command, at_ms: i64, events: &mut Vec<WatchEvent>) -> CommandOutcome {
        let outcome = self.change(command, at_ms);
        if let CommandOutcome::Applied { revision } = outcome {
            if let Some(change) = self.change_of(command) {
                events.push(WatchEvent { revision, change });
            }
        }
        outcome
    }

    fn change(&mut self, command: &Command, at_ms: i64) -> CommandOutcome {
        match command {
            Command::PutService { namespace, service, spec } => {
                let revision = self.revision + 1;
                let settings = ServiceSettings {
                    namespace: namespace.clone(),
                    service: service.clone(),
                    spec: spec.clone(),
                    mod_revision: revision,
                };
                self.services.insert((namespace.clone(), service.clone()), settings);
                self.bump()
            }
            Command::Register { namespace, service, id, spec } => {
                let key = (namespace.clone(), service.clone(), id.clone());
                let revision = self.revision + 1;
                let create_revision = self.instances.get(&key).map_or(revision, |old| old.create_revision);
                let instance = Instance {
                    namespace: namespace.clone(),
                    service: service.clone(),
                    id: id.clone(),
                    spec: spec.clone(),
                    // A (re-)registration is the instance saying it is alive.
                    health: Health::Passing,
                    health_reason: None,
                    create_revision,
                    mod_revision: revision,
                    critical_since_ms: None,
                };
                self.instances.insert(key, instance);
                self.bump()
            }
            Command::Deregister { namespace, service, id } => {
                let key = (namespace.clone(), service.clone(), id.clone());
                match self.instances.remove(&key) {
                    Some(_) => self.bump(),
                    None => CommandOutcome::NotFound,
                }
            }
            Command::SetHealth { namespace, service, id, health, reason } => {
                let key = (namespace.clone(), service.clone(), id.clone());
                let revision = self.revision + 1;
                let Some(instance) = self.instances.get_mut(&key) else { return CommandOutcome::NotFound };
                if instance.health == *health && instance.health_reason == *reason {
                    return CommandOutcome::Unchanged { revision: self.revision };
                }
                if instance.health != *health {
                    instance.critical_since_ms = (*health == Health::Critical).then_some(at_ms);
                }
                instance.health = *health;
                instance.health_reason = reason.clone();
                instance.mod_revision = revision;
                self.bump()
            }
            Command::KvPut { key, value, cas, session } => {
                let current = self.kv.get(key).map_or(0, |entry| entry.mod_revision);
                if let Some(expected) = cas {
                    if *expected != current {
                        return CommandOutcome::CasFailed { current };
                    }
                }
                if session.as_ref().is_some_and(|id| !self.sessions.contains_key(id)) {
                    return CommandOutcome::NotFound;
                }
                let revision = self.revision + 1;
                let (create_revision, version) =
                    self.kv.get(key).map_or((revision, 1), |old| (old.create_revision, old.version + 1));
                let entry = KvEntry {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision,
                    mod_revision: revision,
                    version,
                    session: session.clone(),
                };
                self.kv.insert(key.clone(), entry);
                self.bump()
            }
            Command::CreateSession { id, ttl, name } => {
                let revision = self.revision + 1;
                let session = Session { id: id.clone(), ttl: *ttl, name: name.clone(), create_revision: revision };
                self.sessions.insert(id.clone(), session);
                self.bump()
            }
            Command::DestroySession { id } => match self.sessions.remove(id) {
                Some(_) => self.bump(),
                None => CommandOutcome::NotFound,
            },
            Command::PutDocument { namespace, name, document, cas } => {
                let key = (document.kind(), namespace.clone(), name.clone());
                let current = self.documents.get(&key).map_or(0, |stored| stored.mod_revision);
                if cas.is_some_and(|expected| expected != current) {
                    return CommandOutcome::CasFailed { current };
                }
                let revision = self.revision + 1;
                let (create_revision, version) =
                    self.documents.get(&key).map_or((revision, 1), |old| (old.create_revision, old.version + 1));
                let stored = StoredDocument {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    document: document.clone(),
                    create_revision,
                    mod_revision: revision,
                    version,
                };
                self.documents.insert(key, stored);
                self.bump()
            }
            Command::PutDocuments { .. } | Command::Batch { .. } => {
                unreachable!("apply_command splits PutDocuments and Batch")
            }
            Command::DeleteDocument { namespace, kind, name, cas } => {
                let key = (*kind, namespace.clone(), name.clone());
                let current = self.documents.get(&key).map_or(0, |stored| stored.mod_revision);
                if cas.is_some_and(|expected| expected != current) {
                    return CommandOutcome::CasFailed { current };
                }
                match self.documents.remove(&key) {
                    Some(_) => self.bump(),
                    None => CommandOutcome::NotFound,
                }
            }
            Command::PutToken { id, secret_sha256, scopes } => {
                let revision = self.revision + 1;
                let create_revision = self.tokens.get(id).map_or(revision, |old| old.create_revision);
                let token = StoredToken {
                    id: id.clone(),
                    secret_sha256: secret_sha256.clone(),
                    scopes: scopes.clone(),
                    create_revision,
                };
                self.tokens.insert(id.clone(), token);
                self.bump()
            }
            Command::DeleteToken { id } => match self.tokens.remove(id) {
                Some(_) => self.bump(),
                None => CommandOutcome::NotFound,
            },
            Command::KvDelete { key, cas } => {
                let current = self.kv.get(key).map_or(0, |entry| entry.mod_revision);
                if let Some(expected) = cas {
                    if *expected != current {
                        return CommandOutcome::CasFailed { current };
                    }
                }
                match self.kv.remove(key) {
                    Some(_) => self.bump(),
                    None => CommandOutcome::NotFound,
                }
            }
        }
    }

    /// The change `command` made, read after applying it.
    fn change_of(&self, command: &Command) -> Option<Change> {
        match command {
            Command::PutService { namespace, service, .. } => {
                let settings = self.services.get(&(namespace.clone(), service.clone()))?;
                Some(Change::Service { settings: settings.clone() })
            }
            Command::Register { namespace, service, id, .. } | Command::SetHealth { namespace, service, id, .. } => {
                let instance = self.instances.get(&(namespace.clone(), service.clone(), id.clone()))?;
                Some(Change::Instance { instance: instance.clone() })
            }
            Command::Deregister { namespace, service, id } => {
                Some(Change::InstanceRemoved { namespace: namespace.clone(), service: service.clone(), id: id.clone() })
            }
            Command::KvPut { key, .. } => Some(Change::Kv { entry: self.kv.get(key)?.clone() }),
            Command::KvDelete { key, .. } => Some(Change::KvRemoved { key: key.clone() }),
            Command::PutDocument { namespace, name, document, .. } => {
                let stored = self.documents.get(&(document.kind(), namespace.clone(), name.clone()))?;
                Some(Change::Document { document: stored.clone() })
            }
            Command::DeleteDocument { namespace, kind, name, .. } => {
                Some(Change::DocumentRemoved { namespace: namespace.clone(), kind: *kind, name: name.clone() })
            }
            Command::PutDocuments { .. } | Command::Batch { .. } => None, // split by `apply_command`
            Command::PutToken { id, scopes, .. } => Some(Change::Token { id: id.clone(), scopes: scopes.clone() }),
            Command::DeleteToken { id } => Some(Change::TokenRemoved { id: id.clone() }),
            Command::CreateSession { id, .. } => Some(Change::Session { session: self.sessions.get(id)?.clone() }),
            Command::DestroySession { id } => Some(Change::SessionRemoved { id: id.clone() }),
        }
    }

    fn bump(&mut self) -> CommandOutcome {
        self.revision += 1;
        CommandOutcome::Applied { revision: self.revision }
    }

    pub fn to_snapshot(&self) -> RegistrySnapshot {
        RegistrySnapshot {
            version: REGISTRY_SCHEMA_VERSION,
            revision: self.revision,
            instances: self.instances.values().cloned().collect(),
            kv: self.kv.values().cloned().collect(),
            services: self.services.values().cloned().collect(),
            documents: self.documents.values().cloned().collect(),
            tokens: self.tokens.values().cloned().collect(),
            sessions: self.sessions.values().cloned().collect(),
        }
    }

    pub fn from_snapshot(snapshot: RegistrySnapshot) -> RegistryState {
        RegistryState {
            revision: snapshot.revision,
            instances: snapshot
                .instances
                .into_iter()
                .map(|i| ((i.namespace.clone(), i.service.clone(), i.id.clone()), i))
                .collect(),
            kv: snapshot.kv.into_iter().map(|e| (e.key.clone(), e)).collect(),
            services: snapshot.services.into_iter().map(|s| ((s.namespace.clone(), s.service.clone()), s)).collect(),
            documents: snapshot
                .documents
                .into_iter()
                .map(|d| ((d.document.kind(), d.namespace.clone(), d.name.clone()), d))
                .collect(),
            tokens: snapshot.tokens.into_iter().map(|t| (t.id.clone(), t)).collect(),
            sessions: snapshot.sessions.into_iter().map(|s| (s.id.clone(), s)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use vigil_model::registry::InstanceSpec;

    use super::*;

    fn apply(state: &mut RegistryState, request: &RegistryRequest) -> CommandOutcome {
        state.apply(request, &mut Vec::new())
    }

    fn request(command: Command) -> RegistryRequest {
        RegistryRequest { version: REGISTRY_SCHEMA_VERSION, at_ms: 1_000, command }
    }

    fn put(key: &str, value: &str, cas: Option<u64>) -> RegistryRequest {
        request(Command::KvPut { key: key.into(), value: value.into(), cas, session: None })
    }

    #[test]
    fn kv_revisions_and_compare_and_set() {
        let mut state = RegistryState::default();
        assert_eq!(apply(&mut state, &put("a", "1", Some(0))), CommandOutcome::Applied { revision: 1 });
        assert_eq!(apply(&mut state, &put("a", "2", Some(0))), CommandOutcome::CasFailed { current: 1 });
        assert_eq!(apply(&mut state, &put("b", "x", None)), CommandOutcome::Applied { revision: 2 });
        assert_eq!(apply(&mut state, &put("a", "3", Some(1))), CommandOutcome::Applied { revision: 3 });
        let a = &state.kv["a"];
        assert_eq!((a.value.as_str(), a.create_revision, a.mod_revision, a.version), ("3", 1, 3, 2));
        let delete = |cas| request(Command::KvDelete { key: "a".into(), cas });
        assert_eq!(apply(&mut state, &delete(Some(1))), CommandOutcome::CasFailed { current: 3 });
        assert_eq!(apply(&mut state, &delete(Some(3))), CommandOutcome::Applied { revision: 4 });
        assert_eq!(apply(&mut state, &delete(None)), CommandOutcome::NotFound);
        assert_eq!(state.revision, 4, "a failed or empty command does not bump the revision");
    }

    #[test]
    fn a_batch_applies_each_command_on_its_own() {
        let mut state = RegistryState::default();
        let batch = request(Command::Batch {
            commands: vec![
                Command::KvPut { key: "a".into(), value: "1".into(), cas: Some(0), session: None },
                Command::KvPut { key: "a".into(), value: "2".into(), cas: Some(0), session: None },
                Command::KvPut { key: "b".into(), value: "3".into(), cas: None, session: None },
            ],
        });
        let mut events = Vec::new();
        let outcome = state.apply(&batch, &mut events);
        let expected = vec![
            CommandOutcome::Applied { revision: 1 },
            CommandOutcome::CasFailed { current: 1 },
            CommandOutcome::Applied { revision: 2 },
        ];
        assert_eq!(outcome, CommandOutcome::Batch { outcomes: expected }, "a failed CAS does not stop the others");
        assert_eq!(events.iter().map(|e| e.revision).collect::<Vec<_>>(), vec![1, 2], "one event per applied change");
    }

    #[test]
    fn ending_a_session_deletes_its_keys_one_revision_each() {
        let mut state = RegistryState::default();
        let ttl = std::time::Duration::from_secs(5);
        apply(&mut state, &request(Command::CreateSession { id: "s".into(), ttl, name: None }));
        let bound = |key: &str| {
            request(Command::KvPut { key: key.into(), value: "v".into(), cas: None, session: Some("s".into()) })
        };
        apply(&mut state, &bound("lock/a"));
        apply(&mut state, &bound("lock/b"));
        apply(&mut state, &put("free", "v", None));
        let unknown =
            request(Command::KvPut { key: "x".into(), value: "v".into(), cas: None, session: Some("nope".into()) });
        assert_eq!(apply(&mut state, &unknown), CommandOutcome::NotFound, "binding to a missing session is refused");
        let mut events = Vec::new();
        let outcome = state.apply(&request(Command::DestroySession { id: "s".into() }), &mut events);
        assert_eq!(outcome, CommandOutcome::Applied { revision: 7 });
        assert_eq!(events.iter().map(|e| e.revision).collect::<Vec<_>>(), vec![5, 6, 7]);
        assert_eq!(state.kv.keys().collect::<Vec<_>>(), vec!["free"]);
        assert!(state.sessions.is_empty());
    }

    #[test]
    fn health_changes_and_snapshot_round_trip() {
        let mut state = RegistryState::default();
        let spec: InstanceSpec = serde_json::from_str(r#"{"address":"10.0.0.1","port":80,"ttl":"10s"}"#).unwrap();
        let key = || ("default".to_string(), "api".to_string(), "i1".to_string());
        let register = request(Command::Register { namespace: key().0, service: key().1, id: key().2, spec });
        assert_eq!(apply(&mut state, &register), CommandOutcome::Applied { revision: 1 });
        let critical = request(Command::SetHealth {
            namespace: key().0,
            service: key().1,
            id: key().2,
            health: Health::Critical,
            reason: Some("lease expired".into()),
        });
        assert_eq!(apply(&mut state, &critical), CommandOutcome::Applied { revision: 2 });
        assert_eq!(apply(&mut state, &critical), CommandOutcome::Unchanged { revision: 2 });
        let instance = &state.instances[&key()];
        assert_eq!(
            (instance.health, instance.critical_since_ms, instance.create_revision),
            (Health::Critical, Some(1_000), 1)
        );
        // Registering again is the instance coming back: passing, same create revision.
        assert_eq!(apply(&mut state, &register), CommandOutcome::Applied { revision: 3 });
        assert_eq!(state.instances[&key()].health, Health::Passing);
        assert_eq!(RegistryState::from_snapshot(state.to_snapshot()), state);
    }
}
