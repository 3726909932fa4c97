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
use flate2::bufread::MultiGzDecoder;
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
        let hint = gzip_size_hint(&mut file);
        file.rewind().map_err(|e| io_err(&name, e))?;
        // The decoder reads the compressed file through its own 256 KiB buffer.
        let gz = MultiGzDecoder::new(BufReader::with_capacity(1 << 18, file));
        let reader = BufReader::with_capacity(1 << 20, gz);
        parse_csv(reader, &name, &mut raw, &mut report, opts.repair, hint)?;
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
            parse_csv(reader, &entry_name, &mut raw, &mut report, opts.repair, 0)?;
        }
        if entries == 0 {
            return Err(DataError::BadFile {
                file: name,
                message: "zip archive holds no file".into(),
            });
        }
    } else {
        let hint = file.metadata().map(|m| m.len()).unwrap_or(0);
        let reader = BufReader::with_capacity(1 << 20, file);
        parse_csv(reader, &name, &mut raw, &mut report, opts.repair, hint)?;
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
        0,
    )?;
    finish(raw, report, name, opts)
}

/// The uncompressed size a gzip file's trailer gives (ISIZE, of its last member, mod 2^32),
/// when plausible for its compressed size; 0 when unknown. Only sizes buffers. Moves the file
/// position: the caller rewinds.
fn gzip_size_hint(file: &mut File) -> u64 {
    let mut hint = || -> std::io::Result<u64> {
        let len = file.metadata()?.len();
        if len < 18 {
            return Ok(0);
        }
        file.seek(std::io::SeekFrom::End(-4))?;
        let mut isize = [0u8; 4];
        file.read_exact(&mut isize)?;
        let size = u32::from_le_bytes(isize) as u64;
        Ok(if size <= len.saturating_mul(32) {
            size
        } else {
            0
        })
    };
    hint().unwrap_or(0)
}

/// Reserve room in `out` for the rows of `total` bytes of csv, judged from the line lengths
/// in `sample` (the start of the text), with an eighth to spare: one allocation per column
/// instead of repeated doubling and copying.
fn reserve_rows(out: &mut Klines, sample: &[u8], total: u64) {
    let sample = &sample[..sample.len().min(1 << 16)];
    let lines = memchr::memchr_iter(b'\n', sample).count() as u64;
    if lines == 0 {
        return;
    }
    let rows = total.saturating_mul(lines) / sample.len() as u64;
    let rows = (rows + rows / 8 + 16).min(1 << 28) as usize;
    out.open_time.reserve(rows);
    for c in [
        &mut out.open,
        &mut out.high,
        &mut out.low,
        &mut out.close,
        &mut out.volume,
        &mut out.quote_volume,
        &mut out.trades,
        &mut out.taker_buy_base,
        &mut out.taker_buy_quote,
    ] {
        c.reserve(rows);
    }
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

/// Stream csv lines from `reader` into `out`.
///
/// Lines lying wholly inside the reader's buffer are parsed in place (no copy); a line split
/// across two buffer fills is gathered in `carry`. Each line goes first through
/// [`fast_row`], which accepts only the plain shape of a valid row (digits, an optional
/// fraction, commas) and whose values are exactly those of the general path; anything else
/// (headers, errors, odd number syntax, disorder) takes the general path [`Lines::slow_line`],
/// which is the reader's original per-line code and so yields the same values and errors.
fn parse_csv<R: BufRead>(
    mut reader: R,
    name: &str,
    out: &mut Klines,
    report: &mut ReadReport,
    repair: bool,
    mut size_hint: u64,
) -> Result<(), DataError> {
    let mut st = Lines {
        name,
        out,
        report,
        repair,
        lineno: 0,
        last_time: None,
    };
    st.last_time = st.out.open_time.last().copied();
    let mut carry: Vec<u8> = Vec::with_capacity(256);
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(DataError::BadRow {
                    file: name.to_string(),
                    line: st.lineno + 1,
                    message: format!("read error (truncated or corrupt file?): {e}"),
                })
            }
        };
        if buf.is_empty() {
            if !carry.is_empty() {
                st.line(&carry, carry.len())?; // a last line without a newline
            }
            break;
        }
        if size_hint > 0 {
            reserve_rows(st.out, buf, size_hint);
            size_hint = 0;
        }
        let len = buf.len();
        let mut pos = 0;
        if !carry.is_empty() {
            match memchr::memchr(b'\n', buf) {
                Some(i) => {
                    carry.extend_from_slice(&buf[..=i]);
                    st.line(&carry, carry.len())?;
                    carry.clear();
                    pos = i + 1;
                }
                None => {
                    carry.extend_from_slice(buf);
                    reader.consume(len);
                    continue;
                }
            }
        }
        while let Some(i) = memchr::memchr(b'\n', &buf[pos..]) {
            st.line(&buf[pos..], i + 1)?;
            pos += i + 1;
        }
        carry.extend_from_slice(&buf[pos..]);
        reader.consume(len);
    }
    Ok(())
}

