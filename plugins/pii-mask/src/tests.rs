//! Native unit tests of the pii-mask logic.

use super::*;
use serde_json::json;
use sluice_plugin::testing::record;

const KEY: &str = "0123456789abcdef";

fn user() -> serde_json::Value {
    json!({
        "gender": "female",
        "name": {"title": "Mme", "first": "Zoë", "last": "Lefèvre"},
        "location": {
            "street": {"number": 4821, "name": "Rue de l'Abbé-Grégoire"},
            "city": "Besançon", "state": "Doubs", "country": "France", "postcode": 25000
        },
        "email": "zoe.lefevre@example.com",
        "login": {"uuid": "8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10", "username": "bluecat511"},
        "dob": {"date": "1993-07-20T09:44:18.674Z", "age": 31},
        "registered": {"date": "2015-02-03T04:05:06.007Z", "age": 9},
        "phone": "03-12-34-56-78",
        "picture": {"medium": "https://randomuser.me/api/portraits/med/women/1.jpg"},
        "nat": "FR"
    })
}

fn mask(key: &str) -> Result<PiiMask, String> {
    PiiMask::new(&[("key".into(), key.into())])
}

fn text(row: &Row, name: &str) -> String {
    match &row.columns.iter().find(|c| c.name == name).unwrap().value {
        Cell::Text(s) => s.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn row(plugin: &PiiMask, user: &serde_json::Value) -> Row {
    match plugin.transform(&record(user)) {
        Outcome::Rows(mut rows) => rows.remove(0),
        other => panic!("expected a row, got {other:?}"),
    }
}

#[test]
fn hash_is_hmac_sha256_in_lower_case_hex() {
    // Python: hmac.new(b"0123456789abcdef", b"zoe.lefevre@example.com", hashlib.sha256).hexdigest()
    assert_eq!(
        mask(KEY).unwrap().hash("zoe.lefevre@example.com"),
        "acabd3b39d3d4ac29d77dd900093b046e342ac5590b6108812a472f2b32e34ea"
    );
}

#[test]
fn email_and_phone_are_masked_and_the_rest_is_flatten() {
    let p = mask(KEY).unwrap();
    let masked = row(&p, &user());
    let plain = Flatten::new(&[])
        .unwrap()
        .flatten(Value::root(&record(&user()).value))
        .unwrap();
    assert_eq!(masked.columns.len(), plain.columns.len());
    for (m, c) in masked.columns.iter().zip(&plain.columns) {
        assert_eq!(m.name, c.name);
        let same = format!("{:?}", m.value) == format!("{:?}", c.value);
        assert_eq!(
            same,
            !MASKED.contains(&m.name.as_str()),
            "column {}",
            m.name
        );
    }
    assert_eq!(text(&masked, "email"), p.hash("zoe.lefevre@example.com"));
    assert_eq!(text(&masked, "phone"), p.hash("03-12-34-56-78"));
}

#[test]
fn equal_values_give_equal_tokens_and_keys_matter() {
    let (a, b) = (mask(KEY).unwrap(), mask("another key, 16+ chars").unwrap());
    assert_eq!(a.hash("x@example.com"), a.hash("x@example.com"));
    assert_ne!(a.hash("x@example.com"), a.hash("y@example.com"));
    assert_ne!(a.hash("x@example.com"), b.hash("x@example.com"));
}

#[test]
fn bad_input_is_still_named() {
    let mut u = user();
    u.as_object_mut().unwrap().remove("phone");
    match mask(KEY).unwrap().transform(&record(&u)) {
        Outcome::BadInput(e) => assert_eq!(e.field.as_deref(), Some("phone")),
        other => panic!("expected bad input, got {other:?}"),
    }
}

#[test]
fn key_is_required_long_enough_and_never_shown() {
    assert!(matches!(PiiMask::new(&[]), Err(e) if e.contains("`key`")));
    match mask("short-secret") {
        Err(e) => {
            assert!(
                e.contains("`key` has 12 characters") && e.contains("16"),
                "{e}"
            );
            assert!(!e.contains("short-secret"), "the key leaked: {e}");
        }
        Ok(_) => panic!("a 12-character key was accepted"),
    }
    assert!(matches!(PiiMask::new(&[("salt".into(), KEY.into())]), Err(e) if e.contains("`salt`")));
    assert!(
        mask("ünïcödé-kéy-16ch").is_ok(),
        "characters, not bytes, are counted"
    );
}
