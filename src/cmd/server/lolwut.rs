//! LOLWUT [VERSION v] [args…]: Redis's computer art. Version 5 draws Georg Nees's
//! "Schotter" in braille dots, version 6 a skyline in terminal colours; any other version
//! (the default for 7.0) prints the version line. Drawn on a pixel canvas, as Redis draws
//! them; the randomness comes from the server's generator.
#![expect(
    clippy::cast_possible_truncation,
    reason = "the drawings reproduce C's float and integer conversions, truncation included, \
              so that they land on the pixels Redis's do"
)]

use bytes::Bytes;
use rand::Rng;

use crate::cmd::{Ctx, errors};
use crate::resp::Reply;
use crate::util::num::parse_i64;

/// The largest canvas any version draws, so LOLWUT stays cheap (Redis's limits).
const COLUMNS_MAX: i64 = 1000;
const SQUARES_MAX: i64 = 200;
const ROWS_MAX: i64 = 1000;

pub fn lolwut(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Reply {
    let mut args = &argv[1..];
    let mut version = crate::REDIS_VERSION.to_string();
    if args.len() >= 2 && args[0].eq_ignore_ascii_case(b"VERSION") {
        let Some(v) = parse_i64(&args[1]) else {
            return Reply::error(errors::NOT_INTEGER);
        };
        // Redis prints the number as an unsigned int.
        version = format!("{}.0.0", v as u32);
        args = &args[2..];
    }
    let v = version.as_bytes();
    // Each drawing reads the numbers it takes, in order, and ignores the rest.
    let numbers = |defaults: &[i64]| -> Result<Vec<i64>, Reply> {
        defaults
            .iter()
            .enumerate()
            .map(|(i, &default)| match args.get(i) {
                Some(arg) => parse_i64(arg).ok_or_else(|| Reply::error(errors::NOT_INTEGER)),
                None => Ok(default),
            })
            .collect()
    };
    let text = if (v[0] == b'5' && v[1] == b'.' && v[2] != b'9') || version.starts_with("4.9") {
        let n = match numbers(&[66, 8, 12]) {
            Ok(n) => n,
            Err(e) => return e,
        };
        let columns = n[0].clamp(1, COLUMNS_MAX);
        let per_row = n[1].clamp(1, SQUARES_MAX);
        let per_col = n[2].clamp(1, SQUARES_MAX);
        let canvas = schotter(&mut ctx.state.rng, columns, per_row, per_col);
        format!(
            "{}\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. {}\n",
            canvas.braille(),
            crate::REDIS_VERSION
        )
    } else if (v[0] == b'6' && v[1] == b'.' && v[2] != b'9') || version.starts_with("5.9") {
        let n = match numbers(&[80, 20]) {
            Ok(n) => n,
            Err(e) => return e,
        };
        let columns = n[0].clamp(1, COLUMNS_MAX);
        let rows = n[1].clamp(1, ROWS_MAX);
        let mut canvas = Canvas::new(columns, rows, 3);
        skyline(&mut ctx.state.rng, &mut canvas);
        format!(
            "{}\nDedicated to the 8 bit game developers of past and present.\n\
             Original 8 bit image from Plaguemon by hikikomori. Redis ver. {}\n",
            canvas.colours(),
            crate::REDIS_VERSION
        )
    } else {
        format!("Redis ver. {}\n", crate::REDIS_VERSION)
    };
    Reply::Verbatim(Bytes::from(text))
}

/// Pixels with a colour each; drawing outside is ignored, reading outside gives 0.
struct Canvas {
    width: i64,
    height: i64,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i64, height: i64, background: u8) -> Canvas {
        let len = usize::try_from(width * height).unwrap_or(0);
        Canvas {
            width,
            height,
            pixels: vec![background; len],
        }
    }

    fn index(&self, x: i64, y: i64) -> Option<usize> {
        (x >= 0 && x < self.width && y >= 0 && y < self.height)
            .then(|| usize::try_from(x + y * self.width).ok())
            .flatten()
    }

    fn set(&mut self, x: i64, y: i64, colour: u8) {
        if let Some(i) = self.index(x, y) {
            self.pixels[i] = colour;
        }
    }

    fn get(&self, x: i64, y: i64) -> u8 {
        self.index(x, y).map_or(0, |i| self.pixels[i])
    }

    /// Bresenham's line.
    fn line(&mut self, (mut x1, mut y1): (i64, i64), (x2, y2): (i64, i64), colour: u8) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let (sx, sy) = (if x1 < x2 { 1 } else { -1 }, if y1 < y2 { 1 } else { -1 });
        let mut err = dx - dy;
        loop {
            self.set(x1, y1, colour);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// A square of side `size` centred on (x, y), turned by `angle` radians. Computed in
    /// single precision, as Redis computes it, so the same squares land on the same pixels.
    fn square(&mut self, x: i64, y: i64, size: f32, angle: f32, colour: u8) {
        use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};
        // The square inscribed in a circle of radius 1 has a side of sqrt(2).
        let size = ((f64::from(size) / std::f64::consts::SQRT_2) as f32).round();
        let mut k = (FRAC_PI_4 + f64::from(angle)) as f32;
        let mut corners = [(0i64, 0i64); 4];
        for corner in &mut corners {
            *corner = (
                (f64::from(k).sin() * f64::from(size) + x as f64).round() as i64,
                (f64::from(k).cos() * f64::from(size) + y as f64).round() as i64,
            );
            k = (f64::from(k) + FRAC_PI_2) as f32;
        }
        for j in 0..4 {
            self.line(corners[j], corners[(j + 1) % 4], colour);
        }
    }

    /// Braille characters, 2×4 pixels each (version 5).
    fn braille(&self) -> String {
        let mut out = String::new();
        let mut y = 0;
        while y < self.height {
            let mut x = 0;
            while x < self.width {
                let dots = [
                    (0, 0, 0),
                    (0, 1, 1),
                    (0, 2, 2),
                    (1, 0, 3),
                    (1, 1, 4),
                    (1, 2, 5),
                    (0, 3, 6),
                    (1, 3, 7),
                ];
                let byte = dots.iter().fold(0u32, |byte, &(dx, dy, bit)| {
                    if self.get(x + dx, y + dy) != 0 {
                        byte | (1 << bit)
                    } else {
                        byte
                    }
                });
                out.push(char::from_u32(0x2800 + byte).unwrap_or(' '));
                x += 2;
            }
            if y != self.height - 1 {
                out.push('\n');
            }
            y += 4;
        }
        out
    }

    /// One coloured space per pixel (version 6).
    fn colours(&self) -> String {
        let mut out = String::new();
        for y in 0..self.height {
            for x in 0..self.width {
                let escape = match self.get(x, y) {
                    1 => "0;90;100m",
                    2 => "0;37;47m",
                    3 => "0;97;107m",
                    _ => "0;30;40m",
                };
                out.push_str("\u{1b}[");
                out.push_str(escape);
                out.push_str(" \u{1b}[0m");
            }
            if y != self.height - 1 {
                out.push('\n');
            }
        }
        out
    }
}

