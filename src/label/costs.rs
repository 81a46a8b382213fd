//! Each model's expected cost on this device, before and while labelling: a model measured
//! here uses its running mean; a model never measured here starts from the shipped profile
//! (the machine the default scheduler's traces were recorded on), rescaled by how this device
//! compares with that machine on the models it has measured: a model's cost on this machine is
//! what counts, not the recording machine's.

use std::collections::HashMap;

/// Cost assumed for a model neither measured here nor in the shipped profile.
pub const UNKNOWN_MS: f64 = 100.0;

/// Where a model's starting cost came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostSource {
    /// Measured on this device (the execution log).
    Measured,
    /// The shipped profile, rescaled to this device.
    Shipped,
    /// Nothing known: [`UNKNOWN_MS`].
    Unknown,
}

/// A model's starting cost: mean milliseconds, runs it is the mean of, and its source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StartCost {
    pub mean_ms: f64,
    pub runs: i64,
    pub source: CostSource,
}

/// How much slower (> 1) or faster this device is than the recording machine: the median of
/// measured / shipped over the models known to both (1 when none is).
pub fn device_scale(measured: &HashMap<String, (f64, i64)>, shipped: &[(String, f64)]) -> f64 {
    let mut ratios: Vec<f64> = shipped
        .iter()
        .filter_map(|(id, ms)| {
            let (here, n) = measured.get(id)?;
            (*n > 0 && *ms > 0.0 && *here > 0.0).then_some(here / ms)
        })
        .collect();
    if ratios.is_empty() {
        return 1.0;
    }
    ratios.sort_by(f64::total_cmp);
    let mid = ratios.len() / 2;
    if ratios.len() % 2 == 1 {
        ratios[mid]
    } else {
        (ratios[mid - 1] + ratios[mid]) / 2.0
    }
}

/// The starting cost of each of `ids`.
pub fn start_costs(
    ids: &[String],
    measured: &HashMap<String, (f64, i64)>,
    shipped: &[(String, f64)],
) -> Vec<StartCost> {
    let scale = device_scale(measured, shipped);
    ids.iter()
        .map(|id| {
            if let Some(&(ms, n)) = measured.get(id).filter(|(_, n)| *n > 0) {
                return StartCost {
                    mean_ms: ms,
                    runs: n,
                    source: CostSource::Measured,
                };
            }
            match shipped.iter().find(|(s, _)| s == id) {
                Some((_, ms)) => StartCost {
                    mean_ms: ms * scale,
                    runs: 0,
                    source: CostSource::Shipped,
                },
                None => StartCost {
                    mean_ms: UNKNOWN_MS,
                    runs: 0,
                    source: CostSource::Unknown,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmeasured_models_start_from_the_shipped_profile_rescaled_to_this_device() {
        let shipped = vec![
            ("a".to_string(), 10.0),
            ("b".to_string(), 100.0),
            ("c".to_string(), 40.0),
        ];
        // This device is twice as slow on the two models it has measured.
        let measured: HashMap<String, (f64, i64)> =
            [("a".into(), (20.0, 5)), ("b".into(), (200.0, 3))].into();
        assert!((device_scale(&measured, &shipped) - 2.0).abs() < 1e-9);
        let ids: Vec<String> = ["a", "c", "z"].iter().map(|s| s.to_string()).collect();
        let c = start_costs(&ids, &measured, &shipped);
        assert_eq!(c[0].source, CostSource::Measured);
        assert_eq!((c[0].mean_ms, c[0].runs), (20.0, 5));
        assert_eq!(c[1].source, CostSource::Shipped);
        assert!((c[1].mean_ms - 80.0).abs() < 1e-9);
        assert_eq!(c[2].source, CostSource::Unknown);
        assert_eq!(c[2].mean_ms, UNKNOWN_MS);
        // Nothing measured: the shipped figures as they are.
        let none = HashMap::new();
        assert_eq!(device_scale(&none, &shipped), 1.0);
        assert_eq!(start_costs(&ids, &none, &shipped)[1].mean_ms, 40.0);
    }
}
