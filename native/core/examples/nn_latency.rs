//! One-window inference latency of the SPEC `lstm` classifier, by stage: the model's forward alone,
//! then `predict_proba` (chunking, rayon) — to see where a single window's time goes.
//! `cargo run --release -p regime-core --example nn_latency`
use regime_core::nn::lstm_model::{LstmInput, LstmModel, LstmSpec};
use regime_core::nn::train::predict_proba;
use regime_core::nn::Model;
use std::time::Instant;

fn main() {
    let spec = LstmSpec {
        features: 6,
        window: 30,
        hidden1: 64,
        hidden2: 32,
        classes: 5,
        dropout: 0.3,
    };
    let m = LstmModel::new(spec).unwrap();
    let p: Vec<f32> = <LstmModel as Model<f32>>::init(&m, 1);
    let x: Vec<f32> = (0..30 * 6)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let input = LstmInput { x: &x };
    let runs = 2000;
    let mut logits = vec![0.0f32; 5];
    let t = Instant::now();
    for _ in 0..runs {
        m.forward(&p, &input, &[0], None, &mut logits);
    }
    println!(
        "forward alone: {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / runs as f64
    );
    let t = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(predict_proba(&m, &p, &input));
    }
    println!(
        "predict_proba: {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / runs as f64
    );
}