/// A random value in [0, 1], as `rand() / RAND_MAX`.
fn unit(rng: &mut impl Rng) -> f32 {
    rng.random::<f32>()
}

/// Version 5: rows of squares, more and more disordered going down.
fn schotter(rng: &mut impl Rng, columns: i64, per_row: i64, per_col: i64) -> Canvas {
    let width = columns * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32) as i64 + padding * 2;
    let mut canvas = Canvas::new(width, height, 0);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0) as i64 + padding;
            let mut sy = (y as f32 * side + side / 2.0) as i64 + padding;
            let mut angle = 0.0;
            if y > 1 {
                let mut r = [0f32; 3];
                for v in &mut r {
                    *v = unit(rng) / per_col as f32 * y as f32;
                }
                for v in &mut r {
                    if rng.random::<bool>() {
                        *v = -*v;
                    }
                }
                angle = r[0];
                // As C's `int += float`: the sum is truncated, not the addend.
                sx = (sx as f32 + r[1] * side / 3.0) as i64;
                sy = (sy as f32 + r[2] * side / 3.0) as i64;
            }
            canvas.square(sx, sy, side, angle, 1);
        }
    }
    canvas
}

/// Version 6: two rows of grey buildings, then black ones with lit windows.
fn skyline(rng: &mut impl Rng, canvas: &mut Canvas) {
    let height = canvas.height;
    let building = |rng: &mut dyn rand::RngCore,
                    canvas: &mut Canvas,
                    (xoff, width, tall): (i64, i64, i64),
                    windows: bool,
                    colour: u8| {
        let start_y = height - 1;
        let end_y = start_y - tall + 1;
        let mut y = start_y;
        while y >= end_y {
            for x in xoff..xoff + width {
                if y == end_y && (x <= xoff + 1 || x >= xoff + width - 2) {
                    continue;
                }
                let mut c = colour;
                if windows
                    && x > xoff + 1
                    && x < xoff + width - 2
                    && y > end_y + 1
                    && y < start_y - 1
                {
                    let (rel_x, rel_y) = (x - (xoff + 1), y - (end_y + 1));
                    if (rel_x / 2) % 2 != 0 && rel_y % 2 != 0 {
                        loop {
                            c = 1 + (rng.next_u32() % 2) as u8;
                            if c != colour {
                                break;
                            }
                        }
                        if rel_x % 2 != 0 {
                            c = canvas.get(x - 1, y);
                        }
                    }
                }
                canvas.set(x, y, c);
            }
            y -= 1;
        }
    };
    for colour in [2u8, 1] {
        let mut offset = -10;
        while offset < canvas.width {
            offset += i64::from(rng.next_u32() % 8);
            let width = 10 + i64::from(rng.next_u32() % 9);
            let tall = if colour == 2 {
                height / 2 + i64::from(rng.next_u32()) % height.max(1) / 2
            } else {
                height / 2 + i64::from(rng.next_u32()) % height.max(1) / 3
            };
            building(rng, canvas, (offset, width, tall), false, colour);
            offset += if colour == 2 { width / 2 } else { width + 1 };
        }
    }
    let mut offset = -10;
    while offset < canvas.width {
        offset += i64::from(rng.next_u32() % 8);
        let mut width = 5 + i64::from(rng.next_u32() % 14);
        if width % 4 != 0 {
            width += width % 3;
        }
        let tall = height / 3 + i64::from(rng.next_u32()) % height.max(1) / 2;
        building(rng, canvas, (offset, width, tall), true, 0);
        offset += width + 5;
    }
}
