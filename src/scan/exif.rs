//! EXIF metadata (date taken, orientation, camera, exposure, flash, focal length, ISO, GPS
//! position) read with the maintained `kamadak-exif` crate from any container it knows (JPEG,
//! TIFF, PNG, WebP). Missing or malformed EXIF is normal and yields empty fields, not an error.

use exif::{In, Reader, Tag, Value};

use crate::store::PhotoMeta;

/// Fills the EXIF fields of `meta` from the file's bytes.
pub fn read_exif(bytes: &[u8], meta: &mut PhotoMeta) {
    let Ok(exif) = Reader::new().read_from_container(&mut std::io::Cursor::new(bytes)) else {
        return;
    };
    let field = |tag| exif.get_field(tag, In::PRIMARY);
    let text = |tag| {
        field(tag).and_then(|f| match &f.value {
            Value::Ascii(parts) => parts.first().map(|p| {
                String::from_utf8_lossy(p)
                    .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                    .to_string()
            }),
            _ => None,
        })
    };
    let rational = |tag| {
        field(tag).and_then(|f| match &f.value {
            Value::Rational(v) => v.first().filter(|r| r.denom != 0).map(|r| r.to_f64()),
            _ => None,
        })
    };
    let uint = |tag| field(tag).and_then(|f| f.value.get_uint(0));

    let taken = text(Tag::DateTimeOriginal)
        .or_else(|| text(Tag::DateTimeDigitized))
        .or_else(|| text(Tag::DateTime));
    if let Some((iso, ts)) = taken.as_deref().and_then(parse_exif_datetime) {
        meta.taken_at = Some(iso);
        meta.taken_ts = Some(ts);
    }
    meta.camera_make = text(Tag::Make).filter(|s| !s.is_empty());
    meta.camera_model = text(Tag::Model).filter(|s| !s.is_empty());
    meta.orientation = uint(Tag::Orientation)
        .and_then(|o| u16::try_from(o).ok())
        .filter(|o| (1..=8).contains(o));
    meta.exposure_s = rational(Tag::ExposureTime);
    meta.f_number = rational(Tag::FNumber);
    meta.flash = uint(Tag::Flash).map(|f| f & 1 == 1);
    meta.focal_mm = rational(Tag::FocalLength);
    meta.iso = uint(Tag::PhotographicSensitivity);
    meta.gps = exif.get_field(Tag::GPSLatitude, In::PRIMARY).is_some();
    let coordinate = |tag, ref_tag, negative: &str| {
        let v = field(tag).and_then(|f| match &f.value {
            Value::Rational(v) => degrees(v),
            _ => None,
        })?;
        let sign = match text(ref_tag) {
            Some(r) if r.eq_ignore_ascii_case(negative) => -1.0,
            _ => 1.0,
        };
        Some(sign * v)
    };
    let lat = coordinate(Tag::GPSLatitude, Tag::GPSLatitudeRef, "S");
    let lon = coordinate(Tag::GPSLongitude, Tag::GPSLongitudeRef, "W");
    if let (Some(lat), Some(lon)) = (lat, lon)
        && lat.abs() <= 90.0
        && lon.abs() <= 180.0
    {
        meta.latitude = Some(lat);
        meta.longitude = Some(lon);
        // GPSAltitudeRef 1: below sea level.
        let below = uint(Tag::GPSAltitudeRef) == Some(1);
        meta.altitude_m = rational(Tag::GPSAltitude)
            .filter(|a| a.is_finite())
            .map(|a| if below { -a } else { a });
    }
}

/// Degrees from EXIF's degrees, minutes, seconds rationals (minutes and seconds optional).
fn degrees(parts: &[exif::Rational]) -> Option<f64> {
    let mut total = 0.0;
    for (r, scale) in parts.iter().zip([1.0, 60.0, 3600.0]) {
        if r.denom == 0 {
            return None;
        }
        total += r.to_f64() / scale;
    }
    (!parts.is_empty() && total.is_finite()).then_some(total)
}

/// Parses EXIF's "YYYY:MM:DD HH:MM:SS" into ISO 8601 text and seconds since the epoch (the
/// camera's local time read as UTC: EXIF rarely says the zone, and ordering needs no more).
pub fn parse_exif_datetime(s: &str) -> Option<(String, i64)> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if y < 1800 || !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60
    {
        return None;
    }
    let iso = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}");
    Some((
        iso,
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se,
    ))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_dates_parse() {
        let (iso, ts) = parse_exif_datetime("2021:07:04 12:30:05").unwrap();
        assert_eq!(iso, "2021-07-04T12:30:05");
        assert_eq!(ts, 1_625_401_805);
        assert_eq!(parse_exif_datetime("1970:01:01 00:00:00").unwrap().1, 0);
        assert!(parse_exif_datetime("0000:00:00 00:00:00").is_none());
        assert!(parse_exif_datetime("garbage").is_none());
    }

    #[test]
    fn gps_degrees_minutes_seconds() {
        let r = |num, denom| exif::Rational { num, denom };
        let d = degrees(&[r(48, 1), r(51, 1), r(2376, 100)]).unwrap();
        assert!((d - 48.8566).abs() < 1e-4, "{d}");
        assert_eq!(degrees(&[r(2, 1)]), Some(2.0));
        assert_eq!(degrees(&[r(2, 0)]), None);
        assert_eq!(degrees(&[]), None);
    }
}
