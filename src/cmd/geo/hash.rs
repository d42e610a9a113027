//! Redis's geohash, pure: a position as a 52-bit score (latitude and longitude bits
//! interleaved, 26 steps each, over Redis's Web-Mercator latitude limits), back to the
//! centre of its cell, the standard 11-character geohash, and the haversine distance on
//! Redis's Earth. Every operation is `geohash.c`'s and `geohash_helper.c`'s, in the same
//! order, so scores, positions and distances come out bit for bit the same.

pub const LONGITUDE_MIN: f64 = -180.0;
pub const LONGITUDE_MAX: f64 = 180.0;
pub const LATITUDE_MIN: f64 = -85.05112878;
pub const LATITUDE_MAX: f64 = 85.05112878;
/// 26 steps per coordinate: 52 bits, exact in a double score.
pub const STEPS: u8 = 26;
pub const EARTH_RADIUS_METERS: f64 = 6372797.560856;

fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "the value is masked to 32 bits first"
)]
fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Whether Redis accepts the pair for GEOADD.
pub fn valid(longitude: f64, latitude: f64) -> bool {
    (LONGITUDE_MIN..=LONGITUDE_MAX).contains(&longitude)
        && (LATITUDE_MIN..=LATITUDE_MAX).contains(&latitude)
}

/// The interleaved bits of `steps` steps per coordinate over the given latitude range
/// (`geohashEncode`); the caller has checked the position is within it.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "Redis converts the offsets (0 to 2^steps) to uint32_t, truncating: so must we"
)]
fn encode_in(longitude: f64, latitude: f64, lat_min: f64, lat_max: f64, steps: u8) -> u64 {
    let lat_offset = (latitude - lat_min) / (lat_max - lat_min);
    let long_offset = (longitude - LONGITUDE_MIN) / (LONGITUDE_MAX - LONGITUDE_MIN);
    let scale = (1u64 << steps) as f64;
    // C converts the doubles to uint32_t, truncating.
    spread((lat_offset * scale) as u32) | (spread((long_offset * scale) as u32) << 1)
}

/// The score of a valid position.
pub fn encode(longitude: f64, latitude: f64) -> u64 {
    encode_in(longitude, latitude, LATITUDE_MIN, LATITUDE_MAX, STEPS)
}

/// A geohash cell: `steps` steps per coordinate, its bits interleaved in the low
/// `2 * steps` bits (Redis's `GeoHashBits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub steps: u8,
}

/// A cell's extent in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub longitude_min: f64,
    pub longitude_max: f64,
    pub latitude_min: f64,
    pub latitude_max: f64,
}

impl Cell {
    /// The cell of `steps` steps (1 to 26) holding a valid position.
    pub fn containing(longitude: f64, latitude: f64, steps: u8) -> Cell {
        debug_assert!((1..=STEPS).contains(&steps) && valid(longitude, latitude));
        Cell {
            bits: encode_in(longitude, latitude, LATITUDE_MIN, LATITUDE_MAX, steps),
            steps,
        }
    }

