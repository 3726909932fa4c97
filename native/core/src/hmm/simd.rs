//! Runtime choice of the vector width of the data-parallel kernels (emission densities and the
//! E-step statistics). Both are written as plain loops over the rows of a sub-block; they are
//! compiled twice, for the baseline ISA (SSE2 on x86-64: 2 doubles per vector) and with AVX2
//! enabled (4 doubles), and the AVX2 copy runs when the CPU has it and `set_simd(true)` (the
//! default). FMA is deliberately not enabled: every lane then performs exactly the scalar
//! IEEE operations in the same order, so both copies give bit-identical results (tests check
//! this), and a result never depends on the machine's vector width.

use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Allow (default) or forbid the AVX2 copies of the kernels. Returns whether they will run.
pub fn set_simd(enabled: bool) -> bool {
    ENABLED.store(enabled, Ordering::Relaxed);
    simd_active()
}

/// Whether the AVX2 copies run (allowed and supported by this CPU).
pub fn simd_active() -> bool {
    ENABLED.load(Ordering::Relaxed) && avx2_supported()
}

#[cfg(target_arch = "x86_64")]
fn avx2_supported() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_supported() -> bool {
    false
}

/// Define `$name` (dispatching) from the `#[inline(always)]` generic kernel `$body`: the AVX2
/// copy when `$simd` is true and the CPU supports it, else the baseline copy.
macro_rules! multiversion {
    ($name:ident, $avx2:ident, $body:ident, ($($arg:ident : $ty:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx2<const N: usize>($($arg: $ty),*) {
            $body::<N>($($arg),*)
        }

        fn $name<const N: usize>(simd: bool, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if simd && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the AVX2 copy only requires the CPU to support AVX2, checked on the
                // line above; its body is the same safe code as the baseline copy.
                return unsafe { $avx2::<N>($($arg),*) };
            }
            let _ = simd;
            $body::<N>($($arg),*)
        }
    };
}
pub(crate) use multiversion;
