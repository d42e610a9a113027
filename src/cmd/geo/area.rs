//! Where a search looks, pure: the search shape, its bounding box, and the cells (one
//! around the centre and up to eight neighbours) whose score ranges cover it, as
//! `geohash_helper.c` computes them. The cells decide which members are examined and in
//! what order, and so the order of unsorted replies and which members `COUNT … ANY`
//! finds: they must be Redis's to the bit.

use super::hash::{self, Area, Cell};

/// Redis's Mercator half-width in meters, against which a radius picks its cell size.
const MERCATOR_MAX: f64 = 20037726.37;

/// What a search covers, in the search's unit (`to_meters` converts).
#[derive(Clone, Copy, Debug)]
pub enum Extent {
    Radius(f64),
    Box { width: f64, height: f64 },
}

#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub longitude: f64,
    pub latitude: f64,
    pub extent: Extent,
    /// Meters per unit of the extent.
    pub to_meters: f64,
}

impl Shape {
    /// The distance from the centre to a position in meters, if the position is inside
    /// (`geoWithinShape`).
    pub fn distance_if_within(&self, longitude: f64, latitude: f64) -> Option<f64> {
        match self.extent {
            Extent::Radius(radius) => {
                let distance = hash::distance(self.longitude, self.latitude, longitude, latitude);
                (distance <= radius * self.to_meters).then_some(distance)
            }
            Extent::Box { width, height } => {
                // The cheaper latitude test first, as Redis does.
                if hash::latitude_distance(latitude, self.latitude) > height * self.to_meters / 2.0
                {
                    return None;
                }
                if hash::distance(longitude, latitude, self.longitude, latitude)
                    > width * self.to_meters / 2.0
                {
                    return None;
                }
                Some(hash::distance(
                    self.longitude,
                    self.latitude,
                    longitude,
                    latitude,
                ))
            }
        }
    }

    /// Half the extent north-south and east-west, in meters.
    fn half_extents_meters(&self) -> (f64, f64) {
        match self.extent {
            Extent::Radius(r) => (r * self.to_meters, r * self.to_meters),
            Extent::Box { width, height } => {
                (height / 2.0 * self.to_meters, width / 2.0 * self.to_meters)
            }
        }
    }

    /// The distance that picks the cell size: the radius, or the half diagonal of a box.
    fn reach_meters(&self) -> f64 {
        let reach = match self.extent {
            Extent::Radius(r) => r,
            Extent::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        reach * self.to_meters
    }

    /// The box of positions the shape may cover (`geohashBoundingBox`): its east-west
    /// edges taken at the latitude, north or south, where degrees of longitude are
    /// shortest.
    fn bounds(&self) -> Area {
        let (height, width) = self.half_extents_meters();
        let lat_delta = (height / hash::EARTH_RADIUS_METERS).to_degrees_as_redis();
        let long_delta = |latitude: f64| {
            (width / hash::EARTH_RADIUS_METERS / hash::radians(latitude).cos())
                .to_degrees_as_redis()
        };
        let long_delta = if self.latitude < 0.0 {
            long_delta(self.latitude - lat_delta)
        } else {
            long_delta(self.latitude + lat_delta)
        };
        Area {
            longitude_min: self.longitude - long_delta,
            longitude_max: self.longitude + long_delta,
            latitude_min: self.latitude - lat_delta,
            latitude_max: self.latitude + lat_delta,
        }
    }
}

/// Radians to degrees by dividing by Redis's `M_PI / 180.0`, which rounds differently from
/// multiplying by its inverse.
trait ToDegrees {
    fn to_degrees_as_redis(self) -> f64;
}

impl ToDegrees for f64 {
    fn to_degrees_as_redis(self) -> f64 {
        self / (std::f64::consts::PI / 180.0)
    }
}

/// The cell size for a search reaching `reach_meters` at `latitude`
/// (`geohashEstimateStepsByRadius`): cells about as wide as the reach, wider near the
/// poles.
fn estimate_steps(reach_meters: f64, latitude: f64) -> u8 {
    if reach_meters == 0.0 {
        return hash::STEPS;
    }
    let mut range = reach_meters;
    let mut steps: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        steps += 1;
    }
    // Make sure the range is within most of the base cases.
    steps -= 2;
    if !(-66.0..=66.0).contains(&latitude) {
        steps -= 1;
        if !(-80.0..=80.0).contains(&latitude) {
            steps -= 1;
        }
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 1..=26 first"
    )]
    let steps = steps.clamp(1, i32::from(hash::STEPS)) as u8;
    steps
}

