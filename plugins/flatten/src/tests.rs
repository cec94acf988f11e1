use super::*;
use serde_json::json;
use sluice_plugin::testing::record;
use sluice_plugin::Cell;

fn user() -> serde_json::Value {
    json!({
        "gender": "female",
        "name": {"title": "Mme", "first": "Zoë", "last": "Lefèvre"},
        "location": {
            "street": {"number": 4821, "name": "Rue de l'Abbé-Grégoire"},
            "city": "Besançon", "state": "Doubs", "country": "France", "postcode": 25000,
            "coordinates": {"latitude": "-2.3", "longitude": "100.2"},
            "timezone": {"offset": "+1:00", "description": "Brussels, Copenhagen, Madrid, Paris"}
        },
        "email": "zoe.lefevre@example.com",
        "login": {"uuid": "8F0B1C5E-3A43-4D9B-9C5E-0E2B6B1F7A10", "username": "bluecat511",
                  "password": "x", "salt": "s", "md5": "m", "sha1": "s", "sha256": "s"},
        "dob": {"date": "1993-07-20T09:44:18.674Z", "age": 31},
        "registered": {"date": "2015-02-03T04:05:06.007Z", "age": 9},
        "phone": "03-12-34-56-78", "cell": "06-12-34-56-78",
        "id": {"name": "INSEE", "value": null},
        "picture": {"large": "l.jpg", "medium": "https://randomuser.me/api/portraits/med/women/1.jpg", "thumbnail": "t.jpg"},
        "nat": "FR"
    })
}

fn columns(outcome: Outcome) -> Vec<(String, Cell)> {
    match outcome {
        Outcome::Rows(rows) => {
            assert_eq!(rows.len(), 1);
            assert!(rows[0].table.is_none(), "flatten writes the default table");
            rows[0]
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.value.clone()))
                .collect()
        }
        other => panic!("expected one row, got {other:?}"),
    }
}

fn get(cols: &[(String, Cell)], name: &str) -> Cell {
    cols.iter()
        .find(|(n, _)| n == name)
        .map(|(_, c)| c.clone())
        .unwrap_or_else(|| panic!("no column {name}"))
}

fn text(cols: &[(String, Cell)], name: &str) -> String {
    match get(cols, name) {
        Cell::Text(s) => s,
        other => panic!("{name}: expected text, got {other:?}"),
    }
}

#[test]
fn flattens_every_column() {
    let f = Flatten::new(&[]).unwrap();
    let cols = columns(f.transform(&record(&user())));
    assert_eq!(cols.len(), 12);
    assert!(
        matches!(get(&cols, "id"), Cell::Uuid(u) if u == "8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10")
    );
    assert_eq!(text(&cols, "first_name"), "Zoë");
    assert_eq!(text(&cols, "last_name"), "Lefèvre");
    assert_eq!(text(&cols, "gender"), "female");
    assert_eq!(
        text(&cols, "address"),
        "4821 Rue de l'Abbé-Grégoire, Besançon, Doubs, France"
    );
    assert_eq!(text(&cols, "post_code"), "25000");
    assert_eq!(text(&cols, "email"), "zoe.lefevre@example.com");
    assert_eq!(text(&cols, "username"), "bluecat511");
    assert!(matches!(
        get(&cols, "dob"),
        Cell::Timestamp(743_161_458_674)
    ));
    assert!(matches!(
        get(&cols, "registered_date"),
        Cell::Timestamp(1_422_936_306_007)
    ));
    assert_eq!(text(&cols, "phone"), "03-12-34-56-78");
    assert_eq!(
        text(&cols, "picture"),
        "https://randomuser.me/api/portraits/med/women/1.jpg"
    );
}

#[test]
fn string_postcodes_stay_text() {
    let mut u = user();
    u["location"]["postcode"] = json!("SW1A 1AA");
    let cols = columns(Flatten::new(&[]).unwrap().transform(&record(&u)));
    assert_eq!(text(&cols, "post_code"), "SW1A 1AA");
}

#[test]
fn missing_and_mistyped_fields_are_named() {
    let f = Flatten::new(&[]).unwrap();
    let cases = [
        ("/login/uuid", json!(null), "login.uuid"),
        ("/login/uuid", json!("not-a-uuid"), "login.uuid"),
        ("/name/first", json!(42), "name.first"),
        ("/dob/date", json!("yesterday"), "dob.date"),
        ("/location/postcode", json!({"a": 1}), "location.postcode"),
    ];
    for (pointer, value, field) in cases {
        let mut u = user();
        *u.pointer_mut(pointer).unwrap() = value;
        match f.transform(&record(&u)) {
            Outcome::BadInput(e) => {
                assert_eq!(e.field.as_deref(), Some(field));
                assert!(e.message.contains(field), "{}", e.message);
            }
            other => panic!("{pointer}: expected bad input, got {other:?}"),
        }
    }
    let mut u = user();
    u.as_object_mut().unwrap().remove("email");
    assert!(
        matches!(f.transform(&record(&u)), Outcome::BadInput(e) if e.message == "field `email` is missing")
    );
}

#[test]
fn config_is_checked() {
    assert!(
        matches!(Flatten::new(&[("colour".into(), "red".into())]), Err(e) if e.contains("colour"))
    );
    let f = Flatten::new(&[("version-column".into(), "written_by".into())]).unwrap();
    let cols = columns(f.transform(&record(&user())));
    assert_eq!(text(&cols, "written_by"), VERSION);
}
