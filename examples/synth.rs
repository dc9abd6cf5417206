//! Writes synthetic ECG pages with their truth, for evaluation and benchmarks:
//! `cargo run --release --example synth -- <out-dir>` then
//! `ecg-digitize <out-dir> --out-dir <pred> && ecg-digitize eval --truth <out-dir> --pred <pred>`.

use ecg_digitizer::render::{render, synthetic_ecg, to_png, Fold, Glare, RenderOptions};
use ecg_digitizer::{LayoutSpec, Lead};

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "synthetic".into());
    std::fs::create_dir_all(&out).expect("create output directory");
    let base = RenderOptions::default();
    let cases: Vec<(&str, RenderOptions)> = vec![
        ("clean", base.clone()),
        (
            "rot5",
            RenderOptions {
                rotation_deg: 5.0,
                ..base.clone()
            },
        ),
        (
            "rot-8",
            RenderOptions {
                rotation_deg: -8.0,
                ..base.clone()
            },
        ),
        (
            "noise20",
            RenderOptions {
                noise_sigma: 20.0,
                ..base.clone()
            },
        ),
        (
            "bw",
            RenderOptions {
                grid_major_rgb: [102, 102, 102],
                grid_minor_rgb: Some([191, 191, 191]),
                ink_rgb: [0, 0, 0],
                ..base.clone()
            },
        ),
        (
            "green",
            RenderOptions {
                grid_major_rgb: [0, 76, 0],
                grid_minor_rgb: Some([0, 204, 76]),
                ..base.clone()
            },
        ),
        (
            "dpi100",
            RenderOptions {
                dpi: 100.0,
                ..base.clone()
            },
        ),
        (
            "dpi300",
            RenderOptions {
                dpi: 300.0,
                ..base.clone()
            },
        ),
        (
            "nopulse",
            RenderOptions {
                pulse: false,
                ..base.clone()
            },
        ),
        (
            "gain20",
            RenderOptions {
                gain_mm_per_mv: 20.0,
                ..base.clone()
            },
        ),
        (
            "gain5",
            RenderOptions {
                gain_mm_per_mv: 5.0,
                ..base.clone()
            },
        ),
        (
            "rhythmV1",
            RenderOptions {
                layout: LayoutSpec::standard_3x4(&[Lead::V1]),
                ..base.clone()
            },
        ),
        (
            "rhythm3",
            RenderOptions {
                layout: LayoutSpec::standard_3x4(&[Lead::V1, Lead::II, Lead::V5]),
                ..base.clone()
            },
        ),
        (
            "6x2",
            RenderOptions {
                layout: LayoutSpec::six_by_two(&[Lead::II]),
                ..base.clone()
            },
        ),
        (
            "12x1",
            RenderOptions {
                layout: LayoutSpec::twelve_by_one(&[]),
                ..base.clone()
            },
        ),
        (
            "norhythm",
            RenderOptions {
                layout: LayoutSpec::standard_3x4(&[]),
                ..base.clone()
            },
        ),
        // Photo conditions go last, so the pages above keep their records and seeds.
        (
            "keystone",
            RenderOptions {
                keystone: (0.08, 0.0),
                ..base.clone()
            },
        ),
        (
            "keystone_rot4",
            RenderOptions {
                keystone: (-0.05, 0.05),
                rotation_deg: 4.0,
                ..base.clone()
            },
        ),
        (
            "shade_blur",
            RenderOptions {
                shading: 0.5,
                blur_px: 1.2,
                ..base.clone()
            },
        ),
        (
            "photo",
            RenderOptions {
                keystone: (0.06, -0.03),
                rotation_deg: -3.0,
                shading: 0.4,
                blur_px: 1.0,
                noise_sigma: 6.0,
                ..base.clone()
            },
        ),
        // Phone photos of printed pages, appended so that the pages above stay the same.
        (
            "curl",
            RenderOptions {
                curl: 0.02,
                ..base.clone()
            },
        ),
        (
            "fold_glare",
            RenderOptions {
                fold: Some(Fold {
                    position: 0.5,
                    angle_deg: 0.0,
                    shade: 0.15,
                    kink_deg: 1.5,
                }),
                glare: Some(Glare {
                    x: 0.3,
                    y: 0.4,
                    radius: 0.2,
                    strength: 0.7,
                }),
                ..base.clone()
            },
        ),
        (
            "desk_rot25",
            RenderOptions {
                desk_margin: 0.1,
                rotation_deg: 25.0,
                shading: 0.2,
                blur_px: 0.8,
                noise_sigma: 4.0,
                ..base.clone()
            },
        ),
        (
            "phone",
            RenderOptions {
                curl: 0.015,
                desk_margin: 0.15,
                rotation_deg: 12.0,
                keystone: (0.04, 0.0),
                grid_minor_rgb: None,
                fold: Some(Fold {
                    position: 0.42,
                    angle_deg: 3.0,
                    shade: 0.12,
                    kink_deg: 1.5,
                }),
                glare: Some(Glare {
                    x: 0.62,
                    y: 0.38,
                    radius: 0.22,
                    strength: 0.8,
                }),
                shading: 0.3,
                blur_px: 0.8,
                noise_sigma: 4.0,
                ..base.clone()
            },
        ),
    ];
    let mut manifest = String::from("id,recipe\n");
    for (k, (name, opts)) in cases.into_iter().enumerate() {
        let ecg = synthetic_ecg(100 + k as u64, 60.0 + 7.0 * k as f32, 10.0, 500.0);
        let page = render(
            &ecg,
            &RenderOptions {
                seed: k as u64,
                ..opts
            },
        );
        let id = format!("syn{:02}-{name}", k);
        std::fs::write(format!("{out}/{id}.png"), to_png(&page.image)).expect("write png");
        std::fs::write(format!("{out}/{id}.csv"), page.truth.to_csv()).expect("write csv");
        manifest.push_str(&format!("{id},{name}\n"));
    }
    std::fs::write(format!("{out}/manifest.csv"), manifest).expect("write manifest");
}
