//! `vigil-agent status`: the completeness ledger (`<data_dir>/ledger.json`) as a table, or as
//! JSON with `--json`. It reads the file the agent writes with its checkpoints, so it works
//! whether the agent runs or not.

use std::{fmt::Write as _, path::Path};

use crate::ledger::{self, now_ms, Account, Count, LedgerFile};

/// Prints the ledger of `data_dir`; the error names the file and what to do.
pub fn print(data_dir: &Path, json: bool) -> Result<(), String> {
    let path = data_dir.join(ledger::FILE_NAME);
    let Some(file) = ledger::read(&path)? else {
        return Err(format!(
            "{}: no ledger yet (the agent writes it once it has read something; is --data-dir the agent's data_dir?)",
            path.display()
        ));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&file).expect("a ledger serialises"));
    } else {
        print!("{}", render(&file, now_ms()));
    }
    Ok(())
}

/// The table: one row per stream, then the totals, the spool and every drop with its reason.
pub fn render(file: &LedgerFile, now_ms: u64) -> String {
    let mut out = String::new();
    let age = now_ms.saturating_sub(file.written_ms) / 1000;
    let _ = writeln!(out, "ledger written {age}s ago; lines (bytes)");
    let mut rows: Vec<[String; 6]> =
        vec![["FILE", "READ", "DELIVERED", "SPOOLED", "DROPPED", "PENDING"].map(String::from)];
    for account in &file.files {
        rows.push(row(&display_path(account), account));
    }
    rows.push(row("TOTAL", &file.totals));
    let widths: Vec<usize> = (0..6).map(|column| rows.iter().map(|r| r[column].len()).max().unwrap_or(0)).collect();
    for row in &rows {
        let mut line = format!("{:<width$}", row[0], width = widths[0]);
        for (cell, width) in row.iter().zip(&widths).skip(1) {
            let _ = write!(line, "  {cell:>width$}");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let spool = &file.spool;
    let _ = writeln!(out, "spool: {} batches, {} lines, {} bytes", spool.batches, spool.lines, spool.bytes);
    for account in &file.files {
        for (reason, count) in &account.dropped {
            let _ = writeln!(
                out,
                "dropped: {} lines ({} bytes) of {}: {reason}",
                count.lines,
                count.bytes,
                display_path(account)
            );
        }
    }
    out
}

fn display_path(account: &Account) -> String {
    if account.path.is_empty() {
        format!("(stream {})", account.stream)
    } else {
        account.path.clone()
    }
}

fn row(name: &str, account: &Account) -> [String; 6] {
    let cell = |count: Count| format!("{} ({})", count.lines, count.bytes);
    [
        name.to_string(),
        cell(account.read),
        cell(account.delivered),
        cell(account.spooled),
        cell(account.dropped_total()),
        cell(account.pending()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::Held;

    #[test]
    fn the_table_has_a_row_per_file_the_totals_and_each_drop_with_its_reason() {
        let account = Account {
            path: "/var/log/app.log".into(),
            stream: "1:2:3".into(),
            read: Count::new(10, 100),
            delivered: Count::new(6, 60),
            spooled: Count::new(2, 20),
            dropped: [("spool_full".to_string(), Count::new(1, 10))].into(),
            updated_ms: 0,
        };
        let file = LedgerFile {
            version: 1,
            written_ms: 5_000,
            totals: Account { path: String::new(), stream: String::new(), ..account.clone() },
            spool: Held { batches: 1, lines: 2, bytes: 99 },
            files: vec![account],
        };
        let table = render(&file, 8_000);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "ledger written 3s ago; lines (bytes)");
        let cells: Vec<&str> = lines[2].split("  ").filter(|c| !c.is_empty()).map(str::trim).collect();
        assert_eq!(cells, ["/var/log/app.log", "10 (100)", "6 (60)", "2 (20)", "1 (10)", "1 (10)"]);
        assert!(lines[3].starts_with("TOTAL"));
        assert_eq!(lines[4], "spool: 1 batches, 2 lines, 99 bytes");
        assert_eq!(lines[5], "dropped: 1 lines (10 bytes) of /var/log/app.log: spool_full");
    }
}