/// The state of one [`parse_csv`] call.
struct Lines<'a> {
    name: &'a str,
    out: &'a mut Klines,
    report: &'a mut ReadReport,
    repair: bool,
    lineno: u64,
    last_time: Option<i64>,
}

impl Lines<'_> {
    /// One line, `b[..len]`, including its `\n` (absent on a last line without one); `b` may
    /// go on past the line.
    #[inline(always)]
    fn line(&mut self, b: &[u8], len: usize) -> Result<(), DataError> {
        self.lineno += 1;
        let mut end = len;
        while end > 0 && (b[end - 1] == b'\n' || b[end - 1] == b'\r') {
            end -= 1;
        }
        if end == 0 {
            return Ok(()); // blank lines (e.g. a trailing newline) carry no row
        }
        let s = &b[..end];
        if self.lineno == 1 && s.starts_with(b"\xEF\xBB\xBF") {
            return self.slow_line(&s[3..]);
        }
        if let Some((t, v)) = fast_row(b, end) {
            // As the general path: µs to ms, whole milliseconds only (`t` is never negative).
            let micros = t >= MICROS_THRESHOLD;
            let whole = !micros || t % 1000 == 0;
            let t = if micros { t / 1000 } else { t };
            let in_order = match self.last_time {
                Some(prev) => t > prev,
                None => true,
            };
            if whole
                && in_order
                && check_row(v[0], v[1], v[2], v[3], v[4], [v[5], v[6], v[7], v[8]]).is_ok()
            {
                self.report.micros_rows += micros as u64;
                self.last_time = Some(t);
                self.push(t, v);
                return Ok(());
            }
        }
        self.slow_line(s)
    }

    #[inline(always)]
    fn push(&mut self, t: i64, v: [f64; 9]) {
        let out = &mut *self.out;
        out.open_time.push(t);
        out.open.push(v[0]);
        out.high.push(v[1]);
        out.low.push(v[2]);
        out.close.push(v[3]);
        out.volume.push(v[4]);
        out.quote_volume.push(v[5]);
        out.trades.push(v[6]);
        out.taker_buy_base.push(v[7]);
        out.taker_buy_quote.push(v[8]);
    }

    /// The general per-line path: any line, trimmed, BOM removed.
    #[cold]
    #[inline(never)]
    fn slow_line(&mut self, s: &[u8]) -> Result<(), DataError> {
        let name = self.name;
        let lineno = self.lineno;
        let repair = self.repair;
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
            if self.out.open_time.is_empty() && self.report.header_lines == 0 {
                self.report.header_lines += 1;
                return Ok(());
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
            self.report.micros_rows += 1;
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
        if let Some(prev) = self.last_time {
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
                    self.report.out_of_order += 1;
                }
            }
        }
        self.last_time = Some(match self.last_time {
            Some(p) if p > t => p,
            _ => t,
        });
        self.push(t, [o, h, l, c, v, qv, tr, tb, tq]);
        Ok(())
    }
}

