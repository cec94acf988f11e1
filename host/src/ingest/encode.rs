//! Checks one fetched user against `schemas/user.avsc` and turns it into a
//! Kafka record: key `login.uuid`, value Avro (Confluent-framed) or JSON.

use super::avro::{Converter, FieldError};
use super::fetch::Users;
use super::json::Json;
use crate::wire;
use apache_avro::Schema;
use std::sync::Arc;

/// The user schema, as registered under `<topic>-value`.
pub const USER_SCHEMA: &str = include_str!("../../../schemas/user.avsc");

/// The value format of produced records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Avro in the Confluent wire format, schema in the registry.
    Avro,
    /// The user's JSON object.
    Json,
}

/// One record to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub key: String,
    pub value: Vec<u8>,
}

/// Checks users and encodes them.
pub struct Encoder {
    schema: Arc<Schema>,
    /// The registry's id of the schema; `None` for JSON.
    schema_id: Option<u32>,
}

/// The parsed user schema.
pub fn user_schema() -> Schema {
    Schema::parse_str(USER_SCHEMA).expect("schemas/user.avsc is valid Avro (checked by a test)")
}

impl Encoder {
    /// Avro records framed with `schema_id`.
    pub fn avro(schema_id: u32) -> Self {
        Encoder {
            schema: Arc::new(user_schema()),
            schema_id: Some(schema_id),
        }
    }

    /// JSON records, still checked against the schema.
    pub fn json() -> Self {
        Encoder {
            schema: Arc::new(user_schema()),
            schema_id: None,
        }
    }

    /// Checks and encodes every user; if one does not fit, there is no
    /// record at all, so that a bad response produces nothing. The error
    /// says which user and field.
    pub fn encode_all(&self, users: &Users) -> Result<Vec<Record>, (usize, FieldError)> {
        let converter = Converter::new(&self.schema).expect("the user schema resolves");
        users
            .iter()
            .enumerate()
            .map(|(i, user)| self.record(&converter, user).map_err(|e| (i, e)))
            .collect()
    }

    /// One user's JSON text (checked by the fetcher) into a record.
    fn record(&self, converter: &Converter<'_>, text: &[u8]) -> Result<Record, FieldError> {
        let json: Json = serde_json::from_slice(text).map_err(|e| FieldError {
            path: "(root)".into(),
            problem: format!("is not JSON: {e}"),
        })?;
        let key = match json
            .get("login")
            .and_then(|l| l.get("uuid"))
            .and_then(Json::as_str)
        {
            Some(s) if !s.trim().is_empty() => s.to_string(),
            _ => {
                return Err(FieldError {
                    path: "login.uuid".into(),
                    problem: "is empty; it is the record key".into(),
                })
            }
        };
        let value = match self.schema_id {
            Some(id) => {
                let mut value = Vec::with_capacity(wire::HEADER_LEN + text.len());
                value.extend_from_slice(&wire::header(id));
                converter.encode(&json, &mut value)?;
                value
            }
            None => {
                // Checked all the same, so JSON records fit the schema too;
                // the record is the user's JSON as the API sent it.
                converter.encode(&json, &mut Vec::new())?;
                text.to_vec()
            }
        };
        Ok(Record { key, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users_api::generator::{self, Filter};

    fn users(n: u64) -> Vec<serde_json::Value> {
        let filter = Filter::default();
        (0..n)
            .map(|i| serde_json::to_value(generator::user("enc", 1, i, &filter)).unwrap())
            .collect()
    }

    /// The users as the fetcher hands them over, from an API answer.
    fn answer(users: &[serde_json::Value]) -> Users {
        let body = serde_json::to_vec(&serde_json::json!({ "results": users })).unwrap();
        super::super::fetch::parse(
            reqwest::StatusCode::OK,
            &reqwest::header::HeaderMap::new(),
            &body,
        )
        .unwrap()
    }

    /// A real randomuser.me answer (one user), as captured from the API.
    const REAL: &str = r#"{"gender":"female","name":{"title":"Miss","first":"Jennie","last":"Nichols"},"location":{"street":{"number":8929,"name":"Valwood Pkwy"},"city":"Billings","state":"Michigan","country":"United States","postcode":"63104","coordinates":{"latitude":"-69.8246","longitude":"134.8719"},"timezone":{"offset":"+9:30","description":"Adelaide, Darwin"}},"email":"jennie.nichols@example.com","login":{"uuid":"7a0eed16-9430-4d68-901f-c0d4c1c3bf00","username":"yellowpeacock117","password":"addison","salt":"sld1yGtd","md5":"ab54ac4c0be9480ae8fa5e9e2a5196a3","sha1":"edcf2ce613cbdea349133c52dc2f3b83168dc51b","sha256":"48df5229235ada28389b91e60a935e4f9b73eb4bdb855ef9258a1751f10bdc5d"},"dob":{"date":"1992-03-08T15:13:16.688Z","age":30},"registered":{"date":"2007-07-09T05:51:59.390Z","age":14},"phone":"(272) 790-0888","cell":"(489) 330-2385","id":{"name":"SSN","value":"405-88-3636"},"picture":{"large":"https://randomuser.me/api/portraits/men/75.jpg","medium":"https://randomuser.me/api/portraits/med/men/75.jpg","thumbnail":"https://randomuser.me/api/portraits/thumb/men/75.jpg"},"nat":"US"}"#;

    #[test]
    fn generated_and_real_users_fit_the_schema_and_round_trip() {
        let mut all = users(500);
        all.push(serde_json::from_str(REAL).unwrap());
        let schema = user_schema();
        let records = Encoder::avro(9).encode_all(&answer(&all)).unwrap();
        for (user, record) in all.iter().zip(&records) {
            assert_eq!(record.key, user["login"]["uuid"].as_str().unwrap());
            let (id, body) = wire::unframe(&record.value).unwrap();
            assert_eq!(id, 9);
            let back = apache_avro::from_avro_datum(&schema, &mut &body[..], None).unwrap();
            // Byte for byte what apache-avro writes for the same value.
            assert_eq!(
                apache_avro::to_avro_datum(&schema, back.clone()).unwrap(),
                body
            );
            let json = serde_json::Value::try_from(back).unwrap();
            assert_eq!(json["name"]["first"], user["name"]["first"]);
        }
    }

    #[test]
    fn json_records_are_the_user_json() {
        let all = users(3);
        let records = Encoder::json().encode_all(&answer(&all)).unwrap();
        let back: serde_json::Value = serde_json::from_slice(&records[2].value).unwrap();
        assert_eq!(back, all[2]);
    }

    #[test]
    fn one_bad_user_spoils_the_batch_and_is_named() {
        let mut all = users(5);
        all[3]["location"]
            .as_object_mut()
            .unwrap()
            .remove("postcode");
        let (index, err) = Encoder::json().encode_all(&answer(&all)).unwrap_err();
        assert_eq!(index, 3);
        assert_eq!(
            err.to_string(),
            "location.postcode: is missing (expected a long or a string)"
        );
        all[3] = users(4)[3].clone();
        all[1]["login"]["uuid"] = "".into();
        let (index, err) = Encoder::avro(1).encode_all(&answer(&all)).unwrap_err();
        assert_eq!((index, err.path.as_str()), (1, "login.uuid"));
    }
}
