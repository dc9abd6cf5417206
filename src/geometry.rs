//! Stage 2, geometry: estimate how far the page is rotated and turn it upright.
//!
//! The grid's two line families dominate the image's edge directions. A gradient
//! orientation histogram, folded modulo 90°, gives a coarse angle; sharpening of the
//! row and column projection profiles (the "projection profile" deskew method,
//! <https://en.wikipedia.org/wiki/Document_layout_analysis>) refines it to a few
//! hundredths of a degree.

use crate::raster::Plane;
use image::RgbImage;

/// Tuning knobs of the deskew search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeometryOptions {
    /// Largest rotation searched, in degrees either way.
    pub max_angle_deg: f32,
    /// Rotations smaller than this are left alone: resampling would only blur.
    pub min_correction_deg: f32,
    /// Downsampling factor of the coarse sweep.
    pub coarse_factor: usize,
    /// Angle step of the coarse sweep, in degrees; the reduced page's lines stay sharp within it.
    pub coarse_step_deg: f32,
    /// Points sampled for the coarse sweep.
    pub coarse_points: usize,
    /// Points sampled for the full-resolution refinement.
    pub fine_points: usize,
}

impl Default for GeometryOptions {
    fn default() -> Self {
        GeometryOptions {
            max_angle_deg: 45.0,
            min_correction_deg: 0.04,
            coarse_factor: 4,
            coarse_step_deg: 0.25,
            coarse_points: 10_000,
            fine_points: 100_000,
        }
    }
}

/// Maps upright (working) coordinates back to the decoded image, for overlays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageTransform {
    /// Counter-clockwise rotation of the page as seen on screen, in degrees.
    pub rotation_deg: f32,
    /// Rotation centre, in pixels.
    pub center: (f32, f32),
}

impl PageTransform {
    /// Whether the page is left as it is.
    pub fn is_identity(&self) -> bool {
        self.rotation_deg == 0.0
    }

    /// Where the upright point `(x, y)` lies in the image before deskewing.
    pub fn to_source(&self, x: f32, y: f32) -> (f32, f32) {
        let r = self.rotation_deg.to_radians();
        let (s, c) = (libm::sinf(r), libm::cosf(r));
        let (dx, dy) = (x - self.center.0, y - self.center.1);
        (
            self.center.0 + dx * c + dy * s,
            self.center.1 - dx * s + dy * c,
        )
    }
}

/// Estimates how the page is rotated, from its mark plane (grid, trace and text darkness).
/// Rotations under `min_correction_deg` come back as none.
pub fn estimate(mark: &Plane, opts: &GeometryOptions) -> PageTransform {
    let angle = estimate_rotation_deg(mark, opts);
    PageTransform {
        rotation_deg: if angle.abs() < opts.min_correction_deg {
            0.0
        } else {
            angle
        },
        center: centre_of(mark.width, mark.height),
    }
}

/// The centre of a `w`×`h` raster, about which pages are turned.
fn centre_of(w: usize, h: usize) -> (f32, f32) {
    ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0)
}