/// Powers of ten exactly representable as f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The plain shape of a valid row, read from `b[..end]` (the line without its line end; `b`
/// may go on past `end`, which is only read to load whole words): an open time of 1 to 16
/// digits, then five numbers, then optionally a close time (any text without a comma, not
/// parsed), up to four empty-or-number columns and an ignored last column (any text without
/// a comma); 6 to 12 columns. Numbers are read by [`fast_decimal`], which yields what the
/// general path's `fast_float2::parse` does. Returns the raw open time and open, high, low,
/// close, volume, quote_volume, trades, taker_buy_base, taker_buy_quote (NaN when empty or
/// absent), or `None` when the line is not of that shape or a number there would be an
/// error, and the line then goes the general way.
#[inline(always)]
fn fast_row(b: &[u8], end: usize) -> Option<(i64, [f64; 9])> {
    let (t, mut i) = digits(b, 0);
    // 1 to 16 digits (no overflow), then a comma; a 17th digit fails the comma test.
    if i == 0 || i >= end || b[i] != b',' {
        return None;
    }
    i += 1;
    let mut v = [f64::NAN; 9];
    for (k, x) in v.iter_mut().take(5).enumerate() {
        *x = fast_decimal(b, end, &mut i)?;
        if i == end {
            // Ended before the volume column: too few columns.
            return if k == 4 { Some((t as i64, v)) } else { None };
        }
        i += 1; // the comma
    }
    // close_time: not parsed, any text up to the next comma.
    match memchr::memchr(b',', &b[i..end]) {
        None => return Some((t as i64, v)),
        Some(j) => i += j + 1,
    }
    for x in v.iter_mut().skip(5) {
        if i < end && b[i] != b',' {
            *x = fast_decimal(b, end, &mut i)?;
        }
        if i == end {
            return Some((t as i64, v));
        }
        i += 1; // the comma
    }
    // The ignored 12th column; a further comma would make a 13th.
    if memchr::memchr(b',', &b[i..end]).is_some() {
        return None;
    }
    Some((t as i64, v))
}

/// The 8 bytes of `b` from `p` as a little-endian word, zero bytes past the end of `b`.
#[inline(always)]
fn load8(b: &[u8], p: usize) -> u64 {
    match b.get(p..p + 8) {
        Some(w) => u64::from_le_bytes(w.try_into().unwrap()),
        None => {
            let mut w = [0u8; 8];
            let rest = b.get(p..).unwrap_or(&[]);
            w[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(w)
        }
    }
}

/// The run of ASCII digits starting at `b[p]`, up to 16 of them: (value, length). Reads
/// two words instead of byte by byte; a digit right after the 16th is left for the caller.
#[inline(always)]
fn digits(b: &[u8], p: usize) -> (u64, usize) {
    let (v1, n1) = digits8(load8(b, p));
    if n1 < 8 {
        return (v1, n1);
    }
    let (v2, n2) = digits8(load8(b, p + 8));
    (v1 * POW10_U64[n2] + v2, 8 + n2)
}

/// The leading ASCII digits of the 8 bytes of `w` (first byte lowest): (value, count).
#[inline(always)]
fn digits8(w: u64) -> (u64, usize) {
    const LO: u64 = 0x0101_0101_0101_0101;
    let x = w ^ (0x30 * LO); // a byte is a digit iff it is now < 10
                             // High bit of each byte that is not a digit (x >= 10): x + 0x76 carries into the high bit
                             // for 10 <= x < 0x80, and x has it for x >= 0x80. A carry out of a byte only comes from
                             // one that is itself flagged, so the lowest flagged byte is exact.
    let nondigit = (x.wrapping_add(0x76 * LO) | x) & (0x80 * LO);
    let n = (nondigit.trailing_zeros() / 8) as usize;
    if n == 0 {
        return (0, 0);
    }
    // Keep the n digits, as the last bytes of an 8-digit number with leading zeros.
    let mut v = x << (8 * (8 - n));
    // Eight digits at once (as in fast_float / simdjson).
    v = v.wrapping_mul(10).wrapping_add(v >> 8);
    v = ((v & 0x0000_00FF_0000_00FF).wrapping_mul(0x000F_4240_0000_0064)
        + ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(0x0000_2710_0000_0001))
        >> 32;
    (v, n)
}

/// Powers of ten that fit a u64.
const POW10_U64: [u64; 20] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
    100_000_000_000_000_000,
    1_000_000_000_000_000_000,
    10_000_000_000_000_000_000,
];
/// The non-empty column at `b[*i..end]` (ended by a comma or `end`) as a finite number,
/// `*i` left on its end; `None` when the general path would reject it. The common form
/// `[0-9]+(\.[0-9]+)?` with at most 16 digits on either side of the point, 19 in all, whose
/// digit string is at most 2^53 is read here: the digit string, exact as an f64, divided by
/// an exact power of ten is one correctly rounded operation, so the same value as the
/// correctly rounded `fast_float2::parse` of the general path (Clinger's fast path). Any
/// other column goes to [`general_number`].
#[inline(always)]
fn fast_decimal(b: &[u8], end: usize, i: &mut usize) -> Option<f64> {
    let start = *i;
    let (mut m, int_digits) = digits(b, start);
    if int_digits == 0 {
        return general_number(&b[..end], i);
    }
    let mut p = start + int_digits;
    let mut frac = 0;
    if p < end && b[p] == b'.' {
        let (f, nf) = digits(b, p + 1);
        if nf == 0 || int_digits + nf > 19 {
            return general_number(&b[..end], i);
        }
        // < 10^19 < 2^64: no overflow.
        m = m * POW10_U64[nf] + f;
        frac = nf;
        p += 1 + nf;
    }
    if m > 1 << 53 || (p < end && b[p] != b',') {
        return general_number(&b[..end], i);
    }
    *i = p;
    Some(m as f64 / POW10[frac])
}

