//! Browser binding: JavaScript values in, [`crate::digitize`] and the export writers, JavaScript
//! values out. Type conversion only; the page's worker (`www/worker.js`) owns this module.

use crate::export;
use crate::options::Options;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

/// Routes Rust panics to `console.error` with a message, instead of a bare `unreachable`.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// The page's settings, as the CLI takes them; absent fields keep the defaults.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Settings {
    /// Paper speed: `auto` or mm/s, as a string or a number.
    speed: Option<NumberSetting>,
    /// `auto` or mm/mV.
    gain: Option<String>,
    /// `auto` or a layout name such as `3x4+II`.
    layout: Option<String>,
    /// Resolution for pages without a grid: `auto` or dpi, as a string or a number.
    dpi: Option<NumberSetting>,
    /// The file's stem; the WFDB record is named after it as the CLI names it.
    stem: Option<String>,
}

/// The page may send a speed or a resolution as a number or as text (`auto`).
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberSetting {
    Number(f32),
    Text(String),
}

impl NumberSetting {
    fn into_text(self) -> String {
        match self {
            NumberSetting::Number(n) => n.to_string(),
            NumberSetting::Text(t) => t,
        }
    }
}

fn js_error(message: impl AsRef<str>) -> JsValue {
    js_sys::Error::new(message.as_ref()).into()
}

/// Digitizes an encoded image. `settings` is `{speed?, gain?, layout?, dpi?, stem?}` or
/// undefined.
///
/// Resolves to `{csv, json, wfdb_name, wfdb_header, wfdb_data, digitization}`; rejects with an `Error`
/// whose message is the core's user-facing text.
#[wasm_bindgen]
pub fn digitize(bytes: &[u8], settings: JsValue) -> Result<JsValue, JsValue> {
    let s: Settings = if settings.is_undefined() || settings.is_null() {
        Settings::default()
    } else {
        serde_wasm_bindgen::from_value(settings)
            .map_err(|e| js_error(format!("invalid settings: {e}")))?
    };
    let speed = s.speed.map(NumberSetting::into_text);
    let dpi = s.dpi.map(NumberSetting::into_text);
    let options = Options::from_settings(
        speed.as_deref(),
        s.gain.as_deref(),
        s.layout.as_deref(),
        dpi.as_deref(),
    )
    .map_err(|e| js_error(e.to_string()))?;
    let d = crate::digitize(bytes, &options).map_err(|e| js_error(e.to_string()))?;
    let wfdb_name = export::wfdb::record_name(s.stem.as_deref().unwrap_or("page"));
    let wfdb = export::wfdb::to_wfdb(&d, &wfdb_name);

    let serializer = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    let digitization = d
        .serialize(&serializer)
        .map_err(|e| js_error(format!("cannot pass the result to the page: {e}")))?;
    let out = js_sys::Object::new();
    let set = |key: &str, value: JsValue| js_sys::Reflect::set(&out, &key.into(), &value);
    set("csv", export::csv::to_csv(&d).into())?;
    set("json", export::json::to_json(&d).into())?;
    set("wfdb_name", wfdb_name.into())?;
    set("wfdb_header", wfdb.header.into())?;
    set(
        "wfdb_data",
        js_sys::Uint8Array::from(wfdb.data.as_slice()).into(),
    )?;
    set("digitization", digitization)?;
    Ok(out.into())
}

/// Panics on purpose, so that tests can check that the page survives a panic inside wasm.
#[wasm_bindgen]
pub fn panic_for_tests() {
    panic!("deliberate panic for tests");
}
