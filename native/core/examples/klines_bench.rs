//! Single-file throughput of `klines::read_file` on a normalized kline csv.
//!
//! Generates (seeded, deterministic) 1,000,000 hourly rows into a temp dir, in two shapes:
//! "full" (every column filled, ~126 bytes a row) and "sparse" (the last four columns empty,
//! as in `../shared/data/klines`), each as plain `.csv` and as `.csv.gz`; then times
//! `read_file` on each (median of 5) and prints rows/s and MB/s of csv text.
//!
//! `cargo run --release -p regime-core --example klines_bench [rows] [reps]`
//! (`KLINES_BENCH_ONLY=full|sparse` runs one shape, `=memory` only the in-memory parse.)

use flate2::write::GzEncoder;
use flate2::Compression;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use regime_core::klines::{read_csv, read_file, ReadOptions};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

const HEADER: &str = "open_time,open,high,low,close,volume,close_time,quote_volume,trades,taker_buy_base,taker_buy_quote\n";

fn generate(rows: usize, full: bool, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut s = String::with_capacity(rows * 130 + HEADER.len());
    s.push_str(HEADER);
    let mut t: i64 = 1_502_942_400_000;
    let mut price: f64 = 42_283.58;
    for _ in 0..rows {
        let o = price;
        let c = (o * (1.0 + rng.random_range(-0.01..0.01))).max(0.01);
        let h = o.max(c) * (1.0 + rng.random_range(0.0..0.005));
        let l = o.min(c) * (1.0 - rng.random_range(0.0..0.005));
        let (o, h, l, c) = (r2(o), r2(h), r2(l), r2(c));
        let (h, l) = (h.max(o).max(c), l.min(o).min(c));
        let v: f64 = rng.random_range(10.0..5000.0);
        write!(s, "{t},{o},{h},{l},{c},{v:.5},{}", t + 3_599_999).unwrap();
        if full {
            let qv = v * c;
            let n: u32 = rng.random_range(100..90_000);
            let tb = v * rng.random_range(0.2..0.8);
            writeln!(s, ",{qv:.8},{n},{tb:.5},{:.8}", tb * c).unwrap();
        } else {
            s.push_str(",,,,\n");
        }
        price = c;
        t += 3_600_000;
    }
    s
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The median; `KLINES_BENCH_MIN=1` takes the fastest run instead (steadier on a busy VM).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if std::env::var_os("KLINES_BENCH_MIN").is_some() {
        return v[0];
    }
    v[v.len() / 2]
}

fn time_read(path: &Path, reps: usize, rows: usize) -> f64 {
    let opts = ReadOptions::default();
    let mut secs = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        let r = read_file(path, &opts).expect("read_file");
        secs.push(t0.elapsed().as_secs_f64());
        assert_eq!(r.report.rows as usize, rows);
        std::hint::black_box(r);
    }
    median(secs)
}

fn time_gunzip(path: &Path, reps: usize) -> f64 {
    let mut secs = Vec::with_capacity(reps);
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..reps {
        let t0 = Instant::now();
        let f = std::fs::File::open(path).unwrap();
        let mut d =
            flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(1 << 18, f));
        while d.read(&mut buf).unwrap() > 0 {}
        secs.push(t0.elapsed().as_secs_f64());
    }
    median(secs)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let reps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    // KLINES_BENCH_ONLY=full|sparse|memory narrows the run (for profiling).
    let only = std::env::var("KLINES_BENCH_ONLY").ok();
    let dir: PathBuf = std::env::temp_dir().join(format!("klines_bench_{rows}"));
    std::fs::create_dir_all(&dir).unwrap();
    println!("rows {rows}, median of {reps}, files in {}", dir.display());
    for (label, full, seed) in [("full", true, 7u64), ("sparse", false, 11u64)] {
        let csv = dir.join(format!("{label}.csv"));
        let gz = dir.join(format!("{label}.csv.gz"));
        if !csv.exists() || !gz.exists() {
            let text = generate(rows, full, seed);
            std::fs::write(&csv, &text).unwrap();
            let mut enc =
                GzEncoder::new(std::fs::File::create(&gz).unwrap(), Compression::default());
            enc.write_all(text.as_bytes()).unwrap();
            enc.finish().unwrap();
        }
        let bytes = std::fs::metadata(&csv).unwrap().len() as f64;
        if only.as_deref().is_some_and(|o| o != label && o != "memory") {
            continue;
        }
        if only.as_deref() != Some("memory") {
            let _ = read_file(&csv, &ReadOptions::default()).unwrap(); // warm the page cache
            let s = time_read(&csv, reps, rows);
            println!(
                "{label:6} csv    {:6.3} s  {:6.2} M rows/s  {:7.1} MB/s  ({:.0} bytes/row)",
                s,
                rows as f64 / s / 1e6,
                bytes / s / 1e6,
                bytes / rows as f64
            );
        }
        let text = std::fs::read(&csv).unwrap();
        let mut secs = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t0 = Instant::now();
            let r = read_csv(&text[..], "mem", &ReadOptions::default()).unwrap();
            secs.push(t0.elapsed().as_secs_f64());
            std::hint::black_box(r);
        }
        let s = median(secs);
        println!(
            "{label:6} memory {:6.3} s  {:6.2} M rows/s  {:7.1} MB/s  (read_csv on bytes in memory)",
            s,
            rows as f64 / s / 1e6,
            bytes / s / 1e6
        );
        drop(text);
        if only.as_deref() == Some("memory") {
            continue;
        }
        let s = time_read(&gz, reps, rows);
        println!(
            "{label:6} csv.gz {:6.3} s  {:6.2} M rows/s  {:7.1} MB/s of csv",
            s,
            rows as f64 / s / 1e6,
            bytes / s / 1e6
        );
        let s = time_gunzip(&gz, reps);
        println!(
            "{label:6} gunzip {:6.3} s  {:6.2} M rows/s  {:7.1} MB/s of csv (decompression alone)",
            s,
            rows as f64 / s / 1e6,
            bytes / s / 1e6
        );
    }
}
