//! Stage 2, geometry: estimate how far the page is rotated and turn it upright.
//!
//! The grid's two line families dominate the image's edge directions. A gradient
//! orientation histogram, folded modulo 90°, gives a coarse angle; sharpening of the
//! row and column projection profiles (the "projection profile" deskew method,
//! <https://en.wikipedia.org/wiki/Document_layout_analysis>) refines it to a few
//! hundredths of a degree.
//!
//! A page photographed at an angle shows its grid lines converging: each family meets at a
//! vanishing point. The same sharpness, measured tile by tile and per family, gives the
//! lines' local directions; the point they all aim at is fitted by least squares, and the
//! homography that sends both vanishing points back to infinity makes the page square
//! (Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., §2.7).

use crate::raster::Plane;
use image::RgbImage;
use imageproc::geometric_transformations::Projection;
use nalgebra::{Matrix3, SymmetricEigen, Vector3};

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
    /// Strips along each family of grid lines (as the rotation has them) in which the
    /// lines' directions are measured for the perspective estimate.
    pub keystone_strips: usize,
    /// Fits of the perspective, each on the page made square by the ones before.
    pub keystone_passes: usize,
    /// Points sampled for the perspective estimate, over the whole page.
    pub keystone_points: usize,
    /// Points sampled for the first fit, which decides whether there is a perspective at
    /// all: most pages are flat, and fewer points find that out sooner.
    pub keystone_detect_points: usize,
    /// A tile's line direction is sought this far either side of the page's rotation, in
    /// degrees: more than a steep photo's lines turn across the page.
    pub keystone_span_deg: f32,
    /// A tile's sharpest direction counts only if its profile is this many times sharper
    /// than on average over the search: a grid, not text or trace alone.
    pub keystone_min_contrast: f64,
    /// Perspective is corrected only if it turns the lines of some tile by more than this
    /// many degrees from the page's rotation: less is a flat scan.
    pub min_keystone_deg: f32,
    /// ... and only if the vanishing points explain the tiles' directions this well: each
    /// family's root-mean-square residual at most this share of the largest turn. Creases
    /// bend lines locally, which no vanishing point explains.
    pub keystone_max_residual: f32,
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
            keystone_strips: 8,
            keystone_passes: 3,
            keystone_points: 160_000,
            keystone_detect_points: 40_000,
            keystone_span_deg: 4.0,
            keystone_min_contrast: 1.3,
            min_keystone_deg: 0.25,
            keystone_max_residual: 0.35,
        }
    }
}

/// Maps upright (working) coordinates back to the decoded image, for overlays.
#[derive(Debug, Clone, Copy)]
pub struct PageTransform {
    /// Counter-clockwise rotation of the page as seen on screen, in degrees.
    pub rotation_deg: f32,
    /// Rotation centre, in pixels.
    pub center: (f32, f32),
    /// Perspective of a page photographed at an angle: from the rotated page to the image.
    /// `None` for a flat scan.
    pub keystone: Option<Projection>,
}

impl PageTransform {
    /// A `w`×`h` page left as it is.
    pub fn upright(w: usize, h: usize) -> PageTransform {
        PageTransform {
            rotation_deg: 0.0,
            center: centre_of(w, h),
            keystone: None,
        }
    }

    /// Whether the page is left as it is.
    pub fn is_identity(&self) -> bool {
        self.rotation_deg == 0.0 && self.keystone.is_none()
    }

    /// Where the upright point `(x, y)` lies in the image before deskewing.
    pub fn to_source(&self, x: f32, y: f32) -> (f32, f32) {
        let r = self.rotation_deg.to_radians();
        let (s, c) = (libm::sinf(r), libm::cosf(r));
        let (dx, dy) = (x - self.center.0, y - self.center.1);
        let turned = (
            self.center.0 + dx * c + dy * s,
            self.center.1 - dx * s + dy * c,
        );
        match &self.keystone {
            Some(k) => k * &turned,
            None => turned,
        }
    }
}

