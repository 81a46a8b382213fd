//! The one place that chooses the burn [`Device`] models run on: wgpu when a GPU adapter
//! initialises, else burn's `flex` CPU backend, announced with one log line. Everything else
//! takes `&Device`. `PHOTOLABEL_DEVICE=cpu|wgpu|auto` forces a choice (tests force `cpu`).
//!
//! A software Vulkan adapter (Mesa lavapipe, `DeviceType::Cpu`) counts as "no GPU" under
//! `auto`: it emulates a GPU on the same cores flex uses directly, and is slower than flex (see
//! the zoo tests' timings). `PHOTOLABEL_DEVICE=wgpu` still uses it, e.g. to test the wgpu path on
//! CI. Main items: [`select`], [`SelectedDevice`], [`DeviceChoice`].

use std::sync::OnceLock;

use burn::tensor::Device;

use crate::error::{Error, Result};

/// Environment variable forcing the device: `cpu`, `wgpu` or `auto` (default).
pub const ENV_DEVICE: &str = "PHOTOLABEL_DEVICE";

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// A hardware GPU through wgpu if one initialises, else flex on the CPU.
    Auto,
    /// flex on the CPU.
    Cpu,
    /// wgpu (any adapter, software ones included); an error when none initialises.
    Wgpu,
}

impl DeviceChoice {
    /// Parses `cpu`, `wgpu`, `gpu` or `auto` (case-insensitive).
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Self::Auto),
            "cpu" | "flex" => Ok(Self::Cpu),
            "wgpu" | "gpu" => Ok(Self::Wgpu),
            other => Err(Error::Device(format!(
                "{ENV_DEVICE}={other:?}: expected cpu, wgpu or auto"
            ))),
        }
    }

    /// The choice from [`ENV_DEVICE`], `Auto` when unset.
    pub fn from_env() -> Result<Self> {
        match std::env::var(ENV_DEVICE) {
            Ok(v) => Self::parse(&v),
            Err(_) => Ok(Self::Auto),
        }
    }
}

/// Which backend ended up running the models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// wgpu on the named adapter.
    Wgpu { adapter: String, software: bool },
    /// flex on the CPU.
    Cpu,
}

/// The chosen device and what it is.
#[derive(Debug, Clone)]
pub struct SelectedDevice {
    pub device: Device,
    pub backend: Backend,
}

impl SelectedDevice {
    /// Short description for logs and the CLI: `cpu (flex)` or `wgpu (NVIDIA …)`.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Cpu => "cpu (flex)".to_owned(),
            Backend::Wgpu { adapter, software } => {
                let sw = if *software { ", software" } else { "" };
                format!("wgpu ({adapter}{sw})")
            }
        }
    }
}

/// Outcome of probing wgpu: the adapter's name and whether it is a software (CPU) adapter.
pub type WgpuProbe = std::result::Result<(Device, String, bool), String>;

/// Picks the device for `choice` given the wgpu probe; pure so the fallback rule is testable.
pub fn decide(choice: DeviceChoice, probe: impl FnOnce() -> WgpuProbe) -> Result<SelectedDevice> {
    let cpu = || SelectedDevice {
        device: Device::flex(),
        backend: Backend::Cpu,
    };
    match choice {
        DeviceChoice::Cpu => Ok(cpu()),
        DeviceChoice::Wgpu => match probe() {
            Ok((device, adapter, software)) => Ok(SelectedDevice {
                device,
                backend: Backend::Wgpu { adapter, software },
            }),
            Err(e) => Err(Error::Device(format!(
                "{ENV_DEVICE}=wgpu but no wgpu adapter initialised: {e}"
            ))),
        },
        DeviceChoice::Auto => match probe() {
            Ok((device, adapter, false)) => Ok(SelectedDevice {
                device,
                backend: Backend::Wgpu {
                    adapter,
                    software: false,
                },
            }),
            Ok((_, adapter, true)) => {
                log::warn!(
                    "only a software GPU adapter ({adapter}); running models on the CPU (flex); \
                     set {ENV_DEVICE}=wgpu to use it anyway"
                );
                Ok(cpu())
            }
            Err(e) => {
                log::warn!("no GPU adapter ({e}); running models on the CPU (flex)");
                Ok(cpu())
            }
        },
    }
}

/// Initialises wgpu on the default adapter. Catches panics from drivers that fail loudly.
fn probe_wgpu() -> WgpuProbe {
    let init = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup());
    match init {
        Ok(Ok((device, setup))) => {
            let info = setup.adapter.get_info();
            let software = info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu;
            Ok((
                device,
                format!("{} / {:?}", info.name, info.backend),
                software,
            ))
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the wgpu runtime panicked while initialising".to_owned()),
    }
}

/// The device for [`DeviceChoice::from_env`], chosen once per process (wgpu can only be
/// initialised once).
pub fn select() -> Result<SelectedDevice> {
    select_with(DeviceChoice::from_env()?)
}

/// The device for `choice`, chosen once per process and choice.
pub fn select_with(choice: DeviceChoice) -> Result<SelectedDevice> {
    static AUTO: OnceLock<std::result::Result<SelectedDevice, String>> = OnceLock::new();
    static WGPU: OnceLock<std::result::Result<SelectedDevice, String>> = OnceLock::new();
    // wgpu initialises once per process: both choices share one probe.
    static PROBE: OnceLock<WgpuProbe> = OnceLock::new();
    let probe = || PROBE.get_or_init(probe_wgpu).clone();
    let cell = match choice {
        DeviceChoice::Cpu => return decide(DeviceChoice::Cpu, probe),
        DeviceChoice::Auto => &AUTO,
        DeviceChoice::Wgpu => &WGPU,
    };
    let chosen = cell.get_or_init(|| {
        let d = decide(choice, probe).map_err(|e| e.to_string())?;
        log::info!("models run on {}", d.describe());
        Ok(d)
    });
    chosen.clone().map_err(Error::Device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_choices() {
        assert_eq!(DeviceChoice::parse("CPU").unwrap(), DeviceChoice::Cpu);
        assert_eq!(DeviceChoice::parse("wgpu").unwrap(), DeviceChoice::Wgpu);
        assert_eq!(DeviceChoice::parse("").unwrap(), DeviceChoice::Auto);
        assert!(DeviceChoice::parse("tpu").is_err());
    }

    #[test]
    fn auto_falls_back_to_cpu_without_adapter() {
        let d = decide(DeviceChoice::Auto, || Err("no adapter".into())).unwrap();
        assert_eq!(d.backend, Backend::Cpu);
        let d = decide(DeviceChoice::Auto, || {
            Ok((Device::flex(), "llvmpipe".into(), true))
        })
        .unwrap();
        assert_eq!(d.backend, Backend::Cpu);
        assert!(decide(DeviceChoice::Wgpu, || Err("no adapter".into())).is_err());
    }
}
