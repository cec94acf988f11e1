//! Native unit tests of the {{name}} logic: `cargo test -p {{name}}`.

use super::*;
use serde_json::json;
use sluice_plugin::testing::record;
use sluice_plugin::Cell;

const ID: &str = "8f0b1c5e-3a43-4d9b-9c5e-0e2b6b1f7a10";

/// A user as the host hands it over, reduced to what the transform reads.
fn user() -> serde_json::Value {
    json!({
        "name": {"title": "Mme", "first": "Zoë", "last": "Lefèvre"},
        "email": "zoe.lefevre@example.com",
        "login": {"uuid": ID, "username": "bluecat511"},
        "nat": "FR"
    })
}

/// A text or UUID cell's string.
fn text(cell: &Cell) -> &str {
    match cell {
        Cell::Text(s) | Cell::Uuid(s) => s,
        other => panic!("expected text, got {other:?}"),
    }
}

#[test]
fn a_user_becomes_one_row() {
    let plugin = {{Name}}::new(&[]).unwrap();
    let Outcome::Rows(rows) = plugin.transform(&record(&user())) else {
        panic!("expected rows");
    };
    assert_eq!(rows.len(), 1);
    assert!(rows[0].table.is_none(), "the default table");
    let columns = &rows[0].columns;
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "first_name", "last_name", "email"]);
    assert!(matches!(columns[0].value, Cell::Uuid(_)));
    assert_eq!(text(&columns[0].value), ID);
    assert_eq!(text(&columns[1].value), "Zoë");
    assert_eq!(text(&columns[2].value), "Lefèvre");
    assert_eq!(text(&columns[3].value), "zoe.lefevre@example.com");
}

#[test]
fn a_missing_field_is_bad_input_naming_it() {
    let plugin = {{Name}}::new(&[]).unwrap();
    let mut u = user();
    u.as_object_mut().unwrap().remove("email");
    match plugin.transform(&record(&u)) {
        Outcome::BadInput(e) => assert_eq!(e.field.as_deref(), Some("email")),
        other => panic!("expected bad input, got {other:?}"),
    }
}

#[test]
fn unknown_settings_are_refused() {
    let config = [("colour".to_string(), "red".to_string())];
    let Err(err) = {{Name}}::new(&config) else {
        panic!("an unknown setting was accepted");
    };
    assert!(err.contains("colour"), "{err}");
}