/// The page turned upright (bilinear, same size); uncovered corners are white.
///
/// A rotation maps each output row to a straight line of source positions, so the source
/// position advances by a constant step along the row: this is several times faster than
/// imageproc's per-pixel `warp_with`, which the tests check it against.
pub fn apply(image: &RgbImage, transform: &PageTransform) -> RgbImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let src = image.as_raw();
    if transform.center == centre_of(w, h) && transform.rotation_deg.abs() == 180.0 {
        // A half turn about the centre reverses the pixels: exact, and no interpolation.
        let mut out = image.clone();
        for (o, p) in out.pixels_mut().zip(image.pixels().rev()) {
            *o = *p;
        }
        return out;
    }
    let mut out = vec![255u8; w * h * 3];
    let (x0, y0) = transform.to_source(0.0, 0.0);
    let (x1, y1) = transform.to_source(1.0, 0.0);
    let (xd, yd) = transform.to_source(0.0, 1.0);
    let (step_x, step_y) = (x1 - x0, y1 - y0);
    let (down_x, down_y) = (xd - x0, yd - y0);
    let (max_x, max_y) = ((w - 1) as f32, (h - 1) as f32);
    // Columns u where a + b·u stays within [0, limit): the inside of the source along a row.
    let inside = |a: f32, b: f32, limit: f32| -> (f32, f32) {
        if b.abs() < 1e-12 {
            return if a >= 0.0 && a < limit {
                (0.0, f32::MAX)
            } else {
                (1.0, 0.0)
            };
        }
        let (p, q) = (-a / b, (limit - a) / b);
        (p.min(q), p.max(q))
    };
    for v in 0..h {
        let (ax, ay) = (x0 + down_x * v as f32, y0 + down_y * v as f32);
        let (lx, hx) = inside(ax, step_x, max_x);
        let (ly, hy) = inside(ay, step_y, max_y);
        let first = lx.max(ly).max(0.0).ceil() as usize;
        let last = (hx.min(hy).min(w as f32 - 1.0)).floor();
        if last < 0.0 || first > last as usize {
            continue;
        }
        let row = &mut out[v * w * 3..(v + 1) * w * 3];
        // Fixed point, 16 fractional bits: integer steps along the row, 8-bit weights.
        const ONE: f64 = 65536.0;
        let (mut fx, mut fy) = (
            ((ax + step_x * first as f32) as f64 * ONE) as i64,
            ((ay + step_y * first as f32) as f64 * ONE) as i64,
        );
        let (dx, dy) = ((step_x as f64 * ONE) as i64, (step_y as f64 * ONE) as i64);
        let (max_ix, max_iy) = (w as i64 - 2, h as i64 - 2);
        // Positions whose 2×2 neighbourhood lies inside need no clamping.
        let (inner_x, inner_y) = ((max_ix as u64 + 1) << 16, (max_iy as u64 + 1) << 16);
        for o in row[first * 3..=last as usize * 3 + 2].chunks_exact_mut(3) {
            let (ix, iy, tx, ty) = if (fx as u64) < inner_x && (fy as u64) < inner_y {
                let (tx, ty) = (((fx >> 8) & 0xff) as u32, ((fy >> 8) & 0xff) as u32);
                (fx >> 16, fy >> 16, tx, ty)
            } else {
                // Guard the rounding at the range ends.
                let (ix, iy) = ((fx >> 16).clamp(0, max_ix), (fy >> 16).clamp(0, max_iy));
                let tx = ((fx - (ix << 16)) >> 8).clamp(0, 256) as u32;
                let ty = ((fy - (iy << 16)) >> 8).clamp(0, 256) as u32;
                (ix, iy, tx, ty)
            };
            let a = (iy as usize * w + ix as usize) * 3;
            let b = a + w * 3;
            let (p, q) = (&src[a..a + 6], &src[b..b + 6]);
            for c in 0..3 {
                let top = p[c] as u32 * (256 - tx) + p[c + 3] as u32 * tx;
                let bot = q[c] as u32 * (256 - tx) + q[c + 3] as u32 * tx;
                o[c] = ((top * (256 - ty) + bot * ty + 32768) >> 16) as u8;
            }
            fx += dx;
            fy += dy;
        }
    }
    RgbImage::from_raw(w as u32, h as u32, out).expect("buffer matches dimensions")
}

/// Darkness of the darkest channel, 0 (white) to 1 (black): grid, trace and text alike.
pub fn darkness(image: &RgbImage) -> Plane {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut out = Plane::new(w, h, 0.0);
    for (o, p) in out.data.iter_mut().zip(image.pixels()) {
        let m = p[0].min(p[1]).min(p[2]);
        *o = 1.0 - m as f32 / 255.0;
    }
    out
}