    /// The extent of the cell (`geohashDecode`).
    #[allow(
        clippy::cast_possible_truncation,
        reason = "each coordinate's cell number has at most 26 bits"
    )]
    pub fn area(self) -> Area {
        let lat_cell = squash(self.bits);
        let long_cell = squash(self.bits >> 1);
        let cells = (1u64 << self.steps) as f64;
        let lat_scale = LATITUDE_MAX - LATITUDE_MIN;
        let long_scale = LONGITUDE_MAX - LONGITUDE_MIN;
        Area {
            latitude_min: LATITUDE_MIN + (f64::from(lat_cell) * 1.0 / cells) * lat_scale,
            latitude_max: LATITUDE_MIN + ((f64::from(lat_cell) + 1.0) * 1.0 / cells) * lat_scale,
            longitude_min: LONGITUDE_MIN + (f64::from(long_cell) * 1.0 / cells) * long_scale,
            longitude_max: LONGITUDE_MIN
                + ((f64::from(long_cell) + 1.0) * 1.0 / cells) * long_scale,
        }
    }

    /// The cell `dx` cells east (negative: west) and `dy` north (negative: south), wrapping
    /// around at the edges as Redis's `geohash_move_x`/`geohash_move_y` do.
    pub fn moved(self, dx: i8, dy: i8) -> Cell {
        let width = 64 - u32::from(self.steps) * 2;
        let mut longitude_bits = self.bits & 0xAAAA_AAAA_AAAA_AAAA;
        let mut latitude_bits = self.bits & 0x5555_5555_5555_5555;
        let step = |bits: u64, d: i8, filler: u64, mask: u64| -> u64 {
            let moved = match d.signum() {
                1 => bits.wrapping_add(filler + 1),
                -1 => (bits | filler).wrapping_sub(filler + 1),
                _ => return bits,
            };
            moved & mask
        };
        longitude_bits = step(
            longitude_bits,
            dx,
            0x5555_5555_5555_5555 >> width,
            0xAAAA_AAAA_AAAA_AAAA >> width,
        );
        latitude_bits = step(
            latitude_bits,
            dy,
            0xAAAA_AAAA_AAAA_AAAA >> width,
            0x5555_5555_5555_5555 >> width,
        );
        Cell {
            bits: longitude_bits | latitude_bits,
            steps: self.steps,
        }
    }

    /// The scores of the members inside the cell: from the first (inclusive) to the last
    /// (exclusive), its bits aligned to 52.
    pub fn score_range(self) -> (u64, u64) {
        let shift = 52 - u32::from(self.steps) * 2;
        (self.bits << shift, (self.bits + 1) << shift)
    }
}

/// The centre of a score's cell as (longitude, latitude), clamped to the valid ranges.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "Redis converts the score to uint64_t, truncating: so must we"
)]
pub fn decode(score: f64) -> (f64, f64) {
    // C converts the double score to uint64_t, truncating.
    let area = Cell {
        bits: score as u64,
        steps: STEPS,
    }
    .area();
    let longitude =
        ((area.longitude_min + area.longitude_max) / 2.0).clamp(LONGITUDE_MIN, LONGITUDE_MAX);
    let latitude =
        ((area.latitude_min + area.latitude_max) / 2.0).clamp(LATITUDE_MIN, LATITUDE_MAX);
    (longitude, latitude)
}

/// The standard geohash of a score's position: re-encoded over latitudes -90..90, 10
/// characters of 5 bits and an eleventh of 0, as GEOHASH answers.
pub fn geohash_string(score: f64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (longitude, latitude) = decode(score);
    let bits = encode_in(longitude, latitude, -90.0, 90.0, STEPS);
    (0..11)
        .map(|i| {
            let index = if i == 10 {
                0
            } else {
                ((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize
            };
            char::from(ALPHABET[index])
        })
        .collect()
}

pub fn radians(degrees: f64) -> f64 {
    degrees * (std::f64::consts::PI / 180.0)
}

/// The north-south distance in meters between two latitudes (`geohashGetLatDistance`).
pub fn latitude_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_METERS * (radians(lat2) - radians(lat1)).abs()
}

/// Haversine distance in meters (`geohashGetDistance`).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = radians(lon1);
    let lon2r = radians(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        // Same longitude: the latitude distance alone.
        return latitude_distance(lat1, lat2);
    }
    let lat1r = radians(lat1);
    let lat2r = radians(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_METERS * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaving_round_trips() {
        for v in [0u32, 1, 0x3FF_FFFF, 0x155_5555, 12345] {
            assert_eq!(squash(spread(v)), v);
        }
    }

    /// Scores and answers redis-server 7.0.15 gives for Palermo and Catania (its docs'
    /// example): GEOADD's scores, GEOHASH, GEODIST in meters.
    #[test]
    fn as_redis_computes_them() {
        let palermo = encode(13.361389, 38.115556);
        let catania = encode(15.087269, 37.502669);
        assert_eq!(palermo, 3479099956230698);
        assert_eq!(catania, 3479447370796909);
        assert_eq!(geohash_string(palermo as f64), "sqc8b49rny0");
        assert_eq!(geohash_string(catania as f64), "sqdtr74hyu0");
        let (lon1, lat1) = decode(palermo as f64);
        let (lon2, lat2) = decode(catania as f64);
        assert_eq!(
            format!("{:.4}", distance(lon1, lat1, lon2, lat2)),
            "166274.1516"
        );
    }
}
