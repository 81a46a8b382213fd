//! `photolabel export-xmp`: writes the library's tags to XMP sidecars beside the photos (for
//! digiKam, darktable, Lightroom), merging into sidecars that exist. Reads the library only, so
//! it takes no lock; a sidecar that cannot be written is listed and the others go on.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use photolabel::config::Paths;
use photolabel::xmp::{Naming, XmpOptions, export};

use super::exit;
use super::scan::open_existing;

/// How sidecars are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NamingArg {
    /// `photo.jpg.xmp` (digiKam, darktable).
    Ext,
    /// `photo.xmp` (Lightroom).
    Replace,
}

#[derive(Debug, Args)]
pub struct ExportXmpArgs {
    /// Every photo of the library.
    #[arg(long, conflicts_with = "paths")]
    pub all: bool,
    /// Photos, or folders whose photos to export.
    #[arg(value_name = "PATH", required_unless_present = "all")]
    pub paths: Vec<PathBuf>,
    /// Sidecar naming.
    #[arg(long, value_enum, default_value_t = NamingArg::Ext)]
    pub naming: NamingArg,
    /// Model tags below this confidence are not written (user tags always are).
    #[arg(long, default_value_t = 0.5)]
    pub min_confidence: f32,
}

impl ExportXmpArgs {
    /// The export options these arguments ask for.
    pub fn options(&self) -> XmpOptions {
        XmpOptions {
            write_on_label: false,
            naming: match self.naming {
                NamingArg::Ext => Naming::Ext,
                NamingArg::Replace => Naming::Replace,
            },
            min_confidence: self.min_confidence.clamp(0.0, 1.0),
        }
    }
}

/// `photolabel export-xmp [--all | PATH..]`.
pub fn run(paths: &Paths, args: &ExportXmpArgs, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_existing(paths)?;
    let targets: &[PathBuf] = if args.all { &[] } else { &args.paths };
    let photos = export::photos_under(&store, targets)?;
    if photos.is_empty() {
        eprintln!("photolabel: no library photos at these paths");
        return Ok(ExitCode::from(exit::NOT_FOUND));
    }
    let report = export::export(&store, &photos, &args.options())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let mut err = std::io::stderr().lock();
        for (path, msg) in &report.failed {
            writeln!(err, "photolabel: {msg} (photo {})", path.display())?;
        }
        println!(
            "{} sidecars written, {} already up to date, {} photos without tags, {} failed \
             ({:.1} s)",
            report.written,
            report.unchanged,
            report.skipped,
            report.failed.len(),
            report.elapsed_s
        );
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::PARTIAL)
    })
}
