//! Streaming readers for Binance kline files.
//!
//! Accepted inputs, detected by content, not by file name:
//! - Binance public-archive files exactly as published: 12 columns, no header (a header
//!   line is tolerated), plain `.csv` or a `.zip` holding one or more csv entries;
//! - the normalized `csv.gz`/`.csv` of `../shared/data/klines` (11 columns with a header,
//!   the last four may be empty).
//!
//! Timestamps are ms before 2025 and µs in the archive from 2025-01-01; they are told
//! apart by magnitude and returned in ms. Rows are validated as they stream in, so an error
//! names the file, the 1-based line, the column and the value.

use crate::bars::Klines;
use crate::error::DataError;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::Path;

/// Column names by position (identical for the archive's first 11 columns and the normalized files).
pub const COLUMNS: [&str; 12] = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "trades",
    "taker_buy_base",
    "taker_buy_quote",
    "ignore",
];

/// Open times above this are microseconds (1e14 ms is the year 5138; 1e14 µs is 1973).
const MICROS_THRESHOLD: i64 = 100_000_000_000_000;

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Bar interval in ms; inferred from the data when `None`.
    pub interval_ms: Option<i64>,
    /// Sort unsorted input and drop duplicate open times (keeping the first) instead of failing.
    pub repair: bool,
}

/// What a read changed, so repairs are reported, never silent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadReport {
    pub rows: u64,
    pub header_lines: u64,
    pub micros_rows: u64,
    pub out_of_order: u64,
    pub duplicates_dropped: u64,
    /// Duplicates whose values differed from the kept row.
    pub conflicting_duplicates: u64,
    pub interval_ms: i64,
}

#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    pub klines: Klines,
    pub report: ReadReport,
}

/// Read one kline file (csv, csv.gz or zip). The file's kind is detected from its first bytes.
pub fn read_file(path: &Path, opts: &ReadOptions) -> Result<ReadResult, DataError> {
    let name = path.display().to_string();
    let mut file = File::open(path).map_err(|e| DataError::BadFile {
        file: name.clone(),
        message: format!("cannot open: {e}"),
    })?;
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut file, &mut magic).map_err(|e| io_err(&name, e))?;
    file.rewind().map_err(|e| io_err(&name, e))?;
    if got == 0 {
        return Err(DataError::BadFile {
            file: name,
            message: "empty file".into(),
        });
    }
    let mut raw = Klines::default();
    let mut report = ReadReport::default();
    if magic[..2] == [0x1f, 0x8b] {
        let reader = BufReader::with_capacity(1 << 20, MultiGzDecoder::new(file));
        parse_csv(reader, &name, &mut raw, &mut report, opts.repair)?;
    } else if magic == [b'P', b'K', 3, 4] || magic == [b'P', b'K', 5, 6] {
        let mut archive =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|e| DataError::BadFile {
                file: name.clone(),
                message: format!("not a readable zip archive (truncated or corrupt?): {e}"),
            })?;
        let mut entries = 0;
        for i in 0..archive.len() {
            let entry = archive.by_index(i).map_err(|e| DataError::BadFile {
                file: name.clone(),
                message: format!("cannot read zip entry {i}: {e}"),
            })?;
            if entry.is_dir() {
                continue;
            }
            let entry_name = format!(
                "{name}:{}",
                entry
                    .name()
                    .map(|n| n.into_owned())
                    .unwrap_or_else(|_| format!("entry{i}"))
            );
            entries += 1;
            let reader = BufReader::with_capacity(1 << 20, entry);
            parse_csv(reader, &entry_name, &mut raw, &mut report, opts.repair)?;
        }
        if entries == 0 {
            return Err(DataError::BadFile {
                file: name,
                message: "zip archive holds no file".into(),
            });
        }
    } else {
        let reader = BufReader::with_capacity(1 << 20, file);
        parse_csv(reader, &name, &mut raw, &mut report, opts.repair)?;
    }
    finish(raw, report, &name, opts)
}

