//! Metric names of the agent, defined once. Labels stay bounded: never a file path.

/// Lines framed from files (complete lines, including truncated ones; each piece of a line
/// shipped in pieces counts once). Before multiline: an event of five lines counts five.
pub const LINES_READ_TOTAL: &str = "vigil_agent_lines_read_total";
/// Bytes read from files.
pub const BYTES_READ_TOTAL: &str = "vigil_agent_bytes_read_total";
/// Lines whose batch the server or broker acknowledged.
pub const LINES_ACKNOWLEDGED_TOTAL: &str = "vigil_agent_lines_acknowledged_total";
/// Batches acknowledged (label `output`: `http` or `kafka`).
pub const BATCHES_SENT_TOTAL: &str = "vigil_agent_batches_sent_total";
/// Failed delivery attempts (labels `output`, and `kind`: `retryable` or `rejected`).
pub const SEND_ERRORS_TOTAL: &str = "vigil_agent_send_errors_total";
/// Lines cut at `max_line_bytes`.
pub const LINES_TRUNCATED_TOTAL: &str = "vigil_agent_lines_truncated_total";
/// Bytes of over-long lines skipped after the cut.
pub const LINE_BYTES_SKIPPED_TOTAL: &str = "vigil_agent_line_bytes_skipped_total";
/// Lines over `max_line_bytes` shipped in pieces (`long_lines = "split"`), counted at their
/// first piece.
pub const LINES_SPLIT_TOTAL: &str = "vigil_agent_lines_split_total";
/// Lines (or pieces) read that are not valid UTF-8; shipped as they are, the pipeline flags
/// them `invalid_utf8`.
pub const LINES_INVALID_UTF8_TOTAL: &str = "vigil_agent_lines_invalid_utf8_total";
/// Multiline events cut at `max_lines` or `max_bytes` (shipped in pieces flagged `split`).
pub const MULTILINE_EVENTS_CUT_TOTAL: &str = "vigil_agent_multiline_events_cut_total";
/// Files found shorter than the agent's read position and read again from the start.
pub const FILE_TRUNCATIONS_TOTAL: &str = "vigil_agent_file_truncations_total";
/// Files found and placed (label `placement`: `new`, `resumed` at their checkpoint,
/// `restarted` because the checkpoint no longer described them, or `continued` as a copy of a
/// file already read).
pub const FILES_PLACED_TOTAL: &str = "vigil_agent_files_placed_total";
/// Files currently open for tailing.
pub const FILES_OPEN: &str = "vigil_agent_files_open";
/// Failed writes of `checkpoints.json` (retried at the next interval).
pub const CHECKPOINT_WRITE_ERRORS_TOTAL: &str = "vigil_agent_checkpoint_write_errors_total";
/// Scrapes of Prometheus endpoints, by `result` (`ok`, `failed`).
pub const SCRAPES_TOTAL: &str = "vigil_agent_scrapes_total";
/// Malformed exposition lines skipped (each is logged with the target and line number).
pub const SCRAPE_BAD_LINES_TOTAL: &str = "vigil_agent_scrape_bad_lines_total";
/// Scraped samples acknowledged by the server or broker.
pub const SCRAPE_SAMPLES_SENT_TOTAL: &str = "vigil_agent_scrape_samples_sent_total";
/// Scrape results dropped because the output stayed down past the queue's bound (oldest first).
pub const SCRAPE_BATCHES_DROPPED_TOTAL: &str = "vigil_agent_scrape_batches_dropped_total";
/// File bytes of acknowledged lines.
pub const BYTES_ACKNOWLEDGED_TOTAL: &str = "vigil_agent_bytes_acknowledged_total";
/// Lines written to the on-disk spool because the destination was down.
pub const LINES_SPOOLED_TOTAL: &str = "vigil_agent_lines_spooled_total";
/// Lines dropped (label `reason`: `spool_full`, `spool_write_failed`, `spool_corrupt`), each
/// also in the ledger.
pub const LINES_DROPPED_TOTAL: &str = "vigil_agent_lines_dropped_total";
/// Batches, lines and bytes waiting in the spool.
pub const SPOOL_BATCHES: &str = "vigil_agent_spool_batches";
pub const SPOOL_LINES: &str = "vigil_agent_spool_lines";
pub const SPOOL_BYTES: &str = "vigil_agent_spool_bytes";
/// Failed spool writes (disk full, permissions); the batch then follows `spool.when_full`.
pub const SPOOL_WRITE_ERRORS_TOTAL: &str = "vigil_agent_spool_write_errors_total";
/// Paths the globs match that cannot be read (label `problem`: `permission_denied`,
/// `symlink_loop`, `dangling_symlink`, `not_a_file`, `io_error`), counted once per path and
/// problem.
pub const PATH_PROBLEMS_TOTAL: &str = "vigil_agent_path_problems_total";
