//! Neural-network kernels: float32 training with hand-written forward and backward passes,
//! generic over [`Real`] so the gradient checks run the same code in f64.
//!
//! Layout contract shared with the ONNX exporter (`packages/models`): `docs/neural.md`.
//! All parameters of a model live in one flat `Vec<T>` described by [`Model::layout`].

pub mod activation;
pub mod attention;
pub mod dense;
pub mod dropout;
#[cfg(test)]
pub mod gradcheck;
pub mod graph;
pub mod graph_model;
pub mod loss;
pub mod lstm;
pub mod lstm_model;
pub mod model;
pub mod optim;
pub mod real;
pub mod train;

pub use graph::GraphConv;
pub use graph_model::{GraphInput, GraphModel, GraphSpec};
pub use lstm_model::{LstmInput, LstmModel, LstmSpec};
pub use model::{layout_of, DropoutCtx, Model, ParamTensor};
pub use real::Real;
pub use train::{
    class_weights, macro_f1, predict_proba, train, EpochReport, TrainConfig, TrainOutcome,
};