/// Counter-clockwise page rotation in degrees, within ±`max_angle_deg`.
///
/// A coarse sweep of projection sharpness on a reduced page proposes a few angles; only
/// aligned grid lines make the profiles sharp, so the sweep is not fooled by the diagonal
/// texture of a dense grid. Each proposal is refined at full resolution.
pub fn estimate_rotation_deg(mark: &Plane, opts: &GeometryOptions) -> f32 {
    let small = downsample(mark, opts.coarse_factor.max(1));
    let coarse_points = subsample(&dark_points(&small), opts.coarse_points);
    if coarse_points.is_empty() {
        return 0.0;
    }
    let steps = (opts.max_angle_deg / opts.coarse_step_deg).round() as i32;
    let sweep: Vec<(f32, f64)> = (-steps..=steps)
        .map(|i| {
            let a = i as f32 * opts.coarse_step_deg;
            (a, sharpness(&coarse_points, &small, a))
        })
        .collect();
    // Local maxima, strongest first, at least a degree apart.
    let mut peaks: Vec<(f32, f64)> = (0..sweep.len())
        .filter(|&i| {
            (i == 0 || sweep[i].1 >= sweep[i - 1].1)
                && (i + 1 == sweep.len() || sweep[i].1 >= sweep[i + 1].1)
        })
        .map(|i| sweep[i])
        .collect();
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut candidates: Vec<f32> = Vec::new();
    for (a, _) in peaks {
        if candidates.iter().all(|c| (c - a).abs() >= 1.0) {
            candidates.push(a);
        }
        if candidates.len() == 3 {
            break;
        }
    }
    let dark = dark_points(mark);
    let some = subsample(&dark, opts.fine_points / 4);
    let mut best = (0.0f32, f64::MIN);
    for c in candidates {
        let a = refine(
            &some,
            mark,
            c,
            2.0 * opts.coarse_step_deg,
            opts.coarse_step_deg / 5.0,
        );
        let score = sharpness(&some, mark, a);
        if score > best.1 {
            best = (a, score);
        }
    }
    let points = subsample(&dark, opts.fine_points);
    refine(&points, mark, best.0, 0.06, 0.01)
}

/// Mean over `f`×`f` blocks.
fn downsample(p: &Plane, f: usize) -> Plane {
    let (w, h) = (p.width / f, p.height / f);
    let mut out = Plane::new(w.max(1), h.max(1), 0.0);
    let norm = 1.0 / (f * f) as f32;
    for y in 0..h {
        for yy in 0..f {
            let row = p.row(y * f + yy);
            for x in 0..w {
                out.data[y * out.width + x] += row[x * f..(x + 1) * f].iter().sum::<f32>() * norm;
            }
        }
    }
    out
}

/// Dark points (pixel column, row) with their weights, in raster order.
fn dark_points(mark: &Plane) -> Vec<(f32, f32, f32)> {
    let mut out = Vec::new();
    for y in 0..mark.height {
        for (x, &v) in mark.row(y).iter().enumerate() {
            if v > 0.2 {
                out.push((x as f32, y as f32, v));
            }
        }
    }
    out
}

/// Every so many of `points`, to keep at most about `max_points`.
fn subsample(points: &[(f32, f32, f32)], max_points: usize) -> Vec<(f32, f32, f32)> {
    let stride = (points.len() / max_points.max(1)).max(1);
    points.iter().step_by(stride).copied().collect()
}

/// Sharpness of both projection profiles when the page is rotated by `angle_deg`.
fn sharpness(points: &[(f32, f32, f32)], mark: &Plane, angle_deg: f32) -> f64 {
    let (s, c) = (
        libm::sinf(angle_deg.to_radians()),
        libm::cosf(angle_deg.to_radians()),
    );
    let diag = (mark.width + mark.height) as f32;
    let n = (2.0 * diag) as usize + 4;
    let mut rows = vec![0f32; n];
    let mut cols = vec![0f32; n];
    // Bins through i32, not usize: x86 has no direct float-to-unsigned conversion, and this
    // loop is most of the stage. The clamp keeps the saturating cast's meaning.
    let last = (n - 1) as i32;
    for &(x, y, w) in points {
        let v = y * c + x * s + diag;
        let u = x * c - y * s + diag;
        rows[(v as i32).clamp(0, last) as usize] += w;
        cols[(u as i32).clamp(0, last) as usize] += w;
    }
    let sq = |p: &[f32]| p.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>();
    sq(&rows) + sq(&cols)
}