/// The cells to search, in Redis's order: the centre's, then north, south, east, west,
/// north-east, north-west, south-east, south-west; `None` for a neighbour the bounding box
/// does not reach (`geohashCalculateAreasByShapeWGS84`).
#[allow(
    clippy::neg_cmp_op_on_partial_ord,
    reason = "Redis's comparisons, NaN included"
)]
pub fn cells_to_search(shape: &Shape) -> [Option<Cell>; 9] {
    let bounds = shape.bounds();
    let mut steps = estimate_steps(shape.reach_meters(), shape.latitude);
    let mut centre = Cell::containing(shape.longitude, shape.latitude, steps);
    // The estimate can leave a neighbour too small to reach the bounding box's edge: then
    // cells one step larger.
    let north = centre.moved(0, 1).area();
    let south = centre.moved(0, -1).area();
    let east = centre.moved(1, 0).area();
    let west = centre.moved(-1, 0).area();
    let too_small = north.latitude_max < bounds.latitude_max
        || south.latitude_min > bounds.latitude_min
        || east.longitude_max < bounds.longitude_max
        || west.longitude_min > bounds.longitude_min;
    if steps > 1 && too_small {
        steps -= 1;
        centre = Cell::containing(shape.longitude, shape.latitude, steps);
    }
    let area = centre.area();
    let (mut north, mut south, mut east, mut west) = (true, true, true, true);
    if steps >= 2 {
        // A neighbour beyond an edge the centre cell already covers is useless. (Negated
        // comparisons, as Redis writes them, so a NaN bound keeps the neighbour.)
        south = !(area.latitude_min < bounds.latitude_min);
        north = !(area.latitude_max > bounds.latitude_max);
        west = !(area.longitude_min < bounds.longitude_min);
        east = !(area.longitude_max > bounds.longitude_max);
    }
    let neighbour = |wanted: bool, dx: i8, dy: i8| wanted.then(|| centre.moved(dx, dy));
    [
        Some(centre),
        neighbour(north, 0, 1),
        neighbour(south, 0, -1),
        neighbour(east, 1, 0),
        neighbour(west, -1, 0),
        neighbour(north && east, 1, 1),
        neighbour(north && west, -1, 1),
        neighbour(south && east, 1, -1),
        neighbour(south && west, -1, -1),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_the_reach() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        // 200 km doubled 7 times passes the Mercator half-width: 1 + 7 - 2 steps, cells
        // of about 626 km at the equator.
        assert_eq!(estimate_steps(200_000.0, 0.0), 6);
        assert_eq!(estimate_steps(200_000.0, 70.0), 5);
        assert_eq!(estimate_steps(200_000.0, -85.0), 4);
        assert_eq!(estimate_steps(1e9, 0.0), 1);
    }

    #[test]
    fn neighbours_wrap_and_return() {
        let centre = Cell::containing(13.361389, 38.115556, 10);
        for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1)] {
            assert_eq!(centre.moved(dx, dy).moved(-dx, -dy), centre);
        }
        let east = centre.moved(1, 0).area();
        let here = centre.area();
        assert!((east.longitude_min - here.longitude_max).abs() < 1e-9);
        assert_eq!(east.latitude_min, here.latitude_min);
        let north = centre.moved(0, 1).area();
        assert!((north.latitude_min - here.latitude_max).abs() < 1e-9);
    }

    #[test]
    fn a_small_radius_drops_far_neighbours() {
        let shape = Shape {
            longitude: 13.361389,
            latitude: 38.115556,
            extent: Extent::Radius(1.0),
            to_meters: 1.0,
        };
        let cells = cells_to_search(&shape);
        assert!(cells[0].is_some());
        let (low, high) = cells[0].map(Cell::score_range).unwrap_or_default();
        let palermo = hash::encode(13.361389, 38.115556);
        assert!((low..high).contains(&palermo));
    }
}
