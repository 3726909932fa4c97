//! Clustering: k-means (k-means++ seeding, Lloyd), Gaussian mixtures (EM, full/diagonal
//! covariance), silhouette. Being written; the signatures below are the contract the HMM
//! initialisation codes against.

use crate::error::DataError;

/// Covariance structure of Gaussian components (shared by the mixture and the HMM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CovType {
    Full,
    Diag,
    Tied,
    Spherical,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// k × d, row-major.
    pub centers: Vec<f64>,
    pub labels: Vec<usize>,
    pub inertia: f64,
    pub n_iter: usize,
}

/// k-means++ seeding of k centers from the n × d row-major points.
pub fn kmeans_pp_init(_x: &[f64], _n: usize, _d: usize, _k: usize, _seed: u64) -> Result<Vec<f64>, DataError> {
    Err(DataError::arg("kmeans_pp_init: pending"))
}

/// Lloyd iterations from the given centers until assignments stop changing (or max_iter).
pub fn kmeans(_x: &[f64], _n: usize, _d: usize, _centers: &[f64], _max_iter: usize) -> Result<KMeans, DataError> {
    Err(DataError::arg("kmeans: pending"))
}

#[derive(Debug, Clone, PartialEq)]
pub struct GmmOptions {
    pub k: usize,
    pub cov_type: CovType,
    pub max_iter: usize,
    pub tol: f64,
    pub reg_covar: f64,
    pub n_init: usize,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gmm {
    pub cov_type: CovType,
    pub weights: Vec<f64>,
    /// k × d
    pub means: Vec<f64>,
    /// Full: k × d × d; Diag: k × d; Tied: d × d; Spherical: k.
    pub covars: Vec<f64>,
    pub d: usize,
    pub loglik: f64,
    pub n_iter: usize,
    pub converged: bool,
}

pub fn gmm_fit(_x: &[f64], _n: usize, _d: usize, _o: &GmmOptions) -> Result<Gmm, DataError> {
    Err(DataError::arg("gmm_fit: pending"))
}
