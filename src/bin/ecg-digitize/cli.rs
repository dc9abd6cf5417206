//! The command line: batch digitization of ECG page images, and scoring against truth.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ecg_digitizer::eval::{self, Report};
use ecg_digitizer::{digitize, export, Options};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ecg-digitize",
    version,
    about = "Digitize paper 12-lead ECG images into calibrated signals (CSV, WFDB, JSON).",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Score predicted CSVs against truth CSVs (raw and aligned SNR).
    Eval(EvalArgs),
}

#[derive(Args)]
struct RunArgs {
    /// Image files, or directories of images (PNG, JPEG, BMP, TIFF, WebP, GIF).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Directory for the outputs; created if missing.
    #[arg(long, required = true)]
    out_dir: Option<PathBuf>,
    /// Output formats, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "csv")]
    format: Vec<Format>,
    /// Paper speed in mm/s, or `auto` to read it from the printed text ("25mm/s") or the
    /// calibration pulse (25 without either).
    #[arg(long, default_value = "auto")]
    speed: String,
    /// Gain in mm/mV, or `auto` to read it from the calibration pulse (or the printed text,
    /// "10mm/mV", without one).
    #[arg(long, default_value = "auto")]
    gain: String,
    /// Page layout: `auto`, `3x4`, `3x4+II`, `3x4+V1,II,V5`, `6x2`, `6x2+II`, `12x1`,
    /// `6x2-cabrera`, `12x1-cabrera` (aVL, I, -aVR, II, aVF, III), `6x1-limb`, `6x1-chest`.
    #[arg(long, default_value = "auto")]
    layout: String,
    /// Resolution of the images, `auto` or dots per inch, used only on pages without a grid
    /// (auto: what the file states, where plausible; else the calibration pulses).
    #[arg(long, default_value = "auto")]
    dpi: String,
    /// Files processed in parallel (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Skip inputs whose outputs all exist already (resume an interrupted batch).
    #[arg(long)]
    skip_existing: bool,
    /// Largest image accepted, in megapixels; bigger files are refused before decoding.
    #[arg(long, default_value_t = 100.0, value_parser = positive)]
    max_megapixels: f64,
    /// Most memory one image may take to decode, in MiB.
    #[arg(long, default_value_t = 1024.0, value_parser = positive)]
    max_memory_mib: f64,
}

fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("expected a positive number, got '{s}'")),
    }
}

#[derive(Args)]
struct EvalArgs {
    /// Directory of truth CSVs (`<id>.csv`).
    #[arg(long)]
    truth: PathBuf,
    /// Directory of predicted CSVs with the same names.
    #[arg(long)]
    pred: PathBuf,
    /// Optional manifest CSV with `id` and `recipe` columns, for per-recipe rows.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Also print one line per page.
    #[arg(long)]
    pages: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
enum Format {
    Csv,
    Wfdb,
    Json,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Eval(args)) => run_eval(&args),
        None => run_batch(&cli.run),
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

const IMAGE_EXTENSIONS: [&str; 9] = [
    "png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp", "gif", "jfif",
];

fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && f.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                            IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                        })
                })
                .collect();
            found.sort();
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    Ok(files)
}

/// Output base names: the file stem, or the whole file name where two stems collide.
fn output_names(files: &[PathBuf]) -> Vec<String> {
    let stem = |f: &PathBuf| {
        f.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "page".into())
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for f in files {
        *counts.entry(stem(f)).or_default() += 1;
    }
    let mut used: HashMap<String, usize> = HashMap::new();
    files
        .iter()
        .map(|f| {
            let s = stem(f);
            let mut name = if counts[&s] > 1 {
                f.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(s)
            } else {
                s
            };
            let k = used.entry(name.clone()).or_default();
            *k += 1;
            if *k > 1 {
                name = format!("{name}-{k}");
            }
            name
        })
        .collect()
}

