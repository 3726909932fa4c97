//! The interface every trainable network implements; the trainer (`train.rs`) and the
//! binding only see this trait, so the LSTM classifier and the graph network share one
//! training loop, one deterministic reduction and one optimizer.

use super::Real;

/// One named tensor inside a model's flat parameter vector (see docs/neural.md).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
}

impl ParamTensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Builds a layout from `(name, shape)` pairs, assigning consecutive offsets.
pub fn layout_of(tensors: &[(&str, &[usize])]) -> Vec<ParamTensor> {
    let mut offset = 0;
    tensors
        .iter()
        .map(|(name, shape)| {
            let t = ParamTensor {
                name: name.to_string(),
                shape: shape.to_vec(),
                offset,
            };
            offset += t.len();
            t
        })
        .collect()
}

/// Training-mode dropout: the mask of sample `row` is drawn from a ChaCha8 stream seeded by
/// `(seed, epoch, row)`, so it does not depend on batch composition or thread count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropoutCtx {
    pub seed: u64,
    pub epoch: u64,
}

pub trait Model<T: Real>: Sync {
    /// Borrowed inputs of a whole dataset; `rows` in the calls below index its samples.
    type Input<'a>: Sync;
    /// What `forward` keeps for `backward`.
    type Cache: Send;

    fn layout(&self) -> Vec<ParamTensor>;
    fn n_params(&self) -> usize {
        self.layout().iter().map(|t| t.len()).sum()
    }
    fn n_classes(&self) -> usize;
    fn n_samples(&self, x: &Self::Input<'_>) -> usize;
    /// Deterministic initialisation from `seed`.
    fn init(&self, seed: u64) -> Vec<T>;
    /// Forward over samples `rows` of `x`, writing `logits [rows.len(), K]`.
    /// `dropout` is `Some` in training mode, `None` for inference.
    fn forward(
        &self,
        p: &[T],
        x: &Self::Input<'_>,
        rows: &[usize],
        dropout: Option<DropoutCtx>,
        logits: &mut [T],
    ) -> Self::Cache;
    /// Given `dL/dlogits [rows.len(), K]`, ADD `dL/dθ` into `grad` (same layout as `p`).
    fn backward(
        &self,
        p: &[T],
        x: &Self::Input<'_>,
        rows: &[usize],
        cache: &Self::Cache,
        dlogits: &[T],
        grad: &mut [T],
    );
}
