//! The connection to Cassandra: schema set-up, table discovery, and
//! concurrent idempotent writes with retries.

use crate::config::CassandraConfig;
use crate::schema_change;
use crate::table::{BoundRow, CqlType, Shape, TableSchema};
use anyhow::{bail, Context, Result};
use futures::stream::{self, TryStreamExt};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;
use sluice_model::Row;
use sluice_pipeline::{BindError, RowSink, Stamp};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Why a write failed after its retries. Never a reason to dead-letter:
/// the caller retries until Cassandra is back.
#[derive(Debug, thiserror::Error)]
#[error("writing to Cassandra failed: {0}")]
pub struct WriteError(pub String);

/// Parses a consistency level name (`local_quorum`, `ONE`, ...).
pub fn parse_consistency(name: &str) -> Result<Consistency> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "any" => Consistency::Any,
        "one" => Consistency::One,
        "two" => Consistency::Two,
        "three" => Consistency::Three,
        "quorum" => Consistency::Quorum,
        "all" => Consistency::All,
        "local_quorum" => Consistency::LocalQuorum,
        "each_quorum" => Consistency::EachQuorum,
        "local_one" => Consistency::LocalOne,
        _ => bail!("cassandra.consistency = {name:?} is not a consistency level (one, local_one, quorum, local_quorum, all, ...)"),
    })
}

type StatementKey = (String, Vec<String>, Shape);

/// A connected sink.
pub struct Sink {
    session: Session,
    keyspace: String,
    consistency: Consistency,
    concurrency: usize,
    tables: Mutex<HashMap<String, Arc<TableSchema>>>,
    /// Prepared statements per (table, column list, shape): rows of one
    /// plugin almost always have the same columns, so this stays tiny.
    statements: Mutex<HashMap<StatementKey, PreparedStatement>>,
}

impl Sink {
    /// Connects, then creates the keyspace and tables that are missing.
    pub async fn connect(config: &CassandraConfig) -> Result<Self> {
        let hosts: Vec<&str> = config.hosts.split(',').map(str::trim).collect();
        let profile = scylla::client::execution_profile::ExecutionProfile::builder()
            .request_timeout(Some(config.request_timeout))
            .build();
        let mut builder = SessionBuilder::new()
            .known_nodes(&hosts)
            .connection_timeout(Duration::from_secs(5))
            .default_execution_profile_handle(profile.into_handle());
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.user(user, &**password);
        }
        let session = builder.build().await.with_context(|| {
            format!(
                "connecting to Cassandra at {} (is it running? `just up` starts one)",
                config.hosts
            )
        })?;
        let sink = Sink {
            session,
            keyspace: config.keyspace.clone(),
            consistency: parse_consistency(&config.consistency)?,
            concurrency: config.concurrency.max(1),
            tables: Mutex::new(HashMap::new()),
            statements: Mutex::new(HashMap::new()),
        };
        sink.apply_schema(config).await?;
        Ok(sink)
    }

    async fn apply_schema(&self, config: &CassandraConfig) -> Result<()> {
        let text = match &config.schema_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading cassandra.schema-file {}", path.display()))?,
            None => include_str!("../../../schemas/cassandra.cql").to_string(),
        };
        let text = text
            .replace("{keyspace}", &config.keyspace)
            .replace("{replication}", &config.replication);
        for statement in cql_statements(&text) {
            self.session
                .query_unpaged(statement.as_str(), ())
                .await
                .with_context(|| format!("running schema statement: {statement}"))?;
        }
        Ok(())
    }

    /// The live schema of `table` (in the sink's keyspace), read once and
    /// cached. `Misfit` when the table does not exist; `Unavailable` when
    /// Cassandra cannot be asked.
    pub async fn table(&self, table: &str) -> Result<Arc<TableSchema>, BindError> {
        if let Some(t) = self.tables.lock().await.get(table) {
            return Ok(t.clone());
        }
        let unavailable = |e: &dyn std::fmt::Display| {
            BindError::Unavailable(format!(
                "reading the schema of {}.{table}: {e}",
                self.keyspace
            ))
        };
        let rows = self
            .session
            .query_unpaged(
                "SELECT column_name, type, kind, position FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
                (&self.keyspace, table),
            )
            .await
            .map_err(|e| unavailable(&e))?
            .into_rows_result()
            .map_err(|e| unavailable(&e))?;
        let mut columns = HashMap::new();
        let mut keys: Vec<(String, i32, String)> = Vec::new();
        for row in rows
            .rows::<(String, String, String, i32)>()
            .map_err(|e| unavailable(&e))?
        {
            let (name, ty, kind, position) = row.map_err(|e| unavailable(&e))?;
            if kind == "partition_key" || kind == "clustering" {
                keys.push((kind.clone(), position, name.clone()));
            }
            columns.insert(name, CqlType::parse(&ty));
        }
        if columns.is_empty() {
            return Err(BindError::Misfit(format!("table {}.{table} does not exist: add it to cassandra.schema-file, or make the plugin write an existing table", self.keyspace)));
        }
        keys.sort();
        let pick = |k: &str| {
            keys.iter()
                .filter(|(kind, _, _)| kind == k)
                .map(|(_, _, n)| n.clone())
                .collect()
        };
        let schema = Arc::new(TableSchema {
            name: format!("{}.{table}", self.keyspace),
            columns,
            clustering: pick("clustering"),
            partition_key: pick("partition_key"),
        });
        self.tables
            .lock()
            .await
            .insert(table.to_string(), schema.clone());
        Ok(schema)
    }

    /// Writes bound rows. Rows of the same partition go in one unlogged
    /// batch; the rest run concurrently. Transient failures are retried a
    /// few times with backoff; what still fails is returned, and the caller
    /// retries the whole call (upserts are idempotent, so rewriting a row is
    /// harmless).
    pub async fn write(&self, rows: &[BoundRow]) -> Result<(), WriteError> {
        // (table, partition key) -> the rows of that partition.
        let mut groups: HashMap<(&str, &str), Vec<&BoundRow>> = HashMap::new();
        for row in rows {
            groups
                .entry((row.table.name.as_str(), row.partition.as_str()))
                .or_default()
                .push(row);
        }
        stream::iter(groups.into_values().map(Ok))
            .try_for_each_concurrent(self.concurrency, |group| async move {
                let mut delay = Duration::from_millis(50);
                let mut attempt = 0;
                loop {
                    match self.write_group(&group).await {
                        Ok(()) => return Ok(()),
                        Err(e) if attempt < 4 => {
                            tracing::debug!(error = %e, attempt, "write failed; retrying");
                            tokio::time::sleep(delay).await;
                            delay *= 2;
                            attempt += 1;
                        }
                        Err(e) => return Err(e),
                    }
                }
            })
            .await
    }

    async fn write_group(&self, group: &[&BoundRow]) -> Result<(), WriteError> {
        let err = |e: &dyn std::fmt::Display| WriteError(e.to_string());
        // The statements of one batch share a write time, and at equal times
        // Cassandra lets a delete win and otherwise the larger value: two
        // writes of one row in a batch would not apply in order. Such a
        // group (rare) is written one row at a time, in order, as is a
        // group of one row.
        if group.len() == 1 || !in_one_batch(group) {
            for row in group {
                let statement = self.statement(row).await?;
                self.session
                    .execute_unpaged(&statement, &row.values)
                    .await
                    .map_err(|e| err(&e))?;
            }
            return Ok(());
        }
        let mut batch = Batch::new(BatchType::Unlogged);
        batch.set_consistency(self.consistency);
        batch.set_is_idempotent(true);
        let mut values = Vec::with_capacity(group.len());
        for row in group {
            batch.append_statement(self.statement(row).await?);
            values.push(&row.values);
        }
        self.session
            .batch(&batch, values)
            .await
            .map_err(|e| err(&e))?;
        Ok(())
    }

    async fn statement(&self, row: &BoundRow) -> Result<PreparedStatement, WriteError> {
        let key = (row.table.name.clone(), row.columns.clone(), row.shape);
        if let Some(s) = self.statements.lock().await.get(&key) {
            return Ok(s.clone());
        }
        let cql = row.cql();
        let mut prepared = self
            .session
            .prepare(cql.as_str())
            .await
            .map_err(|e| WriteError(format!("preparing `{cql}`: {e}")))?;
        prepared.set_consistency(self.consistency);
        prepared.set_is_idempotent(true);
        self.statements.lock().await.insert(key, prepared.clone());
        Ok(prepared)
    }

    /// The underlying session, for tests and tools.
    pub fn session(&self) -> &Session {
        &self.session
    }
}