/// Estimates how the page is rotated, and seen in perspective, from its mark plane (grid,
/// trace and text darkness). Rotations under `min_correction_deg` come back as none.
pub fn estimate(mark: &Plane, opts: &GeometryOptions) -> PageTransform {
    let dark = dark_points(mark);
    let angle = rotation_deg(mark, &dark, opts);
    let mut t = PageTransform {
        rotation_deg: if angle.abs() < opts.min_correction_deg {
            0.0
        } else {
            angle
        },
        center: centre_of(mark.width, mark.height),
        keystone: None,
    };
    if let Some(page) = estimate_keystone(mark, &dark, angle, opts) {
        // The keystone follows the rotation: it takes the turned frame's corners to where
        // the page has them.
        let corners = frame_corners((mark.width, mark.height));
        let turned = corners.map(|(x, y)| t.to_source(x, y));
        t.keystone = Projection::from_control_points(turned, corners.map(|p| page * p));
    }
    t
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
    if transform.keystone.is_some() {
        // A homography bends rows into no straight line of constant step: per pixel.
        let t = *transform;
        return imageproc::geometric_transformations::warp_with(
            image,
            move |x, y| t.to_source(x, y),
            imageproc::geometric_transformations::Interpolation::Bilinear,
            imageproc::geometric_transformations::Border::Constant(image::Rgb([255, 255, 255])),
        );
    }
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
    rotation_deg(mark, &dark_points(mark), opts)
}

/// [`estimate_rotation_deg`] given the mark plane's [`dark_points`].
fn rotation_deg(mark: &Plane, dark: &[(f32, f32, f32)], opts: &GeometryOptions) -> f32 {
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
    let some = subsample(dark, opts.fine_points / 4);
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
    let points = subsample(dark, opts.fine_points);
    refine(&points, mark, best.0, 0.06, 0.01)
}

/// One family of grid lines: the rows' (running across the page) or the columns'.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    Across,
    Down,
}

impl Family {
    /// Unit direction of this family's lines on a page turned `angle_deg` counter-clockwise.
    fn direction(self, angle_deg: f32) -> (f64, f64) {
        let (s, c) = (angle_deg as f64).to_radians().sin_cos();
        match self {
            Family::Across => (c, -s),
            Family::Down => (s, c),
        }
    }

    /// The turn, in degrees within ±90, of a line along `(dx, dy)`.
    fn angle_of(self, dx: f64, dy: f64) -> f64 {
        let a = match self {
            Family::Across => (-dy).atan2(dx),
            Family::Down => dx.atan2(dy),
        }
        .to_degrees();
        (a + 90.0).rem_euclid(180.0) - 90.0
    }
}

/// How a page photographed at an angle lies in the image: the homography from the upright
/// page (the frame of `mark`, rotation and perspective undone) to the image. `None` when
/// the grid lines are parallel to within `min_keystone_deg`, or converge in no consistent
/// way.
///
/// The first fit, on fewer points, measures lines whose direction changes across each
/// strip; the page is then made square by it and measured again, where the remaining
/// convergence is slight and each strip's lines are parallel, `keystone_passes` times in all.
fn estimate_keystone(
    mark: &Plane,
    dark: &[(f32, f32, f32)],
    angle_deg: f32,
    opts: &GeometryOptions,
) -> Option<Projection> {
    let frame = (mark.width, mark.height);
    let corners = frame_corners(frame);
    let detect = subsample(dark, opts.keystone_detect_points);
    let first = page_quad(&detect, frame, angle_deg, opts, true)?;
    let points = subsample(dark, opts.keystone_points);
    let mut total = Projection::from_control_points(corners, first)?;
    for _ in 1..opts.keystone_passes {
        // The points as the page made square so far has them.
        let back = total.invert();
        let upright: Vec<_> = points
            .iter()
            .map(|&(x, y, v)| {
                let (u, w) = back * (x, y);
                (u, w, v)
            })
            .collect();
        let Some(step) = page_quad(&upright, frame, 0.0, opts, false)
            .and_then(|quad| Projection::from_control_points(corners, quad))
        else {
            break;
        };
        total = total * step;
    }
    Some(total)
}

/// The corners of a `w`×`h` frame: top-left, top-right, bottom-right, bottom-left.
fn frame_corners((w, h): (usize, usize)) -> [(f32, f32); 4] {
    let (w, h) = ((w - 1) as f32, (h - 1) as f32);
    [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]
}

