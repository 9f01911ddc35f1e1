//! The completeness ledger: per stream (one content of one file), the lines and bytes read,
//! delivered (acknowledged by the destination), waiting in the spool, and dropped with the
//! reason. `read = delivered + spooled + dropped + pending`, where pending is what is in
//! flight right now: the ledger is how a user shows nothing was lost. `vigil-agent status`
//! prints `<data_dir>/ledger.json`, written with the checkpoints; the totals are also metrics.
//!
//! After a crash the agent reads again what was not checkpointed, so on load `read` is set
//! back to what was accounted for; lines the destination had taken just before the crash may
//! then be counted delivered twice (they are also sent twice, with the same identity).

use std::{
    collections::{BTreeMap, HashMap},
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard},
    time::{SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use crate::{metrics as m, spool::Held};

pub const FILE_NAME: &str = "ledger.json";
const FORMAT_VERSION: u32 = 1;
/// Entries of streams not touched for this long are forgotten (their counts stay in the totals).
const KEEP_IDLE_MS: u64 = 7 * 24 * 3600 * 1000;
/// At most this many streams are kept, the most recently touched.
const MAX_ENTRIES: usize = 10_000;

/// Lines and the file bytes they span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub lines: u64,
    pub bytes: u64,
}

impl Count {
    pub fn new(lines: u64, bytes: u64) -> Count {
        Count { lines, bytes }
    }

    fn add(&mut self, other: Count) {
        self.lines += other.lines;
        self.bytes += other.bytes;
    }

    fn take(&mut self, other: Count) {
        self.lines = self.lines.saturating_sub(other.lines);
        self.bytes = self.bytes.saturating_sub(other.bytes);
    }
}

/// What happened to the lines of one stream, or of all of them (the totals).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Where the file was last seen (empty in the totals).
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub stream: String,
    pub read: Count,
    pub delivered: Count,
    /// In the spool now.
    pub spooled: Count,
    /// By reason.
    pub dropped: BTreeMap<String, Count>,
    #[serde(default)]
    pub updated_ms: u64,
}

impl Account {
    pub fn dropped_total(&self) -> Count {
        let mut total = Count::default();
        self.dropped.values().for_each(|count| total.add(*count));
        total
    }

    /// Read but not yet delivered, spooled or dropped: in flight.
    pub fn pending(&self) -> Count {
        let mut pending = self.read;
        pending.take(self.delivered);
        pending.take(self.spooled);
        pending.take(self.dropped_total());
        pending
    }

    /// What a crash leaves: everything pending is read again after the restart.
    fn settled(mut self) -> Account {
        self.read = self.delivered;
        self.read.add(self.spooled);
        self.read.add(self.dropped_total());
        self
    }
}

/// `ledger.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerFile {
    pub version: u32,
    pub written_ms: u64,
    pub totals: Account,
    /// What the spool held when this was written.
    pub spool: Held,
    pub files: Vec<Account>,
}

#[derive(Debug, Default)]
struct State {
    accounts: HashMap<String, Account>,
    totals: Account,
    dirty: bool,
}

pub struct Ledger {
    path: PathBuf,
    state: Mutex<State>,
}