/// Writes via a temporary file and a rename, so a crash never leaves half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn outputs_for(out_dir: &Path, name: &str, formats: &[Format]) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for f in formats {
        match f {
            Format::Csv => v.push(out_dir.join(format!("{name}.csv"))),
            Format::Json => v.push(out_dir.join(format!("{name}.json"))),
            Format::Wfdb => {
                let r = export::wfdb::record_name(name);
                v.push(out_dir.join(format!("{r}.hea")));
                v.push(out_dir.join(format!("{r}.dat")));
            }
        }
    }
    v
}

fn process(
    path: &Path,
    name: &str,
    out_dir: &Path,
    formats: &[Format],
    options: &Options,
) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let result = std::panic::catch_unwind(|| digitize(&bytes, options))
        .map_err(|_| "internal error while digitizing (please report this file)".to_string())?;
    let d = result.map_err(|e| e.to_string())?;
    let write = |p: PathBuf, b: &[u8]| {
        write_atomic(&p, b).map_err(|e| format!("cannot write {}: {e}", p.display()))
    };
    for f in formats {
        match f {
            Format::Csv => write(
                out_dir.join(format!("{name}.csv")),
                export::csv::to_csv(&d).as_bytes(),
            )?,
            Format::Json => write(
                out_dir.join(format!("{name}.json")),
                export::json::to_json(&d).as_bytes(),
            )?,
            Format::Wfdb => {
                let r = export::wfdb::record_name(name);
                let rec = export::wfdb::to_wfdb(&d, &r);
                write(out_dir.join(format!("{r}.dat")), &rec.data)?;
                write(out_dir.join(format!("{r}.hea")), rec.header.as_bytes())?;
            }
        }
    }
    Ok(())
}

fn run_batch(args: &RunArgs) -> ExitCode {
    let Some(out_dir) = args.out_dir.as_ref() else {
        return usage_error("--out-dir is required");
    };
    let mut options = match Options::from_settings(
        Some(&args.speed),
        Some(&args.gain),
        Some(&args.layout),
        Some(&args.dpi),
    ) {
        Ok(o) => o,
        Err(e) => return usage_error(&e.to_string()),
    };
    options.limits.max_pixels = (args.max_megapixels * 1e6) as u64;
    options.limits.max_alloc_bytes = (args.max_memory_mib * 1024.0 * 1024.0) as u64;
    let files = match collect_inputs(&args.inputs) {
        Ok(f) if f.is_empty() => return usage_error("no image files found in the given inputs"),
        Ok(f) => f,
        Err(e) => return usage_error(&e),
    };
    if let Err(e) = std::fs::create_dir_all(out_dir) {
        return usage_error(&format!("cannot create {}: {e}", out_dir.display()));
    }
    let mut formats = args.format.clone();
    formats.dedup();
    let names = output_names(&files);
    let jobs = args.jobs.unwrap_or(0);
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(p) => p,
        Err(e) => return usage_error(&format!("cannot start {jobs} worker threads: {e}")),
    };
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(files.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} eta {eta} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let failures: usize = pool.install(|| {
        files
            .par_iter()
            .zip(names.par_iter())
            .map(|(file, name)| {
                if args.skip_existing
                    && outputs_for(out_dir, name, &formats)
                        .iter()
                        .all(|p| p.exists())
                {
                    bar.inc(1);
                    return 0;
                }
                let r = process(file, name, out_dir, &formats, &options);
                bar.inc(1);
                match r {
                    Ok(()) => 0,
                    Err(msg) => {
                        bar.suspend(|| eprintln!("error: {}: {msg}", file.display()));
                        1
                    }
                }
            })
            .sum()
    });
    bar.finish_and_clear();
    if failures > 0 {
        eprintln!("{} of {} files failed", failures, files.len());
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn read_manifest(path: &Path) -> Result<HashMap<String, String>, String> {
    let mut r = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let h = r.headers().map_err(|e| e.to_string())?.clone();
    let id = h
        .iter()
        .position(|c| c == "id")
        .ok_or("manifest has no 'id' column")?;
    let recipe = h
        .iter()
        .position(|c| c == "recipe")
        .ok_or("manifest has no 'recipe' column")?;
    let mut map = HashMap::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        if let (Some(i), Some(g)) = (rec.get(id), rec.get(recipe)) {
            map.insert(i.to_string(), g.to_string());
        }
    }
    Ok(map)
}

