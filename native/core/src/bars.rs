//! Column layouts shared by the kernels.

/// Klines as read from a file: one row per bar, sorted, validated, not yet on a grid.
/// Optional columns (quote volume, trades, taker volumes) are NaN where the source left them empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Klines {
    pub open_time: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
    pub quote_volume: Vec<f64>,
    pub trades: Vec<f64>,
    pub taker_buy_base: Vec<f64>,
    pub taker_buy_quote: Vec<f64>,
}

impl Klines {
    pub fn len(&self) -> usize {
        self.open_time.len()
    }
    pub fn is_empty(&self) -> bool {
        self.open_time.is_empty()
    }
    pub fn with_capacity(n: usize) -> Self {
        Klines {
            open_time: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
            quote_volume: Vec::with_capacity(n),
            trades: Vec::with_capacity(n),
            taker_buy_base: Vec::with_capacity(n),
            taker_buy_quote: Vec::with_capacity(n),
        }
    }
    /// Rows in the order given by `idx`.
    pub fn take(&self, idx: &[usize]) -> Klines {
        let g = |v: &Vec<f64>| idx.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        Klines {
            open_time: idx.iter().map(|&i| self.open_time[i]).collect(),
            open: g(&self.open),
            high: g(&self.high),
            low: g(&self.low),
            close: g(&self.close),
            volume: g(&self.volume),
            quote_volume: g(&self.quote_volume),
            trades: g(&self.trades),
            taker_buy_base: g(&self.taker_buy_base),
            taker_buy_quote: g(&self.taker_buy_quote),
        }
    }
    pub fn append(&mut self, other: Klines) {
        self.open_time.extend(other.open_time);
        self.open.extend(other.open);
        self.high.extend(other.high);
        self.low.extend(other.low);
        self.close.extend(other.close);
        self.volume.extend(other.volume);
        self.quote_volume.extend(other.quote_volume);
        self.trades.extend(other.trades);
        self.taker_buy_base.extend(other.taker_buy_base);
        self.taker_buy_quote.extend(other.taker_buy_quote);
    }
}

/// Bars on a complete UTC grid: row i opens at `start + i * interval_ms`.
///
/// Missing bars are never invented: `present[i] == 0` and the price columns are NaN.
/// `n_sub`/`n_expected` count base bars (the finest interval the bar was built from) that
/// were present / that the bin could hold; both are 0 when coverage is unknown (a native
/// coarse file with no finer data beside it). `rv` is the realized variance of the bar from
/// the log returns of its sub-bars (NaN when the bar was not built from sub-bars).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GridBars {
    pub interval_ms: i64,
    pub start: i64,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
    pub quote_volume: Vec<f64>,
    pub trades: Vec<f64>,
    pub taker_buy_base: Vec<f64>,
    pub taker_buy_quote: Vec<f64>,
    pub rv: Vec<f64>,
    pub n_returns: Vec<u32>,
    pub n_sub: Vec<u32>,
    pub n_expected: Vec<u32>,
    pub present: Vec<u8>,
}

/// A borrowed view of a grid: what the resampler reads. Lets the binding hand JS typed arrays
/// to a kernel without copying them.
#[derive(Debug, Clone, Copy)]
pub struct GridView<'a> {
    pub interval_ms: i64,
    pub start: i64,
    pub open: &'a [f64],
    pub high: &'a [f64],
    pub low: &'a [f64],
    pub close: &'a [f64],
    pub volume: &'a [f64],
    pub quote_volume: &'a [f64],
    pub trades: &'a [f64],
    pub taker_buy_base: &'a [f64],
    pub taker_buy_quote: &'a [f64],
    pub n_sub: &'a [u32],
    pub n_expected: &'a [u32],
    pub present: &'a [u8],
}

impl GridView<'_> {
    pub fn len(&self) -> usize {
        self.present.len()
    }
    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }
    pub fn end(&self) -> i64 {
        self.start + self.len() as i64 * self.interval_ms
    }
    pub fn open_time(&self, i: usize) -> i64 {
        self.start + i as i64 * self.interval_ms
    }
    /// Every column as long as `present`.
    pub fn check(&self) -> Result<(), crate::DataError> {
        let n = self.len();
        let f = [
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            self.quote_volume,
            self.trades,
            self.taker_buy_base,
            self.taker_buy_quote,
        ];
        if f.iter().any(|c| c.len() != n) || self.n_sub.len() != n || self.n_expected.len() != n {
            return Err(crate::DataError::arg("grid columns have different lengths"));
        }
        Ok(())
    }
}

impl GridBars {
    pub fn view(&self) -> GridView<'_> {
        GridView {
            interval_ms: self.interval_ms,
            start: self.start,
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            volume: &self.volume,
            quote_volume: &self.quote_volume,
            trades: &self.trades,
            taker_buy_base: &self.taker_buy_base,
            taker_buy_quote: &self.taker_buy_quote,
            n_sub: &self.n_sub,
            n_expected: &self.n_expected,
            present: &self.present,
        }
    }

    pub fn len(&self) -> usize {
        self.present.len()
    }
    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }
    pub fn end(&self) -> i64 {
        self.start + self.len() as i64 * self.interval_ms
    }
    pub fn open_time(&self, i: usize) -> i64 {
        self.start + i as i64 * self.interval_ms
    }
    /// Bit-for-bit equality (NaN equals NaN), for determinism checks.
    pub fn same_bits(&self, o: &GridBars) -> bool {
        let f = |a: &Vec<f64>, b: &Vec<f64>| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        };
        self.interval_ms == o.interval_ms
            && self.start == o.start
            && f(&self.open, &o.open)
            && f(&self.high, &o.high)
            && f(&self.low, &o.low)
            && f(&self.close, &o.close)
            && f(&self.volume, &o.volume)
            && f(&self.quote_volume, &o.quote_volume)
            && f(&self.trades, &o.trades)
            && f(&self.taker_buy_base, &o.taker_buy_base)
            && f(&self.taker_buy_quote, &o.taker_buy_quote)
            && f(&self.rv, &o.rv)
            && self.n_returns == o.n_returns
            && self.n_sub == o.n_sub
            && self.n_expected == o.n_expected
            && self.present == o.present
    }

    /// An empty grid of `n` missing bars.
    pub fn missing(interval_ms: i64, start: i64, n: usize) -> Self {
        let nan = || vec![f64::NAN; n];
        GridBars {
            interval_ms,
            start,
            open: nan(),
            high: nan(),
            low: nan(),
            close: nan(),
            volume: nan(),
            quote_volume: nan(),
            trades: nan(),
            taker_buy_base: nan(),
            taker_buy_quote: nan(),
            rv: nan(),
            n_returns: vec![0; n],
            n_sub: vec![0; n],
            n_expected: vec![0; n],
            present: vec![0; n],
        }
    }
}
