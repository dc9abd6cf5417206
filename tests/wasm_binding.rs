//! The browser binding (`src/wasm.rs`) run as WebAssembly, in Node and in headless Chromium:
//! `bash scripts/test-web.sh` runs it both ways. The binding must only convert types, so every
//! check compares it with the core called directly.
#![cfg(target_arch = "wasm32")]

use ecg_digitizer::{export, wasm, Options};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

const SAMPLE_PNG: &[u8] = include_bytes!("../www/samples/dev002.png");

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap_or_else(|_| panic!("no field {key}"))
}

fn string(v: &JsValue, key: &str) -> String {
    get(v, key)
        .as_string()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

/// The message of the Error the binding rejected with (without printing a whole result).
fn error_of(result: Result<JsValue, JsValue>) -> String {
    let Err(err) = result else {
        panic!("expected an error, got a result");
    };
    err.dyn_into::<js_sys::Error>()
        .expect("a JS Error")
        .message()
        .into()
}

fn settings(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap()
}

#[wasm_bindgen_test]
fn corrupt_png_rejects_with_the_core_message() {
    let bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR truncated";
    let expected = ecg_digitizer::digitize(bytes, &Options::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        error_of(wasm::digitize(bytes, JsValue::UNDEFINED)),
        expected
    );
    assert!(expected.contains("could not be decoded"), "{expected}");
}

#[wasm_bindgen_test]
fn non_image_and_empty_files_reject_with_the_core_messages() {
    assert_eq!(
        error_of(wasm::digitize(b"hello, not an image", JsValue::NULL)),
        "not an image: the file is not PNG, JPEG, BMP, TIFF, WebP or GIF"
    );
    assert_eq!(
        error_of(wasm::digitize(b"", JsValue::UNDEFINED)),
        "the file is empty"
    );
}

#[wasm_bindgen_test]
fn bad_settings_reject_with_the_option_parser_message() {
    let cases = [
        (
            r#"{"gain":"loud"}"#,
            Options::from_settings(None, Some("loud"), None, None),
        ),
        (
            r#"{"speed":-1}"#,
            Options::from_settings(Some("-1"), None, None, None),
        ),
        (
            r#"{"speed":"fast"}"#,
            Options::from_settings(Some("fast"), None, None, None),
        ),
        (
            r#"{"layout":"7x7"}"#,
            Options::from_settings(None, None, Some("7x7"), None),
        ),
        (
            r#"{"dpi":"fine"}"#,
            Options::from_settings(None, None, None, Some("fine")),
        ),
        (
            r#"{"dpi":5}"#,
            Options::from_settings(None, None, None, Some("5")),
        ),
        (
            r#"{"layout":"3x4+V9"}"#,
            Options::from_settings(None, None, Some("3x4+V9"), None),
        ),
    ];
    for (json, expected) in cases {
        assert_eq!(
            error_of(wasm::digitize(SAMPLE_PNG, settings(json))),
            expected.unwrap_err().to_string(),
            "{json}"
        );
    }
}

#[wasm_bindgen_test]
fn mistyped_settings_are_refused() {
    let message = error_of(wasm::digitize(SAMPLE_PNG, settings(r#"{"speed":[25]}"#)));
    assert!(message.starts_with("invalid settings:"), "{message}");
    let message = error_of(wasm::digitize(SAMPLE_PNG, settings(r#"{"layout":3}"#)));
    assert!(message.starts_with("invalid settings:"), "{message}");
}

#[wasm_bindgen_test]
fn sample_page_gives_the_cli_exports_and_a_plain_object_for_drawing() {
    let d = ecg_digitizer::digitize(SAMPLE_PNG, &Options::default()).unwrap();
    let r = wasm::digitize(SAMPLE_PNG, JsValue::UNDEFINED).unwrap();

    assert_eq!(string(&r, "csv"), export::csv::to_csv(&d));
    assert_eq!(string(&r, "json"), export::json::to_json(&d));
    let wfdb = export::wfdb::to_wfdb(&d, "page");
    assert_eq!(string(&r, "wfdb_header"), wfdb.header);
    let data: Uint8Array = get(&r, "wfdb_data")
        .dyn_into()
        .expect("wfdb_data is a Uint8Array");
    assert_eq!(data.to_vec(), wfdb.data);

    let page = get(&r, "digitization");
    assert!(page.is_object() && !page.is_instance_of::<js_sys::Map>());
    assert_eq!(js_sys::Array::from(&get(&page, "leads")).length(), 12);
    assert_eq!(string(&page, "layout"), d.layout);
    assert_eq!(get(&page, "n_samples").as_f64(), Some(d.n_samples as f64));
    let panel = js_sys::Array::from(&get(&page, "panels")).get(0);
    assert_eq!(js_sys::Array::from(&get(&panel, "corners")).length(), 4);
    let first_lead = js_sys::Array::from(&get(&page, "leads")).get(0);
    assert_eq!(string(&first_lead, "lead"), "I");
}

#[wasm_bindgen_test]
fn settings_reach_the_core_as_the_cli_passes_them() {
    let options = Options::from_settings(Some("25"), Some("10"), Some("3x4+II"), None).unwrap();
    let d = ecg_digitizer::digitize(SAMPLE_PNG, &options).unwrap();
    let r = wasm::digitize(
        SAMPLE_PNG,
        settings(r#"{"speed":25,"gain":"10","layout":"3x4+II","stem":"rec 1"}"#),
    )
    .unwrap();
    assert_eq!(string(&r, "csv"), export::csv::to_csv(&d));
    assert_eq!(string(&r, "wfdb_name"), "rec_1");
    assert_eq!(
        string(&r, "wfdb_header"),
        export::wfdb::to_wfdb(&d, "rec_1").header
    );
    let page = get(&r, "digitization");
    assert_eq!(string(&page, "gain_source"), "user");
    assert_eq!(get(&page, "layout_detected").as_bool(), Some(false));
}

#[wasm_bindgen_test]
fn a_resolution_setting_scales_a_page_without_a_grid() {
    use ecg_digitizer::render::{render, synthetic_ecg, to_png, RenderOptions};
    // A small gridless page, so that only the resolution (or the pulses) can scale it.
    let page = render(
        &synthetic_ecg(19, 72.0, 10.0, 500.0),
        &RenderOptions {
            grid: false,
            dpi: 100.0,
            ..RenderOptions::default()
        },
    );
    let png = to_png(&page.image);
    let options = Options::from_settings(None, None, None, Some("100")).unwrap();
    let d = ecg_digitizer::digitize(&png, &options).unwrap();
    assert!(
        d.warnings.iter().any(|w| w.contains("100 dpi as given")),
        "{:?}",
        d.warnings
    );
    let r = wasm::digitize(&png, settings(r#"{"dpi":100}"#)).unwrap();
    assert_eq!(string(&r, "csv"), export::csv::to_csv(&d));
    let text = wasm::digitize(&png, settings(r#"{"dpi":"100"}"#)).unwrap();
    assert_eq!(string(&text, "csv"), export::csv::to_csv(&d));
}
