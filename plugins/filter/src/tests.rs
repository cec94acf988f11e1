//! Native unit tests of the filter logic.

use super::*;
use serde_json::json;
use sluice_plugin::testing::record;
use sluice_plugin::Cell;

fn user(nat: &str) -> serde_json::Value {
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
        "nat": nat
    })
}

fn filter(nationalities: &str) -> Result<Filter, String> {
    Filter::new(&[("nationalities".into(), nationalities.into())])
}

#[test]
fn kept_users_become_the_flatten_row() {
    let f = filter("FR,DE").unwrap();
    let expected = Flatten::new(&[])
        .unwrap()
        .flatten(Value::root(&record(&user("FR")).value))
        .unwrap();
    for nat in ["FR", "DE", "fr"] {
        match f.transform(&record(&user(nat))) {
            Outcome::Rows(rows) => {
                assert_eq!(rows.len(), 1);
                let names = |r: &sluice_plugin::Row| {
                    r.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>()
                };
                assert_eq!(names(&rows[0]), names(&expected), "{nat}");
                assert!(matches!(&rows[0].columns[1].value, Cell::Text(s) if s == "Zoë"));
            }
            other => panic!("{nat}: expected a row, got {other:?}"),
        }
    }
}

#[test]
fn other_nationalities_are_filtered_with_a_reason() {
    let f = filter(" fr , de ").unwrap();
    match f.transform(&record(&user("NO"))) {
        Outcome::Filtered(reason) => assert_eq!(reason, "nationality NO is not one of FR, DE"),
        other => panic!("expected filtered, got {other:?}"),
    }
}

#[test]
fn filtered_users_are_not_checked_further() {
    let mut u = user("NO");
    u.as_object_mut().unwrap().remove("email");
    assert!(matches!(
        filter("FR").unwrap().transform(&record(&u)),
        Outcome::Filtered(_)
    ));
    // A kept user with the same flaw is bad input, named by flatten.
    let mut u = user("FR");
    u.as_object_mut().unwrap().remove("email");
    assert!(
        matches!(filter("FR").unwrap().transform(&record(&u)), Outcome::BadInput(e) if e.field.as_deref() == Some("email"))
    );
}

#[test]
fn a_user_without_nat_is_bad_input() {
    let mut u = user("FR");
    u.as_object_mut().unwrap().remove("nat");
    match filter("FR").unwrap().transform(&record(&u)) {
        Outcome::BadInput(e) => assert_eq!(e.field.as_deref(), Some("nat")),
        other => panic!("expected bad input, got {other:?}"),
    }
}

#[test]
fn config_errors_name_the_setting() {
    for (config, expected) in [
        (vec![], "`nationalities`"),
        (vec![("nationalities", "")], "`nationalities` is empty"),
        (vec![("nationalities", " , ")], "`nationalities` is empty"),
        (
            vec![("nationalities", "FR,France")],
            "\"FRANCE\" is not a two-letter",
        ),
        (
            vec![("nationalities", "FR"), ("nationality", "DE")],
            "no setting `nationality`",
        ),
    ] {
        let config: Vec<(String, String)> = config
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        match Filter::new(&config) {
            Err(e) => assert!(e.contains(expected), "{config:?}: {e}"),
            Ok(_) => panic!("{config:?} accepted"),
        }
    }
}