/// Read klines from any reader of csv text (used by tests and by in-memory callers).
pub fn read_csv<R: Read>(
    reader: R,
    name: &str,
    opts: &ReadOptions,
) -> Result<ReadResult, DataError> {
    let mut raw = Klines::default();
    let mut report = ReadReport::default();
    parse_csv(
        BufReader::with_capacity(1 << 20, reader),
        name,
        &mut raw,
        &mut report,
        opts.repair,
    )?;
    finish(raw, report, name, opts)
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = f.read(&mut buf[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

fn io_err(file: &str, e: std::io::Error) -> DataError {
    DataError::BadFile {
        file: file.to_string(),
        message: format!("read error: {e}"),
    }
}

fn finish(
    mut k: Klines,
    mut report: ReadReport,
    name: &str,
    opts: &ReadOptions,
) -> Result<ReadResult, DataError> {
    if k.is_empty() {
        return Err(DataError::BadFile {
            file: name.to_string(),
            message: "no kline rows".into(),
        });
    }
    if report.out_of_order > 0 || has_duplicates(&k.open_time) {
        if !opts.repair {
            // parse_csv already failed on the first offending line when not repairing;
            // reaching here means the disorder spans zip entries.
            return Err(DataError::BadFile {
                file: name.to_string(),
                message: "rows are unsorted or duplicated across archive entries (pass the repair flag to sort and dedupe)".into(),
            });
        }
        let mut idx: Vec<usize> = (0..k.len()).collect();
        idx.sort_by_key(|&i| k.open_time[i]); // stable: the first occurrence stays first
        let mut keep = Vec::with_capacity(idx.len());
        for &i in &idx {
            if let Some(&last) = keep.last() {
                if k.open_time[last] == k.open_time[i] {
                    report.duplicates_dropped += 1;
                    if !same_values(&k, last, i) {
                        report.conflicting_duplicates += 1;
                    }
                    continue;
                }
            }
            keep.push(i);
        }
        k = k.take(&keep);
    }
    let interval = match opts.interval_ms {
        Some(v) if v > 0 => v,
        Some(v) => {
            return Err(DataError::arg(format!(
                "Expected positive interval_ms but received {v}"
            )))
        }
        None => infer_interval(&k.open_time).ok_or_else(|| DataError::BadFile {
            file: name.to_string(),
            message:
                "cannot infer the bar interval from a single row; give the interval explicitly"
                    .into(),
        })?,
    };
    if let Some(pos) = k.open_time.iter().position(|t| t.rem_euclid(interval) != 0) {
        return Err(DataError::BadFile {
            file: name.to_string(),
            message: format!(
                "open_time {} (row {}) is not aligned to the {} ms interval",
                k.open_time[pos],
                pos + 1,
                interval
            ),
        });
    }
    report.rows = k.len() as u64;
    report.interval_ms = interval;
    Ok(ReadResult { klines: k, report })
}

fn same_values(k: &Klines, a: usize, b: usize) -> bool {
    let eq = |v: &Vec<f64>| v[a] == v[b] || (v[a].is_nan() && v[b].is_nan());
    eq(&k.open) && eq(&k.high) && eq(&k.low) && eq(&k.close) && eq(&k.volume)
}

fn has_duplicates(t: &[i64]) -> bool {
    t.windows(2).any(|w| w[1] <= w[0])
}

/// The most common positive difference between consecutive open times.
pub fn infer_interval(t: &[i64]) -> Option<i64> {
    if t.len() < 2 {
        return None;
    }
    let mut diffs: Vec<i64> = t
        .windows(2)
        .take(4096)
        .map(|w| w[1] - w[0])
        .filter(|&d| d > 0)
        .collect();
    if diffs.is_empty() {
        return None;
    }
    diffs.sort_unstable();
    let (mut best, mut best_n, mut cur, mut cur_n) = (diffs[0], 0usize, diffs[0], 0usize);
    for &d in &diffs {
        if d == cur {
            cur_n += 1;
        } else {
            cur = d;
            cur_n = 1;
        }
        if cur_n > best_n {
            best = cur;
            best_n = cur_n;
        }
    }
    Some(best)
}

fn parse_csv<R: BufRead>(
    mut reader: R,
    name: &str,
    out: &mut Klines,
    report: &mut ReadReport,
    repair: bool,
) -> Result<(), DataError> {
    let mut line = Vec::with_capacity(256);
    let mut lineno: u64 = 0;
    let mut last_time: Option<i64> = out.open_time.last().copied();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| DataError::BadRow {
                file: name.to_string(),
                line: lineno + 1,
                message: format!("read error (truncated or corrupt file?): {e}"),
            })?;
        if n == 0 {
            break;
        }
        lineno += 1;
        let mut s: &[u8] = &line;
        while let Some((&last, rest)) = s.split_last() {
            if last == b'\n' || last == b'\r' {
                s = rest;
            } else {
                break;
            }
        }
        if s.is_empty() {
            continue; // blank lines (e.g. a trailing newline) carry no row
        }
        if lineno == 1 && s.starts_with(b"\xEF\xBB\xBF") {
            s = &s[3..];
        }
        // Split on commas.
        let mut fields: [&[u8]; 12] = [&[]; 12];
        let mut nf = 0;
        let mut start = 0;
        for pos in memchr::memchr_iter(b',', s) {
            if nf < 12 {
                fields[nf] = &s[start..pos];
            }
            nf += 1;
            start = pos + 1;
        }
        if nf < 12 {
            fields[nf] = &s[start..];
        }
        nf += 1;
        let first = fields[0];
        let is_header =
            !first.is_empty() && !first[0].is_ascii_digit() && first[0] != b'-' && first[0] != b'+';
        if is_header {
            if out.open_time.is_empty() && report.header_lines == 0 {
                report.header_lines += 1;
                continue;
            }
            return Err(DataError::BadValue {
                file: name.to_string(),
                line: lineno,
                column: COLUMNS[0].into(),
                value: String::from_utf8_lossy(first).into_owned(),
                message: "not an integer timestamp".into(),
            });
        }
        if !(6..=12).contains(&nf) {
            return Err(DataError::BadRow {
                file: name.to_string(),
                line: lineno,
                message: format!("expected 6 to 12 comma-separated columns, found {nf}"),
            });
        }
        let bad = |col: usize, msg: &str| DataError::BadValue {
            file: name.to_string(),
            line: lineno,
            column: COLUMNS[col].into(),
            value: String::from_utf8_lossy(fields[col]).into_owned(),
            message: msg.to_string(),
        };
        let mut t: i64 = parse_int(fields[0]).ok_or_else(|| bad(0, "not an integer timestamp"))?;
        if t >= MICROS_THRESHOLD {
            if t % 1000 != 0 {
                return Err(bad(0, "microsecond timestamp is not a whole millisecond"));
            }
            t /= 1000;
            report.micros_rows += 1;
        }
        if t < 0 {
            return Err(bad(0, "negative timestamp"));
        }
        let num = |col: usize, required: bool| -> Result<f64, DataError> {
            if col >= nf || fields[col].is_empty() {
                if required {
                    return Err(bad(col, "empty value"));
                }
                return Ok(f64::NAN);
            }
            let v: f64 = fast_float2::parse(fields[col]).map_err(|_| bad(col, "not a number"))?;
            if !v.is_finite() {
                return Err(bad(col, "not a finite number"));
            }
            Ok(v)
        };
        let o = num(1, true)?;
        let h = num(2, true)?;
        let l = num(3, true)?;
        let c = num(4, true)?;
        let v = num(5, true)?;
        let qv = num(7, false)?;
        let tr = num(8, false)?;
        let tb = num(9, false)?;
        let tq = num(10, false)?;
        if let Err((col, msg)) = check_row(o, h, l, c, v, [qv, tr, tb, tq]) {
            return Err(bad(col, &msg));
        }
        if let Some(prev) = last_time {
            if t <= prev {
                if !repair {
                    let what = if t == prev {
                        "duplicate"
                    } else {
                        "out-of-order"
                    };
                    return Err(DataError::BadRow {
                        file: name.to_string(),
                        line: lineno,
                        message: format!(
                            "{what} open_time {t} (previous row {prev}); rows must be strictly increasing (use the repair flag to sort and drop duplicates)"
                        ),
                    });
                }
                if t < prev {
                    report.out_of_order += 1;
                }
            }
        }
        last_time = Some(match last_time {
            Some(p) if p > t => p,
            _ => t,
        });
        out.open_time.push(t);
        out.open.push(o);
        out.high.push(h);
        out.low.push(l);
        out.close.push(c);
        out.volume.push(v);
        out.quote_volume.push(qv);
        out.trades.push(tr);
        out.taker_buy_base.push(tb);
        out.taker_buy_quote.push(tq);
    }
    Ok(())
}

/// The row rules shared by every reader: prices > 0, volume and the optional counts >= 0,
/// low <= min(open, close), high >= max(open, close). Err carries the column index and why.
pub fn check_row(
    o: f64,
    h: f64,
    l: f64,
    c: f64,
    v: f64,
    optional: [f64; 4],
) -> Result<(), (usize, String)> {
    for (col, x) in [(1, o), (2, h), (3, l), (4, c)] {
        if !x.is_finite() {
            return Err((col, "not a finite number".into()));
        }
        if x <= 0.0 {
            return Err((col, "price must be > 0".into()));
        }
    }
    if !v.is_finite() {
        return Err((5, "not a finite number".into()));
    }
    if v < 0.0 {
        return Err((5, "volume must be >= 0".into()));
    }
    for (k, x) in optional.iter().enumerate() {
        if x.is_infinite() {
            return Err((7 + k, "not a finite number".into()));
        }
        if *x < 0.0 {
            return Err((7 + k, "must be >= 0".into()));
        }
    }
    if l > o.min(c) {
        return Err((3, format!("low must be <= min(open, close) = {}", o.min(c))));
    }
    if h < o.max(c) {
        return Err((
            2,
            format!("high must be >= max(open, close) = {}", o.max(c)),
        ));
    }
    Ok(())
}

/// Validate klines that did not come through the csv reader (e.g. an Arrow IPC file): the same
/// row rules, strictly increasing open times unless `repair` (then sorted and deduplicated, as
/// the csv reader does). Errors name the 1-based row.
pub fn validate_columns(
    k: Klines,
    name: &str,
    opts: &ReadOptions,
) -> Result<ReadResult, DataError> {
    let n = k.len();
    for (col, len) in [
        (1, k.open.len()),
        (2, k.high.len()),
        (3, k.low.len()),
        (4, k.close.len()),
        (5, k.volume.len()),
    ] {
        if len != n {
            return Err(DataError::BadFile {
                file: name.into(),
                message: format!(
                    "column '{}' has {len} rows, open_time has {n}",
                    COLUMNS[col]
                ),
            });
        }
    }
    let mut report = ReadReport::default();
    for i in 0..n {
        let opt = [
            k.quote_volume[i],
            k.trades[i],
            k.taker_buy_base[i],
            k.taker_buy_quote[i],
        ];
        if let Err((col, msg)) =
            check_row(k.open[i], k.high[i], k.low[i], k.close[i], k.volume[i], opt)
        {
            let value = [
                k.open_time[i] as f64,
                k.open[i],
                k.high[i],
                k.low[i],
                k.close[i],
                k.volume[i],
                f64::NAN,
                f64::NAN,
                opt[0],
                opt[1],
                opt[2],
                opt[3],
            ][col];
            return Err(DataError::BadValue {
                file: name.into(),
                line: i as u64 + 1,
                column: COLUMNS[col].into(),
                value: value.to_string(),
                message: msg,
            });
        }
        if i > 0 && k.open_time[i] <= k.open_time[i - 1] {
            if !opts.repair {
                let what = if k.open_time[i] == k.open_time[i - 1] {
                    "duplicate"
                } else {
                    "out-of-order"
                };
                return Err(DataError::BadRow {
                    file: name.into(),
                    line: i as u64 + 1,
                    message: format!("{what} open_time {} (previous row {}); rows must be strictly increasing (use the repair flag to sort and drop duplicates)", k.open_time[i], k.open_time[i - 1]),
                });
            }
            if k.open_time[i] < k.open_time[i - 1] {
                report.out_of_order += 1;
            }
        }
    }
    finish(k, report, name, opts)
}

fn parse_int(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &ch in b {
        if !ch.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((ch - b'0') as i64)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str, repair: bool) -> Result<ReadResult, DataError> {
        read_csv(
            s.as_bytes(),
            "t.csv",
            &ReadOptions {
                interval_ms: Some(3_600_000),
                repair,
            },
        )
    }

    #[test]
    fn parses_archive_rows_with_and_without_header() {
        let body = "1640995200000,46216.93,46731.39,46208.37,46656.13,1503.33,1640998799999,69879986.39,38608,806.06,37462156.91,0\n\
                    1640998800000,46656.14,46949.99,46574.06,46778.14,943.81,1641002399999,44127148.11,31872,491.18,22963272.85,0\n";
        let a = read(body, false).unwrap();
        let b = read(
            &format!("Opentime,Open,High,Low,Close,Volume,Closetime,Q,N,TB,TQ,Ignore\n{body}"),
            false,
        )
        .unwrap();
        assert_eq!(a.klines, b.klines);
        assert_eq!(b.report.header_lines, 1);
        assert_eq!(a.klines.close, vec![46656.13, 46778.14]);
        assert_eq!(a.klines.trades, vec![38608.0, 31872.0]);
    }

    #[test]
    fn microseconds_become_milliseconds() {
        let r = read(
            "1735689600000000,1,2,0.5,1.5,10,1735693199999999,,,,\n",
            false,
        )
        .unwrap();
        assert_eq!(r.klines.open_time, vec![1_735_689_600_000]);
        assert_eq!(r.report.micros_rows, 1);
    }

    #[test]
    fn errors_name_line_column_and_value() {
        let e = read("0,1,2,0.5,1.5,10\n3600000,1,0.9,0.5,1.5,10\n", false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv:2: column 'high': high must be >= max(open, close) = 1.5 (value '0.9')"
        );
        let e = read("0,1,2,0.5,abc,10\n", false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv:1: column 'close': not a number (value 'abc')"
        );
    }

    #[test]
    fn duplicates_fail_unless_repaired() {
        let s = "0,1,2,0.5,1.5,10\n7200000,1,2,0.5,1.5,10\n3600000,1,2,0.5,1.5,10\n3600000,1,2,0.5,1.6,10\n";
        let e = read(s, false).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.csv:3: out-of-order open_time 3600000"),
            "{e}"
        );
        let r = read(s, true).unwrap();
        assert_eq!(r.klines.open_time, vec![0, 3_600_000, 7_200_000]);
        assert_eq!(r.report.out_of_order, 2); // both rows after 7200000 are behind it
        assert_eq!(r.report.duplicates_dropped, 1);
        assert_eq!(r.report.conflicting_duplicates, 1);
        assert_eq!(r.klines.close[1], 1.5);
    }

    #[test]
    fn infers_interval() {
        assert_eq!(infer_interval(&[0, 60_000, 120_000, 240_000]), Some(60_000));
    }
}