/// A non-empty column at `s[*i..]` that is not a plain short decimal: parsed as the general
/// path does (`fast_float2::parse` of the whole column, finite), `*i` left on its end.
/// `None` when the general path would fail on it.
#[cold]
#[inline(never)]
fn general_number(s: &[u8], i: &mut usize) -> Option<f64> {
    let rest = &s[*i..];
    let end = memchr::memchr(b',', rest).unwrap_or(rest.len());
    let field = &rest[..end];
    if field.is_empty() {
        return None;
    }
    let v: f64 = fast_float2::parse(field).ok()?;
    if !v.is_finite() {
        return None;
    }
    *i += end;
    Some(v)
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

    /// The reader's per-line code before the fast path, verbatim: the oracle for the
    /// differential tests below.
    fn reference_parse_csv<R: BufRead>(
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
            let is_header = !first.is_empty()
                && !first[0].is_ascii_digit()
                && first[0] != b'-'
                && first[0] != b'+';
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
            let mut t: i64 =
                parse_int(fields[0]).ok_or_else(|| bad(0, "not an integer timestamp"))?;
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
                let v: f64 =
                    fast_float2::parse(fields[col]).map_err(|_| bad(col, "not a number"))?;
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

    fn reference_read_csv(text: &[u8], opts: &ReadOptions) -> Result<ReadResult, DataError> {
        let mut raw = Klines::default();
        let mut report = ReadReport::default();
        reference_parse_csv(text, "t.csv", &mut raw, &mut report, opts.repair)?;
        finish(raw, report, "t.csv", opts)
    }

    /// A read as comparable data: the error text, or every value's bits and the report.
    fn outcome(r: Result<ReadResult, DataError>) -> Result<(Vec<Vec<u64>>, ReadReport), String> {
        let r = r.map_err(|e| e.to_string())?;
        let k = &r.klines;
        let bits = |v: &Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
        let cols = vec![
            k.open_time.iter().map(|&t| t as u64).collect(),
            bits(&k.open),
            bits(&k.high),
            bits(&k.low),
            bits(&k.close),
            bits(&k.volume),
            bits(&k.quote_volume),
            bits(&k.trades),
            bits(&k.taker_buy_base),
            bits(&k.taker_buy_quote),
        ];
        Ok((cols, r.report))
    }

    /// The new reader, through buffers of `cap` bytes (so lines split across fills).
    fn new_read(text: &[u8], cap: usize, opts: &ReadOptions) -> Result<ReadResult, DataError> {
        let mut raw = Klines::default();
        let mut report = ReadReport::default();
        parse_csv(
            BufReader::with_capacity(cap, text),
            "t.csv",
            &mut raw,
            &mut report,
            opts.repair,
            text.len() as u64 * (cap as u64 % 3),
        )?;
        finish(raw, report, "t.csv", opts)
    }

    fn check_same(text: &[u8], opts: &ReadOptions) {
        let want = outcome(reference_read_csv(text, opts));
        for cap in [1usize, 2, 3, 5, 8, 13, 64, 100, 1 << 20] {
            let got = outcome(new_read(text, cap, opts));
            assert_eq!(
                got,
                want,
                "cap {cap}, repair {}, input {:?}",
                opts.repair,
                String::from_utf8_lossy(text)
            );
        }
    }

    /// A column value: mostly plain decimals of every length, sometimes odd syntax.
    fn random_number(rng: &mut rand_chacha::ChaCha8Rng) -> String {
        use rand::Rng;
        let digits = |rng: &mut rand_chacha::ChaCha8Rng, n: usize| -> String {
            (0..n)
                .map(|_| (b'0' + rng.random_range(0..10u8)) as char)
                .collect()
        };
        match rng.random_range(0..20) {
            0..=9 => {
                let a = rng.random_range(1..=10);
                let b = rng.random_range(0..=10);
                let mut s = digits(rng, a);
                if b > 0 {
                    s.push('.');
                    s.push_str(&digits(rng, b));
                }
                s
            }
            10 => {
                // Long digit strings: around 2^53 and past 16 and 19 digits.
                let a = rng.random_range(1..=22);
                let b = rng.random_range(0..=22);
                format!("{}.{}", digits(rng, a), digits(rng, b))
            }
            11 => format!(
                "{}",
                rng.random_range(9_007_199_254_740_980u64..9_007_199_254_741_000)
            ),
            12 => format!("{}", rng.random_range(1u64..u64::MAX)),
            13 => String::new(),
            14 => [
                "0", "0.0", "-1", "+1", "1e5", "1E-3", ".5", "5.", "inf", "NaN", "-0", "1e400",
            ][rng.random_range(0..12)]
            .to_string(),
            15 => format!(
                "{}{}",
                digits(rng, 3),
                [" ", "x", "..", "\r", "1.2.3"][rng.random_range(0..5)]
            ),
            16 => format!("0000{}.{}00", digits(rng, 2), digits(rng, 3)),
            _ => {
                let r: f64 = rng.random_range(0.0..1e6);
                format!("{r}")
            }
        }
    }

    fn random_text(rng: &mut rand_chacha::ChaCha8Rng) -> Vec<u8> {
        use rand::Rng;
        let mut s = String::new();
        if rng.random_bool(0.05) {
            s.push('\u{FEFF}');
        }
        if rng.random_bool(0.3) {
            s.push_str("open_time,open,high,low,close,volume,close_time,quote_volume,trades,taker_buy_base,taker_buy_quote\n");
        }
        let rows = rng.random_range(1..12);
        let mut t: i64 = 1_600_000_000_000 / 3_600_000 * 3_600_000;
        let odd = rng.random_bool(0.5); // otherwise mostly valid rows
        for _ in 0..rows {
            t += 3_600_000 * [1, 1, 1, 0, -1, 2][rng.random_range(0..if odd { 6 } else { 3 })];
            let ts = match rng.random_range(0..if odd { 12 } else { 10 }) {
                0 => format!("{}", t * 1000),     // µs
                1 => format!("{}", t * 1000 + 7), // µs, not whole ms
                10 => [
                    "",
                    "-5",
                    "+3600000",
                    "12345678901234567890",
                    "abc",
                    "99999999999999999",
                ][rng.random_range(0..6)]
                .to_string(),
                11 => [
                    format!("00{t}"),
                    format!("{t}.0"),
                    format!("{t}x1"),
                    format!("{t}00000"),
                ][rng.random_range(0..4)]
                .clone(),
                _ => format!("{t}"),
            };
            let mut cols = vec![ts];
            let o: f64 = rng.random_range(1.0..100.0);
            let c: f64 = rng.random_range(1.0..100.0);
            let price = |x: f64| format!("{:.2}", (x * 100.0).round() / 100.0);
            let (o2, c2) = (price(o), price(c));
            let hi = price(o.max(c) + 1.0);
            let lo = price((o.min(c) - 0.5).max(0.01));
            for (k, good) in [o2, hi, lo, c2].into_iter().enumerate() {
                cols.push(if odd && rng.random_bool(0.15) {
                    random_number(rng)
                } else if !odd && k < 4 {
                    good
                } else {
                    random_number(rng)
                });
            }
            cols.push(random_number(rng)); // volume
            cols.push(format!("{}", t + 3_599_999));
            for _ in 0..4 {
                cols.push(if rng.random_bool(0.3) {
                    String::new()
                } else {
                    random_number(rng)
                });
            }
            cols.push("0".into());
            let ncol = if rng.random_bool(0.6) {
                11
            } else {
                rng.random_range(1..=14)
            };
            while cols.len() < ncol {
                cols.push("7".into());
            }
            cols.truncate(ncol);
            s.push_str(&cols.join(","));
            s.push_str(
                ["\n", "\n", "\n", "\r\n", "\r\r\n", "\n\n", "\n\r\n"][rng.random_range(0..7)],
            );
        }
        if rng.random_bool(0.3) {
            while s.ends_with('\n') || s.ends_with('\r') {
                s.pop();
            }
        }
        s.into_bytes()
    }

    #[test]
    fn same_results_as_the_reference_reader() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20240101);
        for i in 0..20_000 {
            let text = random_text(&mut rng);
            for repair in [false, true] {
                let opts = ReadOptions {
                    interval_ms: if i % 3 == 0 { None } else { Some(3_600_000) },
                    repair,
                };
                check_same(&text, &opts);
            }
        }
    }

    #[test]
    fn files_read_as_the_reference_reader() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("klines_files_test_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = String::from("open_time,open,high,low,close,volume,close_time,quote_volume,trades,taker_buy_base,taker_buy_quote\n");
        for i in 0..30_000i64 {
            let t = 1_600_000_000_000 / 3_600_000 * 3_600_000 + i * 3_600_000;
            let o = 100.0 + (i % 97) as f64 * 0.37;
            text.push_str(&format!(
                "{t},{o:.2},{:.2},{:.2},{:.2},{:.5},{},{:.8},{},,\r\n",
                o + 1.0,
                o - 1.0,
                o + 0.5,
                i as f64 * 1.234567,
                t + 3_599_999,
                i as f64 * 98765.4321,
                i % 1000
            ));
        }
        let opts = ReadOptions::default();
        let want = outcome(reference_read_csv(text.as_bytes(), &opts));
        assert!(want.is_ok());
        let csv = dir.join("a.csv");
        std::fs::write(&csv, &text).unwrap();
        assert_eq!(outcome(read_file(&csv, &opts)), want);
        // Two gzip members, split mid-line.
        let gz = dir.join("a.csv.gz");
        let (a, b) = text.as_bytes().split_at(text.len() / 2 + 7);
        let mut bytes = Vec::new();
        for part in [a, b] {
            let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            bytes.extend(e.finish().unwrap());
        }
        std::fs::write(&gz, &bytes).unwrap();
        assert_eq!(outcome(read_file(&gz, &opts)), want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn same_numbers_as_fast_float2() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..200_000 {
            let s = random_number(&mut rng);
            let b = s.as_bytes();
            let mut i = 0;
            let got = if b.is_empty() {
                None
            } else {
                fast_decimal(b, b.len(), &mut i)
            };
            let want = fast_float2::parse::<f64, _>(b)
                .ok()
                .filter(|v| v.is_finite());
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{s:?}");
            if got.is_some() {
                assert_eq!(i, b.len(), "{s:?}");
            }
            // Ended by a comma, with text after it.
            let t = format!("{s},12.5");
            let mut j = 0;
            if !s.is_empty() && !s.contains(',') {
                let got = fast_decimal(t.as_bytes(), t.len(), &mut j);
                assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{t:?}");
            }
        }
        // Every length and digit position of the word-at-a-time digit reader.
        for n in 1..=19usize {
            for _ in 0..200 {
                let s: String = (0..n)
                    .map(|_| (b'0' + rng.random_range(0..10u8)) as char)
                    .collect();
                let (v, len) = digits(s.as_bytes(), 0);
                let want = n.min(16);
                assert_eq!(len, want, "{s}");
                assert_eq!(v, s[..want].parse::<u64>().unwrap(), "{s}");
            }
        }
    }
}
