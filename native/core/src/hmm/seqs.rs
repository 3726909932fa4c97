//! Sequence bounds and the fixed-size blocks parallel loops run over.

use super::BLOCK;
use crate::error::DataError;

/// The sequences of X (start row, length) and blocks of at most `BLOCK` rows that never cross
/// a sequence boundary, in time order.
#[derive(Debug, Clone)]
pub(crate) struct Seqs {
    pub t: usize,
    /// (start, len) per sequence.
    pub seqs: Vec<(usize, usize)>,
    /// Blocks in time order.
    pub blocks: Vec<Block>,
}

/// At most `BLOCK` rows [start, end) of one sequence, which is [seq_start, seq_end) and has
/// index `seq` in `Seqs::seqs`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Block {
    pub start: usize,
    pub end: usize,
    pub seq: usize,
    pub seq_start: usize,
    pub seq_end: usize,
}

impl Seqs {
    pub fn new(t: usize, lengths: Option<&[usize]>) -> Result<Seqs, DataError> {
        let mut seqs = Vec::new();
        match lengths {
            None => seqs.push((0, t)),
            Some(ls) => {
                if ls.is_empty() {
                    return Err(DataError::arg("lengths is empty"));
                }
                let mut s = 0usize;
                for (i, &l) in ls.iter().enumerate() {
                    if l == 0 {
                        return Err(DataError::arg(format!(
                            "lengths[{i}] is 0; every sequence needs an observation"
                        )));
                    }
                    seqs.push((s, l));
                    s = s.saturating_add(l);
                }
                if s != t {
                    return Err(DataError::arg(format!(
                        "lengths sum to {s} but X has {t} rows"
                    )));
                }
            }
        }
        let mut blocks = Vec::new();
        for (i, &(s, l)) in seqs.iter().enumerate() {
            let mut b = s;
            while b < s + l {
                let e = (b + BLOCK).min(s + l);
                blocks.push(Block {
                    start: b,
                    end: e,
                    seq: i,
                    seq_start: s,
                    seq_end: s + l,
                });
                b = e;
            }
        }
        Ok(Seqs { t, seqs, blocks })
    }
}

/// Split `buf` (rows of `width` values) into one mutable slice per sequence.
pub(crate) fn split_rows<'a, T>(
    buf: &'a mut [T],
    seqs: &[(usize, usize)],
    width: usize,
) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(seqs.len());
    let mut rest = buf;
    for &(_, l) in seqs {
        let (a, b) = rest.split_at_mut(l * width);
        out.push(a);
        rest = b;
    }
    out
}
