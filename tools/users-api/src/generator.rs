//! Generates randomuser.me-shaped users, each a pure function of
//! (seed, page, index): the same query always gives the same users.

use super::data::{Nat, Postcode, ADJECTIVES, ANIMALS, NATS, PASSWORDS, TIMEZONES};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use md5::Md5;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Ages are computed at this instant, not "now", so that a seed's output never
/// changes: 2026-01-01T00:00:00Z.
const REFERENCE_MS: i64 = 1_767_225_600_000;
/// Birth dates from 1945-01-01 up to the reference date minus 18 years.
const DOB_FROM_MS: i64 = -788_918_400_000;
const DOB_TO_MS: i64 = REFERENCE_MS - 19 * 365 * 86_400_000;
/// Registration dates from 2002-01-01 up to the reference date.
const REGISTERED_FROM_MS: i64 = 1_009_843_200_000;

/// The top-level fields, in randomuser.me's order (the names `inc`/`exc` take).
#[rustfmt::skip]
pub const FIELDS: &[&str] = &[
    "gender", "name", "location", "email", "login", "dob", "registered", "phone", "cell", "id", "picture", "nat",
];

/// One user. Every field is optional so that `inc`/`exc` can drop it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<Login>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dob: Option<DateAndAge>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered: Option<DateAndAge>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<Picture>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Name {
    pub title: &'static str,
    pub first: &'static str,
    pub last: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Location {
    pub street: Street,
    pub city: &'static str,
    pub state: &'static str,
    pub country: &'static str,
    pub postcode: PostcodeValue,
    pub coordinates: Coordinates,
    pub timezone: Timezone,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Street {
    pub number: u32,
    pub name: &'static str,
}

/// A JSON number or a JSON string, as randomuser.me mixes them.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum PostcodeValue {
    Number(u32),
    Text(String),
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Coordinates {
    pub latitude: String,
    pub longitude: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Timezone {
    pub offset: &'static str,
    pub description: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Login {
    pub uuid: String,
    pub username: String,
    pub password: &'static str,
    pub salt: String,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DateAndAge {
    pub date: String,
    pub age: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Id {
    pub name: &'static str,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Picture {
    pub large: String,
    pub medium: String,
    pub thumbnail: String,
}

/// `gender=male|female`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Male,
    Female,
}

/// What a request asks for, apart from paging.
#[derive(Clone)]
pub struct Filter {
    /// The nationalities to draw from; never empty.
    pub nats: Vec<&'static Nat>,
    pub gender: Option<Gender>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            nats: NATS.iter().collect(),
            gender: None,
        }
    }
}

impl Filter {
    /// A filter from randomuser.me's `nat` list ("fr,GB"); unknown codes are
    /// ignored and none known means all, as there.
    pub fn with_nats(mut self, list: &str) -> Self {
        let wanted: Vec<&'static Nat> = NATS
            .iter()
            .filter(|n| {
                list.split(',')
                    .any(|c| c.trim().eq_ignore_ascii_case(n.code))
            })
            .collect();
        if !wanted.is_empty() {
            self.nats = wanted;
        }
        self
    }
}

/// The user at `index` (0-based) of `page` for `seed`.
pub fn user(seed: &str, page: u64, index: u64, filter: &Filter) -> User {
    let mut rng = ChaCha8Rng::from_seed(Sha256::digest(format!("{seed}\0{page}\0{index}")).into());
    let nat: &Nat = filter
        .nats
        .choose(&mut rng)
        .expect("a filter always has a nationality");
    let gender = filter.gender.unwrap_or(if rng.random_bool(0.5) {
        Gender::Male
    } else {
        Gender::Female
    });
    let (titles, firsts) = match gender {
        Gender::Male => (nat.male_titles, nat.male),
        Gender::Female => (nat.female_titles, nat.female),
    };
    let name = Name {
        title: pick(&mut rng, titles),
        first: pick(&mut rng, firsts),
        last: pick(&mut rng, nat.last),
    };
    let (city, state) = *nat
        .places
        .choose(&mut rng)
        .expect("every nationality has places");
    let (offset, description) = *TIMEZONES.choose(&mut rng).expect("time zones are listed");
    let location = Location {
        street: Street {
            number: rng.random_range(1..10_000),
            name: pick(&mut rng, nat.streets),
        },
        city,
        state,
        country: nat.country,
        postcode: match nat.postcode {
            Postcode::Number(lo, hi) => PostcodeValue::Number(rng.random_range(lo..=hi)),
            Postcode::Text(pattern) => PostcodeValue::Text(fill(&mut rng, pattern)),
        },
        coordinates: Coordinates {
            latitude: format!("{:.4}", rng.random_range(-90.0..90.0)),
            longitude: format!("{:.4}", rng.random_range(-180.0..180.0)),
        },
        timezone: Timezone {
            offset,
            description,
        },
    };
    let email = format!("{}.{}@example.com", name.first, name.last)
        .to_lowercase()
        .replace([' ', '\''], "");
    let login = login(&mut rng);
    let dob = dated(rng.random_range(DOB_FROM_MS..DOB_TO_MS));
    let registered = dated(rng.random_range(REGISTERED_FROM_MS..REFERENCE_MS));
    let phone = fill(&mut rng, nat.phone);
    let cell = fill(&mut rng, nat.cell);
    let id = match nat.id {
        Some((name, pattern)) => Id {
            name,
            value: Some(fill(&mut rng, pattern)),
        },
        None => Id {
            name: "",
            value: None,
        },
    };
    let folder = if gender == Gender::Male {
        "men"
    } else {
        "women"
    };
    let portrait = rng.random_range(0..100);
    let picture = Picture {
        large: format!("https://randomuser.me/api/portraits/{folder}/{portrait}.jpg"),
        medium: format!("https://randomuser.me/api/portraits/med/{folder}/{portrait}.jpg"),
        thumbnail: format!("https://randomuser.me/api/portraits/thumb/{folder}/{portrait}.jpg"),
    };
    User {
        gender: Some(if gender == Gender::Male {
            "male"
        } else {
            "female"
        }),
        name: Some(name),
        location: Some(location),
        email: Some(email),
        login: Some(login),
        dob: Some(dob),
        registered: Some(registered),
        phone: Some(phone),
        cell: Some(cell),
        id: Some(id),
        picture: Some(picture),
        nat: Some(nat.code),
    }
}

impl User {
    /// Keeps only the top-level fields `keep` says yes to.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        macro_rules! drop_unless_kept {
            ($($field:ident),*) => {$(
                if !keep(stringify!($field)) {
                    self.$field = None;
                }
            )*};
        }
        drop_unless_kept!(
            gender, name, location, email, login, dob, registered, phone, cell, id, picture, nat
        );
    }
}

