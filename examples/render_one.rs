//! Renders one synthetic page from command-line settings, for checking by eye or by eval:
//! `cargo run --release --example render_one -- out.png truth.csv rotation_deg [noise] [dpi] [seed] [nogrid]`.

use ecg_digitizer::render::{render, synthetic_ecg, to_png, RenderOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: f32| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    let seed = arg(6, 1.0) as u64;
    let opts = RenderOptions {
        rotation_deg: arg(3, 0.0),
        noise_sigma: arg(4, 0.0),
        dpi: arg(5, 200.0),
        seed,
        grid: args.get(7).is_none_or(|v| v != "nogrid"),
        ..RenderOptions::default()
    };
    let ecg = synthetic_ecg(7 + seed, 72.0, 10.0, 500.0);
    let page = render(&ecg, &opts);
    std::fs::write(&args[1], to_png(&page.image)).expect("write png");
    std::fs::write(&args[2], page.truth.to_csv()).expect("write csv");
}
