//! Lays a photographed ECG printout flat the way the pipeline does, and writes the flat
//! page (grid taken out) for checking the dewarp by eye:
//! `cargo run --release --example flatten -- photo.jpg flat.png`.
//! Prints the grid lattice it found: crossings, period, bend and spectral concentration
//! (see `lattice::Lattice`); a flat page (no crossings traced) is written as it is.

use ecg_digitizer::{decode, dewarp, lattice};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: flatten photo.jpg flat.png");
        std::process::exit(2);
    }
    let bytes = std::fs::read(&args[1]).unwrap_or_else(|e| panic!("read {}: {e}", args[1]));
    let page = decode::decode(&bytes, &Default::default(), 4000)
        .unwrap_or_else(|e| panic!("decode {}: {e}", args[1]));
    let Some(l) = lattice::find(&page.image, &Default::default()) else {
        eprintln!("no grid found");
        std::process::exit(1);
    };
    println!(
        "{}x{} crossings, period {:.1} px, coverage {:.2}, bend {:.3}, concentration {:.3}",
        l.columns, l.rows, l.period_px, l.coverage, l.bend_periods, l.concentration
    );
    let flat = if l.columns == 0 {
        page.image
    } else {
        dewarp::flatten(&page.image, l, &Default::default()).image
    };
    flat.save(&args[2])
        .unwrap_or_else(|e| panic!("write {}: {e}", args[2]));
}
