//! The Cassandra adapter's settings (`[cassandra]` in sluice.toml).

use serde::Deserialize;
use sluice_model::Secret;
use std::path::PathBuf;
use std::time::Duration;

/// Where rows go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CassandraConfig {
    /// Contact points, comma separated `host:port`. Env: SLUICE_CASSANDRA_HOSTS.
    pub hosts: String,
    /// Keyspace of the tables. Env: SLUICE_CASSANDRA_KEYSPACE.
    pub keyspace: String,
    /// Consistency of writes: one, local_one, quorum, local_quorum, all, ...
    pub consistency: String,
    /// CQL run at start-up to create missing keyspace and tables; `{keyspace}`
    /// is replaced. None: the flatten plugin's `created_users` table.
    pub schema_file: Option<PathBuf>,
    /// Replication used when the keyspace is created by the default schema.
    pub replication: String,
    /// Concurrent writes in flight per partition worker.
    pub concurrency: usize,
    /// Per-request timeout.
    #[serde(with = "sluice_model::duration")]
    pub request_timeout: Duration,
    /// Username. Env: SLUICE_CASSANDRA_USERNAME.
    pub username: Option<String>,
    /// Password. Env: SLUICE_CASSANDRA_PASSWORD. Never logged.
    pub password: Option<Secret>,
}

impl Default for CassandraConfig {
    fn default() -> Self {
        CassandraConfig {
            hosts: "127.0.0.1:9042".into(),
            keyspace: "sluice".into(),
            consistency: "local_quorum".into(),
            schema_file: None,
            replication: "{'class': 'SimpleStrategy', 'replication_factor': 1}".into(),
            concurrency: 256,
            request_timeout: Duration::from_secs(10),
            username: None,
            password: None,
        }
    }
}