/// Where the corners of a page whose dark `points` show grid lines turned about
/// `angle_deg` lie, once the lines are traced to their vanishing points: the quadrilateral
/// bounded by the lines of each family through the middles of the turned frame's edges.
/// With `first`, `None` also when the lines are parallel or converge inconsistently.
fn page_quad(
    points: &[(f32, f32, f32)],
    frame: (usize, usize),
    angle_deg: f32,
    opts: &GeometryOptions,
    first: bool,
) -> Option<[(f32, f32); 4]> {
    let strips = opts.keystone_strips;
    if strips < 2 {
        return None;
    }
    let (w, h) = (frame.0 as f32, frame.1 as f32);
    // Coordinates about the centre, in half-diagonals, keep the fit well conditioned.
    let (cx, cy) = centre_of(frame.0, frame.1);
    let scale = 0.5 * (w * w + h * h).sqrt();
    let (s, c) = (
        libm::sinf(angle_deg.to_radians()),
        libm::cosf(angle_deg.to_radians()),
    );
    let span = if first {
        opts.keystone_span_deg
    } else {
        opts.keystone_span_deg / 4.0
    };
    let mut fits = Vec::new();
    for family in [Family::Across, Family::Down] {
        // Strips along the family's lines, as the rotation has them: each holds long pieces
        // of a few lines, whose direction it measures.
        let across = |x: f32, y: f32| match family {
            Family::Across => (y - cy) * c + (x - cx) * s,
            Family::Down => (x - cx) * c - (y - cy) * s,
        };
        let half = points
            .iter()
            .map(|p| across(p.0, p.1).abs())
            .fold(1.0f32, f32::max);
        let mut bins: Vec<Vec<(f32, f32, f32)>> = vec![Vec::new(); strips];
        for &p in points {
            let k = ((across(p.0, p.1) + half) / (2.0 * half) * strips as f32) as usize;
            bins[k.min(strips - 1)].push(p);
        }
        let mut seen = Vec::new();
        for strip in &bins {
            if strip.len() < 200 {
                continue;
            }
            if let Some(a) = tile_direction(strip, family, angle_deg, span, opts) {
                // The strip's lines pass, on average, through its points' centroid.
                let total: f32 = strip.iter().map(|p| p.2).sum();
                let mx = strip.iter().map(|p| p.0 * p.2).sum::<f32>() / total;
                let my = strip.iter().map(|p| p.1 * p.2).sum::<f32>() / total;
                let at = (((mx - cx) / scale) as f64, ((my - cy) / scale) as f64);
                seen.push((at, a));
            }
        }
        fits.push(fit_vanishing_point(family, &seen, angle_deg)?);
    }
    if first {
        // One family may stay parallel (its vanishing point at infinity), but not both;
        // and a turn no vanishing point explains is no perspective.
        let turn = fits.iter().map(|f| f.turn_deg).fold(0.0, f64::max);
        let explained = fits
            .iter()
            .all(|f| f.residual_deg <= opts.keystone_max_residual as f64 * turn);
        if turn < opts.min_keystone_deg as f64 || !explained {
            return None;
        }
    }
    let (v_across, v_down) = (fits[0].point, fits[1].point);
    let turned = |dx: f64, dy: f64| {
        let (s, c) = (s as f64, c as f64);
        Vector3::new(dx * c + dy * s, -dx * s + dy * c, 1.0)
    };
    let (hx, hy) = (
        ((w - 1.0) / 2.0 / scale) as f64,
        ((h - 1.0) / 2.0 / scale) as f64,
    );
    let top = turned(0.0, -hy).cross(&v_across);
    let bottom = turned(0.0, hy).cross(&v_across);
    let left = turned(-hx, 0.0).cross(&v_down);
    let right = turned(hx, 0.0).cross(&v_down);
    let corner = |a: &Vector3<f64>, b: &Vector3<f64>| -> Option<(f32, f32)> {
        let p = a.cross(b);
        (p.z.abs() > 1e-9).then(|| {
            (
                (p.x / p.z) as f32 * scale + cx,
                (p.y / p.z) as f32 * scale + cy,
            )
        })
    };
    let quad = [
        corner(&top, &left)?,
        corner(&top, &right)?,
        corner(&bottom, &right)?,
        corner(&bottom, &left)?,
    ];
    // A corner far off the image is no page in view.
    let inside = quad
        .iter()
        .all(|&(x, y)| x > -w && x < 2.0 * w && y > -h && y < 2.0 * h);
    inside.then_some(quad)
}

