//! The generator behind scripts' `math.random`: the 48-bit linear congruential generator of
//! POSIX `lrand48`, which Redis uses so that a seeded script draws the same numbers on every
//! platform. Same seed, same sequence as redis-server.

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const INCREMENT: u64 = 0xB;
const MASK_48: u64 = (1 << 48) - 1;
/// The low 16 bits every seed is completed with (POSIX `srand48`).
const SEED_LOW: u64 = 0x330E;
/// The state before any seed (Redis starts from it).
const INITIAL_STATE: u64 = 0x1234_ABCD_330E;

/// The largest value `next` divides by when it makes a fraction (Redis's
/// `REDIS_LRAND48_MAX`).
pub const LRAND48_MAX: u32 = i32::MAX as u32;

#[derive(Debug, Clone)]
pub struct Lrand48 {
    state: u64,
}

impl Default for Lrand48 {
    fn default() -> Lrand48 {
        Lrand48 {
            state: INITIAL_STATE,
        }
    }
}

impl Lrand48 {
    /// `srand48(seed)`: the seed's 32 bits above the fixed low half-word.
    pub fn seed(&mut self, seed: i32) {
        self.state = ((u64::from(seed as u32)) << 16 | SEED_LOW) & MASK_48;
    }

    /// `lrand48()`: the top 31 bits of the next state.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the state is 48 bits: 31 remain"
    )]
    pub fn draw(&mut self) -> u32 {
        self.state = (self.state.wrapping_mul(MULTIPLIER).wrapping_add(INCREMENT)) & MASK_48;
        (self.state >> 17) as u32
    }

    /// A fraction in [0, 1), as Redis's `math.random` computes it.
    pub fn next_fraction(&mut self) -> f64 {
        f64::from(self.draw() % LRAND48_MAX) / f64::from(LRAND48_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_posix_lrand48() {
        // Checked against the C library's own generator.
        let mut rng = Lrand48::default();
        rng.seed(0);
        let ours = [rng.draw(), rng.draw()];
        unsafe { libc::srand48(0) };
        let theirs =
            unsafe { [libc::lrand48(), libc::lrand48()] }.map(|v| u32::try_from(v).unwrap());
        assert_eq!(ours, theirs);
        let mut rng = Lrand48::default();
        rng.seed(-7);
        unsafe { libc::srand48(-7) };
        for _ in 0..5 {
            assert_eq!(
                rng.draw(),
                u32::try_from(unsafe { libc::lrand48() }).unwrap()
            );
        }
    }
}