impl RowSink for Sink {
    type Table = Arc<TableSchema>;
    type Bound = BoundRow;

    async fn table(&self, name: &str) -> Result<Arc<TableSchema>, BindError> {
        Sink::table(self, name).await
    }

    fn bind(table: &Arc<TableSchema>, row: Row, stamp: &Stamp<'_>) -> Result<BoundRow, String> {
        table
            .bind(row, Some((stamp.column, stamp.version)))
            .map_err(|e| e.to_string())
    }

    async fn write(&self, rows: &[BoundRow]) -> Result<(), String> {
        Sink::write(self, rows).await.map_err(|e| e.to_string())
    }

    fn table_of(bound: &BoundRow) -> &str {
        &bound.table.name
    }

    async fn alter(&self, statements: &[String]) -> Result<(), String> {
        // All checked before any runs: a refused deploy changes nothing.
        let checked: Vec<String> = statements
            .iter()
            .map(|s| schema_change::additive(s, &self.keyspace))
            .collect::<Result<_, _>>()?;
        for statement in &checked {
            match self.session.query_unpaged(statement.as_str(), ()).await {
                Ok(_) => tracing::info!(%statement, "applied the deploy's CQL"),
                Err(e) if schema_change::already_done(&e.to_string()) => {
                    tracing::info!(%statement, "the deploy's CQL was already applied")
                }
                Err(e) => return Err(format!("running `{statement}`: {e}")),
            }
        }
        self.refresh().await;
        Ok(())
    }

    async fn refresh(&self) {
        self.tables.lock().await.clear();
        self.statements.lock().await.clear();
    }
}

/// True when a group of one partition's rows can go in one batch: no
/// deletes, and no row twice (the partition is shared, so a row is named by
/// its clustering key).
fn in_one_batch(group: &[&BoundRow]) -> bool {
    let mut keys = std::collections::HashSet::with_capacity(group.len());
    group.iter().all(|r| {
        r.shape.kind == sluice_model::WriteKind::Upsert && keys.insert(r.clustering.as_str())
    })
}

/// Splits a CQL script into statements, dropping `--` comments.
fn cql_statements(text: &str) -> Vec<String> {
    let without_comments: String = text
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_the_default_schema() {
        let s = super::cql_statements(include_str!("../../../schemas/cassandra.cql"));
        assert_eq!(s.len(), 2);
        assert!(s[0].starts_with("CREATE KEYSPACE IF NOT EXISTS {keyspace}"));
        assert!(s[1].contains("plugin_version text"));
    }
}
