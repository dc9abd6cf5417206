//! The `ecg-digitize` command: batches, bad files, exit codes, formats, resuming, scoring.

mod common;
use common::{fixture, run, stderr};

fn tiny_png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([255, 255, 255]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn batch_with_a_corrupt_file_writes_the_good_outputs_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let good = fixture("dev002.png");
    let corrupt = dir.path().join("corrupt.png");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&corrupt, &bytes[..bytes.len() / 3]).unwrap();
    let out = dir.path().join("out");
    let o = run(&[
        good.as_os_str(),
        corrupt.as_os_str(),
        "--out-dir".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("dev002.csv")).unwrap();
    assert!(csv.starts_with("time_s,I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6\n"));
    assert_eq!(csv.lines().count(), 5001);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "error: {}: the PNG image could not be decoded",
            corrupt.display()
        )),
        "{err}"
    );
    assert!(!out.join("corrupt.csv").exists());
    assert!(!err.contains("panicked"));
}

#[test]
fn non_image_empty_and_tiny_files_get_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "notes.png",
            b"just some text, not an image".to_vec(),
            "not an image",
        ),
        ("empty.jpg", Vec::new(), "the file is empty"),
        (
            "tiny.png",
            tiny_png(),
            "the image is 8×8 px: too small to hold an ECG",
        ),
        (
            "scan.jpg",
            b"%PDF-1.4 fake".to_vec(),
            "PDF files are not supported",
        ),
    ];
    for (name, bytes, message) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let o = run(&[
            path.as_os_str(),
            "--out-dir".as_ref(),
            dir.path().join("out").as_os_str(),
        ]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("error: {}: {message}", path.display())),
            "{name}: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&[]).status.code(), Some(2));
    let img = fixture("dev002.png");
    let o = run(&[
        img.as_os_str(),
        "--out-dir".as_ref(),
        "/tmp/x".as_ref(),
        "--gain".as_ref(),
        "loud".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("gain must be 'auto' or a number"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "/no/such/file.png".as_ref(),
        "--out-dir".as_ref(),
        "/tmp/x".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn size_and_memory_limits_are_options() {
    let dir = tempfile::tempdir().unwrap();
    let img = fixture("dev002.png");
    let out = dir.path().join("out");
    for (flag, value, message) in [
        ("--max-megapixels", "1", "above the limit of 1 megapixels"),
        ("--max-memory-mib", "2", "above the limit of 2 MiB"),
    ] {
        let o = run(&[
            img.as_os_str(),
            "--out-dir".as_ref(),
            out.as_os_str(),
            flag.as_ref(),
            value.as_ref(),
        ]);
        assert_eq!(o.status.code(), Some(1), "{flag}");
        assert!(stderr(&o).contains(message), "{flag}: {}", stderr(&o));
        assert!(!out.join("dev002.csv").exists());
    }
    let o = run(&[
        img.as_os_str(),
        "--out-dir".as_ref(),
        out.as_os_str(),
        "--max-megapixels=0".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("expected a positive number"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn all_three_formats_are_written_and_skip_existing_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let img = fixture("dev014.png");
    let out = dir.path().join("out");
    let args = [
        img.as_os_str(),
        "--out-dir".as_ref(),
        out.as_os_str(),
        "--format".as_ref(),
        "csv,wfdb,json".as_ref(),
        "--jobs".as_ref(),
        "1".as_ref(),
    ];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for f in ["dev014.csv", "dev014.json", "dev014.hea", "dev014.dat"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let hea = std::fs::read_to_string(out.join("dev014.hea")).unwrap();
    assert!(hea.starts_with("dev014 12 500 5000\n"), "{hea}");
    assert_eq!(
        std::fs::metadata(out.join("dev014.dat")).unwrap().len(),
        5000 * 12 * 2
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("dev014.json")).unwrap()).unwrap();
    // dev014 has no pulse: its footer, "25mm/s" and "10mm/mV", gives both.
    assert_eq!(json["gain_source"], "text");
    assert_eq!(json["speed_source"], "text");

    // A resumed run leaves existing outputs untouched.
    std::fs::write(out.join("dev014.csv"), "kept").unwrap();
    let mut resumed = args.to_vec();
    resumed.push("--skip-existing".as_ref());
    assert_eq!(run(&resumed).status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(out.join("dev014.csv")).unwrap(),
        "kept"
    );
}

#[test]
fn eval_reports_raw_and_aligned_scores_per_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth");
    std::fs::create_dir(&truth).unwrap();
    for f in ["dev002.csv", "dev014.csv"] {
        std::fs::copy(fixture(f), truth.join(f)).unwrap();
    }
    let pred = dir.path().join("pred");
    let imgs = [fixture("dev002.png"), fixture("dev014.png")];
    let o = run(&[
        imgs[0].as_os_str(),
        imgs[1].as_os_str(),
        "--out-dir".as_ref(),
        pred.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let manifest = fixture("manifest.csv");
    let o = run(&[
        "eval".as_ref(),
        "--truth".as_ref(),
        truth.as_os_str(),
        "--pred".as_ref(),
        pred.as_os_str(),
        "--manifest".as_ref(),
        manifest.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("pages: 2"), "{text}");
    assert!(text.contains("mean raw SNR (PhysioNet 2024)"), "{text}");
    assert!(text.contains("aligned score"), "{text}");
    assert!(
        text.contains("no_pulse") && text.contains("clean"),
        "{text}"
    );
}