fn pick(rng: &mut ChaCha8Rng, from: &'static [&'static str]) -> &'static str {
    from.choose(rng).expect("word lists are not empty")
}

/// Expands a pattern: `#` a digit, `@` an upper-case letter.
fn fill(rng: &mut ChaCha8Rng, pattern: &str) -> String {
    pattern
        .chars()
        .map(|c| match c {
            '#' => char::from(b'0' + rng.random_range(0..10)),
            '@' => char::from(b'A' + rng.random_range(0..26)),
            other => other,
        })
        .collect()
}

fn login(rng: &mut ChaCha8Rng) -> Login {
    let uuid = uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string();
    let username = format!(
        "{}{}{}",
        pick(rng, ADJECTIVES),
        pick(rng, ANIMALS),
        rng.random_range(100..1000)
    );
    let password = pick(rng, PASSWORDS);
    const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let salt: String = (0..8)
        .map(|_| char::from(*ALPHANUMERIC.choose(rng).expect("not empty")))
        .collect();
    let salted = format!("{password}{salt}");
    Login {
        uuid,
        username,
        password,
        md5: hex(&Md5::digest(&salted)),
        sha1: hex(&Sha1::digest(&salted)),
        sha256: hex(&Sha256::digest(&salted)),
        salt,
    }
}