/// The local direction (turn in degrees) of `family`'s lines among a tile's dark points,
/// searched within `keystone_span_deg` of the page's turn; `None` where no lines stand out.
fn tile_direction(
    points: &[(f32, f32, f32)],
    family: Family,
    angle_deg: f32,
    span: f32,
    opts: &GeometryOptions,
) -> Option<f64> {
    let coarse = 0.2f32;
    let n = (span / coarse).round() as i32;
    let bounds = points.iter().fold(
        [f32::MAX, f32::MAX, f32::MIN, f32::MIN],
        |[x0, y0, x1, y1], &(x, y, _)| [x0.min(x), y0.min(y), x1.max(x), y1.max(y)],
    );
    let sharpness = |a: f32| family_sharpness(points, bounds, family, a);
    let sweep: Vec<f64> = (-n..=n)
        .map(|i| sharpness(angle_deg + i as f32 * coarse))
        .collect();
    let mean = sweep.iter().sum::<f64>() / sweep.len() as f64;
    let (bi, &best) = sweep.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    if best < opts.keystone_min_contrast * mean || bi == 0 || bi + 1 == sweep.len() {
        return None;
    }
    // Finer steps about the peak, then a parabola through the best and its neighbours.
    let centre = angle_deg + (bi as i32 - n) as f32 * coarse;
    let fine = 0.04f32;
    let m = (coarse / fine).round() as i32;
    let scores: Vec<f64> = (-m..=m)
        .map(|i| sharpness(centre + i as f32 * fine))
        .collect();
    let (bj, _) = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    let mut a = (centre + (bj as i32 - m) as f32 * fine) as f64;
    if bj > 0 && bj + 1 < scores.len() {
        let (l, c, r) = (scores[bj - 1], scores[bj], scores[bj + 1]);
        let denom = l - 2.0 * c + r;
        if denom.abs() > 1e-12 {
            a += 0.5 * (l - r) / denom * fine as f64;
        }
    }
    Some(a)
}

/// Sharpness of the projection profile across `family`'s lines, turned by `angle_deg`, of
/// `points` within `bounds` (x and y least, then greatest).
fn family_sharpness(
    points: &[(f32, f32, f32)],
    [x0, y0, x1, y1]: [f32; 4],
    family: Family,
    angle_deg: f32,
) -> f64 {
    if x0 > x1 {
        return 0.0;
    }
    let (s, c) = (
        libm::sinf(angle_deg.to_radians()),
        libm::cosf(angle_deg.to_radians()),
    );
    // Across the lines: y (Across) or x (Down) as the turn has it, as a combination of x and y.
    let (kx, ky) = match family {
        Family::Across => (s, c),
        Family::Down => (c, -s),
    };
    let corners = [(x0, y0), (x1, y0), (x0, y1), (x1, y1)].map(|(x, y)| kx * x + ky * y);
    let lo = corners.iter().copied().fold(f32::MAX, f32::min);
    let hi = corners.iter().copied().fold(f32::MIN, f32::max);
    let mut bins = vec![0f32; (hi - lo) as usize + 2];
    // Bins through i32, as in `sharpness`; the bounds keep every point inside.
    for &(x, y, w) in points {
        bins[(kx * x + ky * y - lo) as i32 as usize] += w;
    }
    bins.iter().map(|&v| (v as f64) * (v as f64)).sum()
}

/// Where one family of grid lines converges, and how well that explains the tiles.
#[derive(Debug, Clone, Copy)]
struct VanishingFit {
    /// The meeting point, homogeneous, in centred half-diagonal units.
    point: Vector3<f64>,
    /// Largest turn, in degrees, the point gives a tile's lines from the page's rotation.
    turn_deg: f64,
    /// Root-mean-square difference of the tiles' directions from the point's, in degrees.
    residual_deg: f64,
}

