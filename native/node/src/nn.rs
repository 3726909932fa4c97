//! Binding of regime_core::nn: parameter layouts, deterministic init, inference forward
//! (probabilities and the LSTM's attention weights) and asynchronous training with per-epoch
//! progress. Training copies its inputs (a few MB) so JS may reuse its arrays at once.

use crate::{data_err, guard, pool};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use regime_core::nn::graph_model::{GraphInput, GraphModel, GraphSpec};
use regime_core::nn::lstm_model::{LstmInput, LstmModel, LstmSpec};
use regime_core::nn::train::{self, EpochReport, TrainConfig, TrainOutcome};
use regime_core::nn::{Model, ParamTensor};
use regime_core::DataError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// A network architecture. `kind: 'lstm'` uses features, window, hidden1, hidden2;
/// `kind: 'graph'` uses nodes, features, market, hidden, readout. See docs/neural.md.
#[napi(object)]
#[derive(Clone)]
pub struct JsNetSpec {
    pub kind: String,
    pub features: u32,
    pub classes: u32,
    pub dropout: f64,
    pub window: Option<u32>,
    pub hidden1: Option<u32>,
    pub hidden2: Option<u32>,
    pub nodes: Option<u32>,
    pub market: Option<u32>,
    pub hidden: Option<u32>,
    pub readout: Option<u32>,
}

/// Inputs of a batch: lstm `x [n, window, features]`; graph `x [n, nodes, features]`,
/// `adj [n, nodes, nodes]`, `mask [n, nodes]`, `market [n, market]`.
#[napi(object)]
pub struct JsNetInputs {
    pub x: Float32Array,
    pub adj: Option<Float32Array>,
    pub mask: Option<Float32Array>,
    pub market: Option<Float32Array>,
}

#[napi(object)]
pub struct JsParamTensor {
    pub name: String,
    pub shape: Vec<u32>,
    pub offset: u32,
}

#[napi(object)]
pub struct JsTrainConfig {
    pub lr: f64,
    pub weight_decay: f64,
    pub batch_size: u32,
    pub max_epochs: u32,
    pub patience: u32,
    pub clip_norm: f64,
    pub seed: u32,
    pub class_weights: Vec<f64>,
    pub chunk: Option<u32>,
}

#[napi(object)]
pub struct JsEpochReport {
    pub epoch: u32,
    pub train_loss: f64,
    pub val_loss: f64,
    pub val_accuracy: f64,
    pub val_macro_f1: f64,
    pub best_epoch: u32,
    pub best_val_macro_f1: f64,
    pub seconds: f64,
}

#[napi(object)]
pub struct JsTrainOutcome {
    pub params: Float32Array,
    pub best_epoch: u32,
    pub best_val_macro_f1: f64,
    pub history: Vec<JsEpochReport>,
    pub stopped_early: bool,
    pub cancelled: bool,
}

enum Net {
    Lstm(LstmModel),
    Graph(GraphModel),
}

fn need(v: Option<u32>, what: &str, kind: &str) -> Result<usize> {
    v.map(|x| x as usize)
        .ok_or_else(|| data_err(DataError::arg(format!("a '{kind}' network needs '{what}'"))))
}

fn net(s: &JsNetSpec) -> Result<Net> {
    match s.kind.as_str() {
        "lstm" => LstmModel::new(LstmSpec {
            features: s.features as usize,
            window: need(s.window, "window", "lstm")?,
            hidden1: need(s.hidden1, "hidden1", "lstm")?,
            hidden2: need(s.hidden2, "hidden2", "lstm")?,
            classes: s.classes as usize,
            dropout: s.dropout,
        })
        .map(Net::Lstm)
        .map_err(data_err),
        "graph" => GraphModel::new(GraphSpec {
            nodes: need(s.nodes, "nodes", "graph")?,
            features: s.features as usize,
            market: need(s.market, "market", "graph")?,
            hidden: need(s.hidden, "hidden", "graph")?,
            readout: need(s.readout, "readout", "graph")?,
            classes: s.classes as usize,
            dropout: s.dropout,
        })
        .map(Net::Graph)
        .map_err(data_err),
        k => Err(data_err(DataError::arg(format!("unknown network kind '{k}' (lstm, graph)")))),
    }
}

/// Owned copies of a batch's inputs.
struct Owned {
    x: Vec<f32>,
    adj: Vec<f32>,
    mask: Vec<f32>,
    market: Vec<f32>,
}

/// Shape checks the kernels' own checks cannot phrase in the caller's terms.
fn check_inputs(spec: &JsNetSpec, i: &JsNetInputs, name: &str) -> Result<()> {
    if spec.kind == "lstm" {
        let per = spec.window.unwrap_or(1) as usize * spec.features as usize;
        if per == 0 || !i.x.len().is_multiple_of(per) {
            return Err(data_err(DataError::arg(format!(
                "{name}: x has {} values, not a multiple of window × features = {per}",
                i.x.len()
            ))));
        }
    } else if i.adj.is_none() || i.mask.is_none() || i.market.is_none() {
        return Err(data_err(DataError::arg(format!("{name}: a 'graph' network needs inputs x, adj, mask and market"))));
    }
    Ok(())
}

