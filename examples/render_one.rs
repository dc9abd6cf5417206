//! Renders one synthetic page from command-line settings, for checking by eye or by eval:
//! `cargo run --release --example render_one -- out.png truth.csv [key=value ...]` with keys
//! `rotation`, `noise`, `dpi`, `seed`, `grid` (0 or 1), `keystone` (top,right), `shading`,
//! `blur`, `speed`, `gain`, `duration`, `pulse` (0 or 1) and `font` (a font file: prints
//! the speed and gain under the last row), and for phone photos `curl` (row sag as a fraction
//! of the page height, e.g. 0.02), `desk` (margin of wood around the page, as a fraction of its
//! size, e.g. 0.15), `minor` (0 or 1; 0 prints only the 5 mm grid lines), `glare`
//! (x,y,radius,strength: centre as fractions of the image's width and height, radius of its
//! shorter side, 0–1 of the way to white, e.g. 0.6,0.35,0.2,0.8) and `fold`
//! (position,angle,shade,kink: fraction across the page, degrees from vertical, darkening of
//! the far side, degrees the far side turns, e.g. 0.5,0,0.15,1.5) (see `RenderOptions`).

use ecg_digitizer::render::{render, synthetic_ecg, to_png, Fold, Glare, RenderOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: render_one out.png truth.csv [key=value ...]");
        std::process::exit(2);
    }
    let mut opts = RenderOptions {
        seed: 1,
        ..RenderOptions::default()
    };
    for arg in &args[3..] {
        let (key, value) = arg.split_once('=').expect("settings are key=value");
        let num = |v: &str| -> f32 { v.parse().expect("a number") };
        let nums = |v: &str, n: usize| -> Vec<f32> {
            let list: Vec<f32> = v.split(',').map(num).collect();
            assert_eq!(list.len(), n, "{key} takes {n} numbers");
            list
        };
        match key {
            "rotation" => opts.rotation_deg = num(value),
            "noise" => opts.noise_sigma = num(value),
            "dpi" => opts.dpi = num(value),
            "seed" => opts.seed = num(value) as u64,
            "grid" => opts.grid = value != "0",
            "shading" => opts.shading = num(value),
            "blur" => opts.blur_px = num(value),
            "speed" => opts.speed_mm_per_s = num(value),
            "gain" => opts.gain_mm_per_mv = num(value),
            "duration" => opts.duration_s = num(value),
            "pulse" => opts.pulse = value != "0",
            "font" => opts.settings_font = Some(std::fs::read(value).expect("read the font")),
            "curl" => opts.curl = num(value),
            "desk" => opts.desk_margin = num(value),
            "minor" => {
                opts.grid_minor_rgb = if value == "0" {
                    None
                } else {
                    RenderOptions::default().grid_minor_rgb
                }
            }
            "glare" => {
                let g = nums(value, 4);
                opts.glare = Some(Glare {
                    x: g[0],
                    y: g[1],
                    radius: g[2],
                    strength: g[3],
                });
            }
            "fold" => {
                let f = nums(value, 4);
                opts.fold = Some(Fold {
                    position: f[0],
                    angle_deg: f[1],
                    shade: f[2],
                    kink_deg: f[3],
                });
            }
            "keystone" => {
                let (a, b) = value.split_once(',').expect("keystone=top,right");
                opts.keystone = (num(a), num(b));
            }
            _ => panic!("unknown setting {key}"),
        }
    }
    let ecg = synthetic_ecg(7 + opts.seed, 72.0, 10.0, 500.0);
    let page = render(&ecg, &opts);
    std::fs::write(&args[1], to_png(&page.image)).expect("write png");
    std::fs::write(&args[2], page.truth.to_csv()).expect("write csv");
}