fn refine(points: &[(f32, f32, f32)], mark: &Plane, center: f32, span: f32, step: f32) -> f32 {
    let n = (span / step).round() as i32;
    let scores: Vec<(f32, f64)> = (-n..=n)
        .map(|i| {
            let a = center + i as f32 * step;
            (a, sharpness(points, mark, a))
        })
        .collect();
    let (bi, _) = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
        .unwrap();
    let a = scores[bi].0;
    if bi == 0 || bi + 1 == scores.len() {
        return a;
    }
    // Parabola through the peak and its neighbours.
    let (l, m, r) = (scores[bi - 1].1, scores[bi].1, scores[bi + 1].1);
    let denom = l - 2.0 * m + r;
    if denom.abs() < 1e-12 {
        return a;
    }
    a + (0.5 * (l - r) / denom) as f32 * step
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;
    use imageproc::geometric_transformations::{warp_with, Border, Interpolation};

    /// White page with a dark square grid rotated `deg` counter-clockwise.
    fn grid_page(deg: f32) -> RgbImage {
        let (w, h) = (600u32, 450u32);
        let (s, c) = deg.to_radians().sin_cos();
        RgbImage::from_fn(w, h, |x, y| {
            let (dx, dy) = (x as f32 - 299.5, y as f32 - 224.5);
            // Upright coordinates of this source pixel.
            let u = dx * c - dy * s;
            let v = dx * s + dy * c;
            let on = |a: f32| (a.rem_euclid(20.0) - 10.0).abs() > 9.0;
            if on(u) || on(v) {
                Rgb([230, 40, 40])
            } else {
                Rgb([255, 255, 255])
            }
        })
    }

    #[test]
    fn rotated_grid_angle_is_found_within_a_tenth_of_a_degree() {
        for deg in [-8.0f32, -2.5, 0.0, 3.0, 7.3, 30.0] {
            let mark = darkness(&grid_page(deg));
            let est = estimate_rotation_deg(&mark, &GeometryOptions::default());
            assert!((est - deg).abs() < 0.1, "true {deg}, estimated {est}");
        }
    }

    #[test]
    fn deskewed_point_maps_back_to_its_source() {
        let t = PageTransform {
            rotation_deg: 5.0,
            center: (100.0, 50.0),
        };
        let (x, y) = t.to_source(150.0, 50.0);
        // A point right of the centre moves up when the page turns counter-clockwise.
        assert!(y < 50.0 && x < 150.0);
        assert!(((x - 100.0).hypot(y - 50.0) - 50.0).abs() < 1e-3);
    }

    #[test]
    fn upright_page_needs_no_resampling() {
        let t = estimate(&darkness(&grid_page(0.0)), &GeometryOptions::default());
        assert!(t.is_identity());
    }

    /// A turn by `deg` about the page's centre.
    fn turn_about_centre(page: &RgbImage, deg: f32) -> PageTransform {
        PageTransform {
            rotation_deg: deg,
            center: centre_of(page.width() as usize, page.height() as usize),
        }
    }

    #[test]
    fn fast_warp_matches_imageproc_bilinear_warp() {
        let page = grid_page(4.0);
        let t = turn_about_centre(&page, 4.0);
        let ours = apply(&page, &t);
        let reference = warp_with(
            &page,
            move |x, y| t.to_source(x, y),
            Interpolation::Bilinear,
            Border::Constant(Rgb([255, 255, 255])),
        );
        // Compare where the source neighbourhood lies wholly inside the page; at the very
        // border imageproc blends with the fill colour, we leave the fill.
        let mut worst = 0;
        for y in 0..page.height() {
            for x in 0..page.width() {
                let (sx, sy) = t.to_source(x as f32, y as f32);
                if sx < 1.0
                    || sy < 1.0
                    || sx > page.width() as f32 - 2.0
                    || sy > page.height() as f32 - 2.0
                {
                    continue;
                }
                for c in 0..3 {
                    let d = (ours.get_pixel(x, y)[c] as i32 - reference.get_pixel(x, y)[c] as i32)
                        .abs();
                    worst = worst.max(d);
                }
            }
        }
        assert!(worst <= 3, "largest difference {worst}");
    }

    #[test]
    fn a_half_turn_reverses_the_pixels() {
        let page = grid_page(4.0);
        let t = turn_about_centre(&page, 180.0);
        let turned = apply(&page, &t);
        let (w, h) = (page.width(), page.height());
        for (x, y) in [(0, 0), (17, 203), (599, 449), (312, 5)] {
            assert_eq!(turned.get_pixel(x, y), page.get_pixel(w - 1 - x, h - 1 - y));
        }
        // Twice is the page again.
        assert_eq!(apply(&turned, &t), page);
    }

    #[test]
    fn applied_rotation_undoes_the_page_rotation() {
        let page = grid_page(6.0);
        let t = estimate(&darkness(&page), &GeometryOptions::default());
        let upright = apply(&page, &t);
        let again = estimate(&darkness(&upright), &GeometryOptions::default());
        assert!(again.rotation_deg.abs() < 0.1, "{}", again.rotation_deg);
    }
}