impl Ledger {
    /// Loads `<data_dir>/ledger.json` (empty when missing or unreadable: a ledger is a report,
    /// never a reason not to ship).
    pub fn open(data_dir: &Path) -> Ledger {
        let path = data_dir.join(FILE_NAME);
        let state = match read(&path) {
            Ok(Some(file)) => State {
                accounts: file.files.into_iter().map(|a| (a.stream.clone(), a.settled())).collect(),
                totals: file.totals.settled(),
                dirty: false,
            },
            Ok(None) => State::default(),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "the ledger could not be read; counting from zero");
                State::default()
            }
        };
        Ledger { path, state: Mutex::new(state) }
    }

    /// Lines of `stream` (file `path`) were read.
    pub fn read(&self, stream: &str, path: &str, count: Count) {
        // (vigil_agent_lines_read_total counts as the lines are framed.)
        self.update(stream, Some(path), |account| account.read.add(count));
    }

    /// The destination acknowledged lines sent directly.
    pub fn delivered(&self, stream: &str, count: Count) {
        metrics::counter!(m::LINES_ACKNOWLEDGED_TOTAL).increment(count.lines);
        metrics::counter!(m::BYTES_ACKNOWLEDGED_TOTAL).increment(count.bytes);
        self.update(stream, None, |account| account.delivered.add(count));
    }

    /// Lines were written to the spool.
    pub fn spooled(&self, stream: &str, count: Count) {
        metrics::counter!(m::LINES_SPOOLED_TOTAL).increment(count.lines);
        self.update(stream, None, |account| account.spooled.add(count));
    }

    /// The destination acknowledged lines sent from the spool.
    pub fn delivered_from_spool(&self, stream: &str, count: Count) {
        metrics::counter!(m::LINES_ACKNOWLEDGED_TOTAL).increment(count.lines);
        metrics::counter!(m::BYTES_ACKNOWLEDGED_TOTAL).increment(count.bytes);
        self.update(stream, None, |account| {
            account.spooled.take(count);
            account.delivered.add(count);
        });
    }

    /// Lines left the spool undelivered (its file was damaged).
    pub fn lost_from_spool(&self, stream: &str, reason: &str, count: Count) {
        self.dropped_counted(reason, count);
        self.update(stream, None, |account| {
            account.spooled.take(count);
            account.dropped.entry(reason.to_string()).or_default().add(count);
        });
    }

    /// Lines were dropped, for `reason`.
    pub fn dropped(&self, stream: &str, reason: &str, count: Count) {
        self.dropped_counted(reason, count);
        self.update(stream, None, |account| account.dropped.entry(reason.to_string()).or_default().add(count));
    }

    fn dropped_counted(&self, reason: &str, count: Count) {
        metrics::counter!(m::LINES_DROPPED_TOTAL, "reason" => reason.to_string()).increment(count.lines);
    }

    fn update(&self, stream: &str, path: Option<&str>, change: impl Fn(&mut Account)) {
        let now = now_ms();
        let mut state = self.lock();
        let account = state
            .accounts
            .entry(stream.to_string())
            .or_insert_with(|| Account { stream: stream.to_string(), ..Account::default() });
        if let Some(path) = path {
            if account.path != path {
                account.path = path.to_string();
            }
        }
        change(account);
        account.updated_ms = now;
        change(&mut state.totals);
        state.totals.updated_ms = now;
        state.dirty = true;
    }

    /// The ledger as it would be written now.
    pub fn snapshot(&self, spool: Held) -> LedgerFile {
        let state = self.lock();
        let mut files: Vec<Account> = state.accounts.values().cloned().collect();
        files.sort_by(|a, b| (&a.path, &a.stream).cmp(&(&b.path, &b.stream)));
        LedgerFile { version: FORMAT_VERSION, written_ms: now_ms(), totals: state.totals.clone(), spool, files }
    }

    /// Writes `ledger.json` when anything changed (blocking), forgetting long-idle streams.
    pub fn persist(&self, spool: Held) -> std::io::Result<()> {
        {
            let mut state = self.lock();
            if !state.dirty {
                return Ok(());
            }
            state.dirty = false;
            let since = now_ms().saturating_sub(KEEP_IDLE_MS);
            state.accounts.retain(|_, account| account.updated_ms >= since || account.spooled.lines > 0);
            if state.accounts.len() > MAX_ENTRIES {
                let mut ages: Vec<u64> = state.accounts.values().map(|a| a.updated_ms).collect();
                ages.sort_unstable_by(|a, b| b.cmp(a));
                let cutoff = ages[MAX_ENTRIES - 1];
                state.accounts.retain(|_, account| account.updated_ms >= cutoff);
            }
        }
        let file = self.snapshot(spool);
        let written = write(&self.path, &file);
        if written.is_err() {
            self.lock().dirty = true;
        }
        written
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("ledger lock is never poisoned")
    }
}

/// Reads a ledger file; `Ok(None)` when there is none yet.
pub fn read(path: &Path) -> Result<Option<LedgerFile>, String> {
    let contents = match fs::read(path) {
        Ok(contents) => contents,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("{}: {error}", path.display())),
    };
    let file: LedgerFile = serde_json::from_slice(&contents).map_err(|error| format!("{}: {error}", path.display()))?;
    if file.version != FORMAT_VERSION {
        return Err(format!("{}: format version {} is not {FORMAT_VERSION}", path.display(), file.version));
    }
    Ok(Some(file))
}

fn write(path: &Path, file: &LedgerFile) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let mut out = fs::File::create(&tmp)?;
    out.write_all(&serde_json::to_vec_pretty(file).expect("a ledger serialises"))?;
    out.sync_all()?;
    fs::rename(&tmp, path)
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_read_is_delivered_spooled_dropped_or_pending_and_a_reopen_settles_pending() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = Ledger::open(dir.path());
        ledger.read("s1", "/a.log", Count::new(10, 100));
        ledger.delivered("s1", Count::new(4, 40));
        ledger.spooled("s1", Count::new(3, 30));
        ledger.delivered_from_spool("s1", Count::new(1, 10));
        ledger.dropped("s1", "spool_full", Count::new(2, 20));
        let snapshot = ledger.snapshot(Held::default());
        let account = &snapshot.files[0];
        assert_eq!((account.path.as_str(), account.stream.as_str()), ("/a.log", "s1"));
        assert_eq!(account.delivered, Count::new(5, 50));
        assert_eq!(account.spooled, Count::new(2, 20));
        assert_eq!(account.pending(), Count::new(1, 10), "10 read = 5 delivered + 2 spooled + 2 dropped + 1 pending");
        assert_eq!(snapshot.totals.read, Count::new(10, 100));
        ledger.persist(Held::default()).expect("persist");

        let reopened = Ledger::open(dir.path()).snapshot(Held::default());
        let account = &reopened.files[0];
        assert_eq!(account.read, Count::new(9, 90), "the pending line is read again after a restart");
        assert_eq!(account.pending(), Count::default());
        assert_eq!(account.dropped.get("spool_full"), Some(&Count::new(2, 20)));
    }
}