fn run_eval(args: &EvalArgs) -> ExitCode {
    let groups = match args.manifest.as_deref().map(read_manifest).transpose() {
        Ok(g) => g,
        Err(e) => return usage_error(&e),
    };
    let mut truths: Vec<PathBuf> = match std::fs::read_dir(&args.truth) {
        Ok(d) => d
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "csv"))
            .collect(),
        Err(e) => return usage_error(&format!("{}: {e}", args.truth.display())),
    };
    truths.sort();
    let mut report = Report::default();
    let mut missing = 0;
    for t in truths {
        let Ok(text) = std::fs::read_to_string(&t) else {
            continue;
        };
        let Ok(truth) = eval::parse_csv(&text) else {
            continue;
        }; // manifest.csv and other tables
        let id = t.file_stem().unwrap().to_string_lossy().into_owned();
        let pred_path = args.pred.join(format!("{id}.csv"));
        let pred = match std::fs::read_to_string(&pred_path)
            .map_err(|e| e.to_string())
            .and_then(|s| eval::parse_csv(&s))
        {
            Ok(p) => p,
            Err(e) => {
                eprintln!("warning: {}: {e}; scored as all-zero", pred_path.display());
                missing += 1;
                eval::Table {
                    leads: vec![Vec::new(); 12],
                    fs_hz: truth.fs_hz,
                }
            }
        };
        let score = eval::score_page(&truth, &pred, 0.2);
        let group = groups.as_ref().and_then(|g| g.get(&id).cloned());
        report.pages.push((id, group, score));
    }
    if report.pages.is_empty() {
        return usage_error(&format!("no truth CSVs in {}", args.truth.display()));
    }
    // A closed pipe (`| head`) is the reader's choice, not an error.
    match print_report(
        &mut std::io::stdout().lock(),
        &report,
        missing,
        groups.is_some(),
        args.pages,
    ) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: writing the report: {e}");
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    }
}

/// Prints the evaluation tables.
fn print_report(
    w: &mut impl std::io::Write,
    report: &eval::Report,
    missing: usize,
    by_group: bool,
    pages: bool,
) -> std::io::Result<()> {
    let all = report.overall();
    writeln!(w, "pages: {}  (missing predictions: {missing})", all.pages)?;
    writeln!(
        w,
        "mean raw SNR (PhysioNet 2024):       {:7.2} dB",
        all.mean_raw_db
    )?;
    writeln!(
        w,
        "aligned score (±0.2 s, offset, cap): {:7.2} dB   worst page {:6.2} dB",
        all.aligned_db, all.worst_aligned_db
    )?;
    writeln!(w)?;
    writeln!(w, "{:<8} {:>9} {:>11}", "lead", "raw dB", "aligned dB")?;
    for (lead, raw, al) in report.by_lead() {
        writeln!(w, "{:<8} {:>9.2} {:>11.2}", lead.name(), raw, al)?;
    }
    if by_group {
        writeln!(w)?;
        writeln!(
            w,
            "{:<20} {:>5} {:>9} {:>11} {:>10}",
            "recipe", "pages", "raw dB", "aligned dB", "worst dB"
        )?;
        for (g, a) in report.by_group() {
            writeln!(
                w,
                "{:<20} {:>5} {:>9.2} {:>11.2} {:>10.2}",
                g, a.pages, a.mean_raw_db, a.aligned_db, a.worst_aligned_db
            )?;
        }
    }
    if pages {
        writeln!(w)?;
        writeln!(
            w,
            "{:<12} {:<20} {:>9} {:>11}",
            "page", "recipe", "raw dB", "aligned dB"
        )?;
        for (id, g, s) in &report.pages {
            writeln!(
                w,
                "{:<12} {:<20} {:>9.2} {:>11.2}",
                id,
                g.as_deref().unwrap_or("-"),
                s.mean_raw_db(),
                10.0 * s.aligned_ratio().log10()
            )?;
        }
    }
    Ok(())
}