/// An instant as randomuser.me writes it ("1993-07-20T09:44:18.674Z"), with
/// its age in whole years at the reference date.
fn dated(ms: i64) -> DateAndAge {
    let at = DateTime::<Utc>::from_timestamp_millis(ms).expect("dates are in range");
    let reference = DateTime::<Utc>::from_timestamp_millis(REFERENCE_MS).expect("in range");
    DateAndAge {
        date: at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        age: years_between(at.date_naive(), reference.date_naive()),
    }
}

fn years_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let mut years = to.year() - from.year();
    if (to.month(), to.day()) < (from.month(), from.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn json(u: &User) -> serde_json::Value {
        serde_json::to_value(u).unwrap()
    }

    #[test]
    fn same_seed_page_and_index_give_the_same_user() {
        let f = Filter::default();
        assert_eq!(user("abc", 1, 0, &f), user("abc", 1, 0, &f));
        assert_ne!(user("abc", 1, 0, &f), user("abc", 1, 1, &f));
        assert_ne!(user("abc", 1, 0, &f), user("abc", 2, 0, &f));
        assert_ne!(user("abc", 1, 0, &f), user("abd", 1, 0, &f));
    }

    #[test]
    fn users_look_like_randomuser_me() {
        let u = json(&user("shape", 3, 7, &Filter::default()));
        let keys: HashSet<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, FIELDS.iter().copied().collect());
        let uuid = u["login"]["uuid"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(uuid).unwrap().get_version_num(), 4);
        let dob = u["dob"]["date"].as_str().unwrap();
        assert!(
            DateTime::parse_from_rfc3339(dob).is_ok() && dob.ends_with('Z') && dob.len() == 24,
            "{dob}"
        );
        assert!(u["location"]["street"]["number"].is_u64());
        assert_eq!(u["login"]["md5"].as_str().unwrap().len(), 32);
        assert_eq!(u["login"]["sha1"].as_str().unwrap().len(), 40);
    }

    #[test]
    fn data_is_varied() {
        let f = Filter::default();
        let users: Vec<serde_json::Value> = (0..2000)
            .map(|i| json(&user("variety", 1, i, &f)))
            .collect();
        let nats: HashSet<&str> = users.iter().map(|u| u["nat"].as_str().unwrap()).collect();
        assert_eq!(nats.len(), NATS.len());
        let uuids: HashSet<&str> = users
            .iter()
            .map(|u| u["login"]["uuid"].as_str().unwrap())
            .collect();
        assert_eq!(uuids.len(), users.len());
        assert!(users.iter().any(|u| u["location"]["postcode"].is_number()));
        assert!(users.iter().any(|u| u["location"]["postcode"].is_string()));
        assert!(users.iter().any(|u| u["id"]["value"].is_null()));
        assert!(users
            .iter()
            .any(|u| !u["name"]["first"].as_str().unwrap().is_ascii()));
        let ages: Vec<u64> = users
            .iter()
            .map(|u| u["dob"]["age"].as_u64().unwrap())
            .collect();
        assert!(ages.iter().all(|a| (18..=81).contains(a)), "{ages:?}");
    }

    #[test]
    fn nat_and_gender_filters() {
        let f = Filter {
            gender: Some(Gender::Female),
            ..Filter::default().with_nats("gb, Ca,xx")
        };
        for i in 0..200 {
            let u = json(&user("f", 1, i, &f));
            assert!(["GB", "CA"].contains(&u["nat"].as_str().unwrap()));
            assert_eq!(u["gender"], "female");
            assert!(u["location"]["postcode"].is_string());
        }
        assert_eq!(Filter::default().with_nats("zz").nats.len(), NATS.len());
    }

    #[test]
    fn retain_drops_fields() {
        let mut u = user("r", 1, 0, &Filter::default());
        u.retain(|f| f == "login" || f == "nat");
        let keys: HashSet<String> = json(&u).as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            HashSet::from(["login".to_string(), "nat".to_string()])
        );
    }

    #[test]
    fn ages_count_whole_years() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(years_between(d("2000-01-02"), d("2026-01-01")), 25);
        assert_eq!(years_between(d("2000-01-01"), d("2026-01-01")), 26);
    }
}
