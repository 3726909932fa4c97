//! Neural-network kernels: float32 training with hand-written forward and backward passes,
//! generic over [`Real`] so the gradient checks run the same code in f64.
//!
//! Layout contract shared with the ONNX exporter (`packages/models`): `docs/neural.md`.
//! All parameters of a model live in one flat `Vec<T>` described by [`Model::layout`].

pub mod model;
pub mod real;

pub use model::{layout_of, DropoutCtx, Model, ParamTensor};
pub use real::Real;
