//! Native unit tests of the fan-out logic.

use super::*;
use serde_json::json;
use sluice_plugin::testing::record;
use sluice_plugin::Cell;

fn user() -> serde_json::Value {
    json!({
        "gender": "male",
        "name": {"title": "Mr", "first": "Øyvind", "last": "Haugen"},
        "location": {
            "street": {"number": 7103, "name": "Sørkedalsveien"},
            "city": "Tromsø", "state": "Troms", "country": "Norway", "postcode": "0871"
        },
        "email": "oyvind.haugen@example.com",
        "login": {"uuid": "2B9E4C6A-1D3F-4A5B-8C7D-9E0F1A2B3C4D", "username": "tinyfish204"},
        "dob": {"date": "1971-03-02T11:22:33.444Z", "age": 53},
        "registered": {"date": "2009-12-24T18:00:00.000Z", "age": 14},
        "phone": "51234567",
        "picture": {"medium": "https://randomuser.me/api/portraits/med/men/2.jpg"},
        "nat": "NO"
    })
}

fn rows(u: &serde_json::Value) -> Vec<Row> {
    match FanOut::new(&[]).unwrap().transform(&record(u)) {
        Outcome::Rows(rows) => rows,
        other => panic!("expected rows, got {other:?}"),
    }
}

#[test]
fn one_user_gives_a_flatten_row_and_a_by_country_row() {
    let rows = rows(&user());
    assert_eq!(rows.len(), 2);
    let flat = Flatten::new(&[])
        .unwrap()
        .flatten(Value::root(&record(&user()).value))
        .unwrap();
    assert_eq!(rows[0].table, None);
    assert_eq!(
        format!("{:?}", rows[0].columns),
        format!("{:?}", flat.columns),
        "the first row is flatten's"
    );

    assert_eq!(rows[1].table.as_deref(), Some("users_by_country"));
    let names: Vec<&str> = rows[1].columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["country", "id", "first_name", "last_name", "email"]);
    let cells: Vec<&Cell> = rows[1].columns.iter().map(|c| &c.value).collect();
    assert!(matches!(cells[0], Cell::Text(s) if s == "Norway"));
    assert!(
        matches!(cells[1], Cell::Uuid(s) if s == "2b9e4c6a-1d3f-4a5b-8c7d-9e0f1a2b3c4d"),
        "the id as flatten normalised it"
    );
    assert!(matches!(cells[2], Cell::Text(s) if s == "Øyvind"));
    assert!(matches!(cells[3], Cell::Text(s) if s == "Haugen"));
    assert!(matches!(cells[4], Cell::Text(s) if s == "oyvind.haugen@example.com"));
}

#[test]
fn any_bad_field_fails_the_whole_record() {
    for pointer in ["/location/country", "/login/uuid", "/dob/date"] {
        let mut u = user();
        *u.pointer_mut(pointer).unwrap() = json!(null);
        match FanOut::new(&[]).unwrap().transform(&record(&u)) {
            Outcome::BadInput(e) => assert_eq!(
                e.field.as_deref(),
                Some(&pointer[1..].replace('/', ".")[..])
            ),
            other => panic!("{pointer}: expected bad input, got {other:?}"),
        }
    }
}

#[test]
fn settings_are_refused() {
    assert!(
        matches!(FanOut::new(&[("table".into(), "x".into())]), Err(e) if e.contains("`table`"))
    );
}
