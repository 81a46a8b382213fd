//! Places from GPS: a photo's EXIF coordinates become the tags people search for ("paris",
//! "ile-de-france", "france"), reverse-geocoded offline. The place list is GeoNames' cities of
//! 1,000 people or more, embedded in the `reverse_geocoder` crate (nothing is downloaded); the
//! country name comes from the ISO 3166 table of `isocountry`. The geocoder (a k-d tree over
//! about 150,000 places) is built once, on the first photo with coordinates.
//!
//! Tags are lower-case, as written in GeoNames' ASCII names ("ile-de-france"); search folds
//! accents anyway. They are stored as user labels from `place` (see [`PLACE_MODEL`]) with the
//! category [`PLACE_CATEGORY`] above them, so the tag browser groups them.

use std::sync::OnceLock;

use reverse_geocoder::ReverseGeocoder;

/// The `model` of the labels holding a photo's places.
pub const PLACE_MODEL: &str = "place";

/// The category every place tag is filed under.
pub const PLACE_CATEGORY: &str = "place";

/// Mean Earth radius in km (distances on the unit sphere times this).
const EARTH_KM: f64 = 6371.0;

/// Farther than this from the nearest known town, the photo gets no town tag.
const TOWN_KM: f64 = 25.0;

/// Farther than this from the nearest known town (at sea, in the wilderness), no place tag at
/// all: the nearest town's region and country would be guesses.
const REGION_KM: f64 = 100.0;

/// Short names people search for, where ISO 3166's official name is long.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("BO", "bolivia"),
    ("BN", "brunei"),
    ("CD", "democratic republic of the congo"),
    ("CZ", "czechia"),
    ("FM", "micronesia"),
    ("GB", "united kingdom"),
    ("IR", "iran"),
    ("KP", "north korea"),
    ("KR", "south korea"),
    ("LA", "laos"),
    ("MK", "north macedonia"),
    ("MD", "moldova"),
    ("PS", "palestine"),
    ("RU", "russia"),
    ("SY", "syria"),
    ("TW", "taiwan"),
    ("TZ", "tanzania"),
    ("US", "united states"),
    ("VE", "venezuela"),
    ("VN", "vietnam"),
    ("VA", "vatican"),
];

fn geocoder() -> &'static ReverseGeocoder {
    static GEOCODER: OnceLock<ReverseGeocoder> = OnceLock::new();
    GEOCODER.get_or_init(ReverseGeocoder::new)
}

/// A country's name from its ISO 3166 alpha-2 code, lower-case and short.
pub fn country_name(code: &str) -> Option<String> {
    if let Some((_, short)) = SHORT_NAMES.iter().find(|(c, _)| *c == code) {
        return Some((*short).to_string());
    }
    let name = isocountry::CountryCode::for_alpha2(code).ok()?.name();
    // "Bolivia (Plurinational State of)", "Korea, Republic of": the part before the comment.
    let name = name.split([',', '(']).next().unwrap_or(name).trim();
    (!name.is_empty()).then(|| name.to_lowercase())
}

/// The place tags of a position (degrees, WGS 84): town, region (GeoNames' admin1) and
/// country, most specific first, without repeats (Monaco is a town, region and country). Empty
/// for impossible coordinates, for the 0, 0 that broken GPS units write, and far from any town.
pub fn place_tags(lat: f64, lon: f64) -> Vec<String> {
    let valid = lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0;
    if !valid || (lat == 0.0 && lon == 0.0) {
        return Vec::new();
    }
    let hit = geocoder().search((lat, lon));
    // `distance` is the squared chord between points of the unit sphere.
    let km = 2.0 * EARTH_KM * (hit.distance.max(0.0).sqrt() / 2.0).min(1.0).asin();
    if km > REGION_KM {
        return Vec::new();
    }
    let r = hit.record;
    let mut tags: Vec<String> = Vec::new();
    let mut push = |t: String| {
        let t = t.trim().to_lowercase();
        if !t.is_empty() && !tags.contains(&t) {
            tags.push(t);
        }
    };
    if km <= TOWN_KM {
        push(r.name.clone());
    }
    push(r.admin1.clone());
    if let Some(country) = country_name(&r.cc) {
        push(country);
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_is_in_ile_de_france_in_france() {
        assert_eq!(
            place_tags(48.8566, 2.3522),
            ["paris", "ile-de-france", "france"]
        );
    }

    #[test]
    fn countries_have_short_lower_case_names() {
        assert_eq!(country_name("FR").as_deref(), Some("france"));
        assert_eq!(country_name("US").as_deref(), Some("united states"));
        assert_eq!(country_name("GB").as_deref(), Some("united kingdom"));
        assert_eq!(country_name("ZZ"), None);
    }

    #[test]
    fn null_island_and_open_sea_have_no_place() {
        assert!(place_tags(0.0, 0.0).is_empty());
        assert!(place_tags(-40.0, -30.0).is_empty()); // South Atlantic
        assert!(place_tags(91.0, 0.0).is_empty());
    }
}
