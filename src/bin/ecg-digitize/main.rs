//! `ecg-digitize`: batch digitization of ECG page images, and scoring against truth.
//! Native only; cargo also compiles binaries when testing for wasm32, so there it is empty.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