/// The least-squares meeting point of `family`'s lines through each tile centre along its
/// direction, from tiles' `((x, y), turn in degrees)`; `None` when too few tiles saw lines.
fn fit_vanishing_point(
    family: Family,
    seen: &[((f64, f64), f64)],
    angle_deg: f32,
) -> Option<VanishingFit> {
    if seen.len() < 4 {
        return None;
    }
    let lines: Vec<Vector3<f64>> = seen
        .iter()
        .map(|&((x, y), a)| {
            let (dx, dy) = family.direction(a as f32);
            Vector3::new(x, y, 1.0).cross(&Vector3::new(dx, dy, 0.0))
        })
        .collect();
    let m: Matrix3<f64> = lines.iter().map(|l| l * l.transpose()).sum();
    let eig = SymmetricEigen::new(m);
    let (k, _) = eig
        .eigenvalues
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))?;
    let point: Vector3<f64> = eig.eigenvectors.column(k).into();
    // The direction the point sets at (x, y), and a difference of directions.
    let predicted = |x: f64, y: f64| family.angle_of(point.x - x * point.z, point.y - y * point.z);
    let apart = |a: f64, b: f64| (a - b + 90.0).rem_euclid(180.0) - 90.0;
    let residual_deg = (seen
        .iter()
        .map(|&((x, y), a)| apart(predicted(x, y), a).powi(2))
        .sum::<f64>()
        / seen.len() as f64)
        .sqrt();
    let turn_deg = seen
        .iter()
        .map(|&((x, y), _)| apart(predicted(x, y), angle_deg as f64).abs())
        .fold(0.0f64, f64::max);
    Some(VanishingFit {
        point,
        turn_deg,
        residual_deg,
    })
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
            keystone: None,
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
            keystone: None,
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

    /// `page` as a camera sees it tilted: its corners moved to `quad` (top-left, top-right,
    /// bottom-right, bottom-left), white where the page is out of view.
    fn photographed(page: &RgbImage, quad: [(f32, f32); 4]) -> RgbImage {
        let corners = frame_corners((page.width() as usize, page.height() as usize));
        let to_page = Projection::from_control_points(quad, corners).unwrap();
        warp_with(
            page,
            move |x, y| to_page * (x, y),
            Interpolation::Bilinear,
            Border::Constant(Rgb([255, 255, 255])),
        )
    }

    #[test]
    fn converging_grid_lines_are_made_parallel() {
        let opts = GeometryOptions::default();
        // Top edge shorter than the bottom, then also the right shorter than the left.
        for quad in [
            [(40.0, 10.0), (559.0, 10.0), (599.0, 449.0), (0.0, 449.0)],
            [(30.0, 15.0), (560.0, 40.0), (575.0, 410.0), (0.0, 449.0)],
        ] {
            let photo = photographed(&grid_page(0.0), quad);
            let t = estimate(&darkness(&photo), &opts);
            assert!(t.keystone.is_some(), "{quad:?}: no perspective found");
            let square = apply(&photo, &t);
            // Measured again, the lines are parallel and straight.
            let again = estimate(&darkness(&square), &opts);
            assert!(again.keystone.is_none(), "{quad:?}: still converging");
            assert!(
                again.rotation_deg.abs() < 0.15,
                "{quad:?}: {}",
                again.rotation_deg
            );
        }
    }

    #[test]
    fn flat_or_merely_rotated_page_has_no_perspective() {
        for deg in [0.0, 3.0, -7.0] {
            let t = estimate(&darkness(&grid_page(deg)), &GeometryOptions::default());
            assert!(t.keystone.is_none(), "{deg}°");
        }
    }

    #[test]
    fn a_crease_bends_lines_locally_without_a_perspective() {
        // A fold across the middle kinks the lines there; nothing converges.
        let page = grid_page(0.0);
        let creased = RgbImage::from_fn(600, 450, |x, y| {
            let bump = 6.0 * (-((x as f32 - 300.0) / 25.0).powi(2)).exp();
            let sy = (y as f32 + bump).clamp(0.0, 449.0) as u32;
            *page.get_pixel(x, sy)
        });
        let t = estimate(&darkness(&creased), &GeometryOptions::default());
        assert!(t.keystone.is_none());
    }
}
