//! Time per page of the whole pipeline, native, one thread:
//! `cargo bench --bench pipeline`. Numbers go to BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};
use ecg_digitizer::{digitize, Options};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

fn pages(c: &mut Criterion) {
    let options = Options::default();
    let mut group = c.benchmark_group("digitize");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(12));
    for name in ["dev002.png", "dev028.jpg", "photo_ph002.jpg"] {
        let bytes = fixture(name);
        group.bench_function(name, |b| {
            b.iter(|| digitize(black_box(&bytes), &options).expect("digitize"))
        });
    }
    group.finish();
}

criterion_group!(benches, pages);
criterion_main!(benches);