fn owned(i: &JsNetInputs) -> Owned {
    Owned {
        x: i.x.to_vec(),
        adj: i.adj.as_ref().map(|a| a.to_vec()).unwrap_or_default(),
        mask: i.mask.as_ref().map(|a| a.to_vec()).unwrap_or_default(),
        market: i.market.as_ref().map(|a| a.to_vec()).unwrap_or_default(),
    }
}

fn graph_input(o: &Owned) -> GraphInput<'_, f32> {
    GraphInput { x: &o.x, adj: &o.adj, mask: &o.mask, market: &o.market }
}

fn layout_js(l: Vec<ParamTensor>) -> Vec<JsParamTensor> {
    l.into_iter()
        .map(|t| JsParamTensor { name: t.name, shape: t.shape.iter().map(|&d| d as u32).collect(), offset: t.offset as u32 })
        .collect()
}

fn check_params(n: usize, p: &[f32]) -> Result<()> {
    if p.len() != n {
        return Err(data_err(DataError::arg(format!("params has {} values, the network needs {n}", p.len()))));
    }
    Ok(())
}

/// The network's parameter tensors in their order in the flat parameter array.
#[napi]
pub fn nn_layout(spec: JsNetSpec) -> Result<Vec<JsParamTensor>> {
    guard("nnLayout", || {
        Ok(layout_js(match net(&spec)? {
            Net::Lstm(m) => <LstmModel as Model<f32>>::layout(&m),
            Net::Graph(m) => <GraphModel as Model<f32>>::layout(&m),
        }))
    })
}

/// Deterministic initial parameters from `seed`.
#[napi]
pub fn nn_init(spec: JsNetSpec, seed: u32) -> Result<Float32Array> {
    guard("nnInit", || {
        Ok(Float32Array::new(match net(&spec)? {
            Net::Lstm(m) => <LstmModel as Model<f32>>::init(&m, seed as u64),
            Net::Graph(m) => <GraphModel as Model<f32>>::init(&m, seed as u64),
        }))
    })
}

/// Class probabilities `[n, classes]` in inference mode (dropout off), on the pool.
#[napi]
pub fn nn_forward_sync(spec: JsNetSpec, params: Float32Array, inputs: JsNetInputs) -> Result<Float32Array> {
    guard("nnForward", || {
        let n = net(&spec)?;
        check_inputs(&spec, &inputs, "inputs")?;
        // Read the caller's typed arrays in place: the call is synchronous, so they cannot change.
        let p: &[f32] = &params;
        let x: &[f32] = &inputs.x;
        let probs = match &n {
            Net::Lstm(m) => {
                check_params(<LstmModel as Model<f32>>::n_params(m), p)?;
                let x = LstmInput { x };
                pool::install(|| train::predict_proba(m, p, &x))?
            }
            Net::Graph(m) => {
                check_params(<GraphModel as Model<f32>>::n_params(m), p)?;
                let empty: &[f32] = &[];
                let g = GraphInput {
                    x,
                    adj: inputs.adj.as_deref().unwrap_or(empty),
                    mask: inputs.mask.as_deref().unwrap_or(empty),
                    market: inputs.market.as_deref().unwrap_or(empty),
                };
                m.check_input(&g).map_err(data_err)?;
                pool::install(|| train::predict_proba(m, p, &g))?
            }
        };
        Ok(Float32Array::new(probs))
    })
}

/// The LSTM's attention weights `[n, window]` (inference mode).
#[napi]
pub fn nn_attention_sync(spec: JsNetSpec, params: Float32Array, inputs: JsNetInputs) -> Result<Float32Array> {
    guard("nnAttention", || match net(&spec)? {
        Net::Lstm(m) => {
            check_params(<LstmModel as Model<f32>>::n_params(&m), &params)?;
            check_inputs(&spec, &inputs, "inputs")?;
            let x = LstmInput { x: &inputs.x };
            let n = <LstmModel as Model<f32>>::n_samples(&m, &x);
            let rows: Vec<usize> = (0..n).collect();
            Ok(Float32Array::new(pool::install(|| m.attention(&params, &x, &rows))?))
        }
        Net::Graph(_) => Err(data_err(DataError::arg("attention weights exist only for 'lstm' networks"))),
    })
}

type EpochFn = ThreadsafeFunction<JsEpochReport, bool, JsEpochReport, Status, false>;

pub struct NnTrainTask {
    spec: JsNetSpec,
    init: Vec<f32>,
    train: Owned,
    train_y: Vec<u32>,
    val: Owned,
    val_y: Vec<u32>,
    cfg: TrainConfig,
    progress: Option<EpochFn>,
}

