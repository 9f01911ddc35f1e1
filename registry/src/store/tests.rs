//! openraft's storage conformance suite, run on the durable log and the state machine.

use openraft::{testing::StoreBuilder, StorageError};

use super::{LogStore, StateMachineStore};
use crate::TypeConfig;

struct DiskStoreBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for DiskStoreBuilder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = LogStore::open(&dir.path().join("log")).expect("open log");
        let state_machine = StateMachineStore::open(&dir.path().join("sm")).expect("open state machine");
        Ok((dir, log, state_machine))
    }
}

#[test]
fn passes_openraft_storage_suite() {
    openraft::testing::Suite::test_all(DiskStoreBuilder).expect("storage suite");
}
