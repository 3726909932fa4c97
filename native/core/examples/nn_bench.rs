//! Throughput of the `lstm` classifier at the SPEC size (features 6, window 30, hidden 64/32,
//! 4 classes, dropout 0.3, batch 64): training (the real `train` loop, forward + backward +
//! clip + Adam) and inference (`predict_proba`), at 1 and 2 threads.
//!
//! `cargo run --release -p regime-core --example nn_bench [n_train] [epochs] [chunk]`
//! (`NN_BENCH_ONLY=train` skips inference, for profiling.)

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use regime_core::nn::lstm_model::{LstmModel, LstmSpec};
use regime_core::nn::train::{predict_proba, train, TrainConfig};
use regime_core::nn::Model;
use std::time::Instant;

fn data(n: usize, spec: &LstmSpec, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f32> = (0..n * spec.window * spec.features)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let y: Vec<u32> = (0..n)
        .map(|i| {
            let s: f32 = (0..spec.window)
                .map(|t| x[(i * spec.window + t) * spec.features])
                .sum();
            ((s > 0.0) as u32) * 2 + (x[i * spec.window * spec.features + 1] > 0.0) as u32
        })
        .collect();
    (x, y)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n_train: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4096);
    let epochs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let chunk: usize = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(TrainConfig::default().chunk);
    let spec = LstmSpec {
        features: 6,
        window: 30,
        hidden1: 64,
        hidden2: 32,
        classes: 4,
        dropout: 0.3,
    };
    let model = LstmModel::new(spec).unwrap();
    let (x, y) = data(n_train, &spec, 1);
    let (vx, vy) = data(64, &spec, 2);
    let (ix, _) = data(8192, &spec, 3);
    let (tx, vxi, ixi) = (
        model.input(&x).unwrap(),
        model.input(&vx).unwrap(),
        model.input(&ix).unwrap(),
    );
    println!(
        "lstm {spec:?}, {} params, batch 64, chunk {chunk}",
        model.param_count()
    );

    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let cfg = TrainConfig {
            max_epochs: epochs,
            patience: 0,
            chunk,
            ..TrainConfig::default()
        };
        let out = pool
            .install(|| {
                train(&model, model.init(0), &tx, &y, &vxi, &vy, &cfg, &mut |_| {
                    true
                })
            })
            .unwrap();
        // The first epoch warms caches and the allocator; report the rest.
        let secs: f64 = out.history.iter().skip(1).map(|r| r.seconds).sum();
        let done = n_train * (out.history.len() - 1);
        println!(
            "train     {threads} thread(s): {:8.0} seq/s  ({} epochs × {n_train} samples in {secs:.2} s)",
            done as f64 / secs,
            out.history.len() - 1
        );

        if std::env::var("NN_BENCH_ONLY").is_ok_and(|v| v == "train") {
            continue;
        }
        let p: Vec<f32> = model.init(0);
        let t0 = Instant::now();
        let mut reps = 0;
        while t0.elapsed().as_secs_f64() < 2.0 {
            std::hint::black_box(pool.install(|| predict_proba(&model, &p, &ixi)));
            reps += 1;
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "inference {threads} thread(s): {:8.0} seq/s",
            (reps * 8192) as f64 / secs
        );
    }
}