fn report_js(r: &EpochReport) -> JsEpochReport {
    JsEpochReport {
        epoch: r.epoch as u32,
        train_loss: r.train_loss,
        val_loss: r.val_loss,
        val_accuracy: r.val_accuracy,
        val_macro_f1: r.val_macro_f1,
        best_epoch: r.best_epoch as u32,
        best_val_macro_f1: r.best_val_macro_f1,
        seconds: r.seconds,
    }
}

impl Task for NnTrainTask {
    type Output = TrainOutcome;
    type JsValue = JsTrainOutcome;
    fn compute(&mut self) -> Result<Self::Output> {
        let tsfn = self.progress.take();
        let stop = Arc::new(AtomicBool::new(false));
        // Wait (briefly) for the JS answer so "return false" stops after exactly that epoch; a
        // fire-and-forget call would race ahead on short epochs. The wait is bounded because
        // this runs on a pool thread: a JS thread blocked in a synchronous kernel on the same
        // pool (1 thread) would otherwise wait for us while we wait for it. A late answer still
        // stops training at the next epoch through the flag.
        let mut on_epoch = |r: &EpochReport| -> bool {
            let Some(f) = &tsfn else { return true };
            let (tx, rx) = mpsc::channel::<()>();
            let s = stop.clone();
            let status = f.call_with_return_value(report_js(r), ThreadsafeFunctionCallMode::NonBlocking, move |res: Result<bool>, _env| {
                if matches!(res, Ok(false)) {
                    s.store(true, Ordering::SeqCst);
                }
                let _ = tx.send(());
                Ok(())
            });
            if status == Status::Ok {
                let _ = rx.recv_timeout(Duration::from_secs(2));
            }
            !stop.load(Ordering::SeqCst)
        };
        let init = std::mem::take(&mut self.init);
        let (cfg, ty, vy) = (&self.cfg, &self.train_y, &self.val_y);
        guard("nnTrain", || match net(&self.spec)? {
            Net::Lstm(m) => {
                let (tx, vx) = (LstmInput { x: &self.train.x }, LstmInput { x: &self.val.x });
                pool::install(|| train::train(&m, init, &tx, ty, &vx, vy, cfg, &mut on_epoch))?.map_err(data_err)
            }
            Net::Graph(m) => {
                let (tx, vx) = (graph_input(&self.train), graph_input(&self.val));
                m.check_input(&tx).map_err(data_err)?;
                m.check_input(&vx).map_err(data_err)?;
                pool::install(|| train::train(&m, init, &tx, ty, &vx, vy, cfg, &mut on_epoch))?.map_err(data_err)
            }
        })
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(JsTrainOutcome {
            params: Float32Array::new(out.params),
            best_epoch: out.best_epoch as u32,
            best_val_macro_f1: out.best_val_macro_f1,
            history: out.history.iter().map(report_js).collect(),
            stopped_early: out.stopped_early,
            cancelled: out.cancelled,
        })
    }
}

/// Train off the JS thread from `init` parameters; `onEpoch` gets each epoch's report
/// (return false to stop). Resolves with the best parameters by validation macro-F1.
#[napi(ts_return_type = "Promise<JsTrainOutcome>")]
#[allow(clippy::too_many_arguments)]
pub fn nn_train(
    spec: JsNetSpec,
    init: Float32Array,
    train_inputs: JsNetInputs,
    train_labels: Uint32Array,
    val_inputs: JsNetInputs,
    val_labels: Uint32Array,
    config: JsTrainConfig,
    #[napi(ts_arg_type = "((report: JsEpochReport) => boolean) | undefined | null")] on_epoch: Option<EpochFn>,
) -> Result<AsyncTask<NnTrainTask>> {
    let n = net(&spec)?;
    let np = match &n {
        Net::Lstm(m) => <LstmModel as Model<f32>>::n_params(m),
        Net::Graph(m) => <GraphModel as Model<f32>>::n_params(m),
    };
    check_params(np, &init)?;
    check_inputs(&spec, &train_inputs, "train inputs")?;
    check_inputs(&spec, &val_inputs, "validation inputs")?;
    let cfg = TrainConfig {
        lr: config.lr,
        weight_decay: config.weight_decay,
        batch_size: config.batch_size as usize,
        max_epochs: config.max_epochs as usize,
        patience: config.patience as usize,
        clip_norm: config.clip_norm,
        seed: config.seed as u64,
        class_weights: config.class_weights.clone(),
        chunk: config.chunk.map(|c| c as usize).unwrap_or(TrainConfig::default().chunk),
    };
    Ok(AsyncTask::new(NnTrainTask {
        spec,
        init: init.to_vec(),
        train: owned(&train_inputs),
        train_y: train_labels.to_vec(),
        val: owned(&val_inputs),
        val_y: val_labels.to_vec(),
        cfg,
        progress: on_epoch,
    }))
}
