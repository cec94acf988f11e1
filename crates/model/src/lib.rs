//! The data that flows through a pipeline, in Sluice's own types: raw and
//! decoded input records and the rows a transform makes of them. The codec
//! produces these, the engine maps them to and from the WIT contract, the
//! adapters read and write them; none of those layers sees another's library
//! types. Also the two small config types every layer shares: [`Secret`] and
//! [`duration`] (humantime strings in config files).

pub mod duration;
mod secret;
pub mod text;

pub use secret::Secret;

/// One node of a decoded value; containers refer to children by index.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Boolean(bool),
    Integer(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    List(Vec<u32>),
    Object(Vec<(String, u32)>),
}

/// A decoded record value as a flat tree; the root is `nodes[0]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueTree {
    pub nodes: Vec<Node>,
}

impl ValueTree {
    /// Appends a node and returns its index.
    pub fn push(&mut self, node: Node) -> u32 {
        self.nodes.push(node);
        (self.nodes.len() - 1) as u32
    }

    /// Renders the tree as JSON (bytes as arrays of numbers), for dry runs,
    /// samples and dead-letter diagnostics.
    pub fn to_json(&self) -> serde_json::Value {
        self.node_json(0)
    }

    fn node_json(&self, index: u32) -> serde_json::Value {
        use serde_json::Value as J;
        match self.nodes.get(index as usize) {
            None | Some(Node::Null) => J::Null,
            Some(Node::Boolean(b)) => J::Bool(*b),
            Some(Node::Integer(i)) => J::from(*i),
            Some(Node::Float(f)) => J::from(*f),
            Some(Node::Text(s)) => J::String(s.clone()),
            Some(Node::Bytes(b)) => J::from(b.clone()),
            Some(Node::List(items)) => J::Array(items.iter().map(|&i| self.node_json(i)).collect()),
            Some(Node::Object(fields)) => J::Object(
                fields
                    .iter()
                    .map(|(name, i)| (name.clone(), self.node_json(*i)))
                    .collect(),
            ),
        }
    }
}

/// Where a record came from; what the engine passes on as Kafka metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A consumed record as it came from the source: where from, and its bytes.
#[derive(Debug, Clone)]
pub struct SourceMessage {
    pub origin: Origin,
    pub payload: Option<Vec<u8>>,
}

/// An input record: where it came from and its decoded value.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub origin: Origin,
    pub value: ValueTree,
}

/// A typed Cassandra column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i32),
    Bigint(i64),
    Double(f64),
    Boolean(bool),
    Uuid(String),
    /// Milliseconds since the epoch.
    Timestamp(i64),
    /// Days since the epoch.
    Date(i32),
    Blob(Vec<u8>),
    TextList(Vec<String>),
    TextSet(Vec<String>),
    TextMap(Vec<(String, String)>),
}

impl Cell {
    /// The CQL type this cell writes, for messages.
    pub fn cql_type(&self) -> &'static str {
        match self {
            Cell::Null => "null",
            Cell::Text(_) => "text",
            Cell::Int(_) => "int",
            Cell::Bigint(_) => "bigint",
            Cell::Double(_) => "double",
            Cell::Boolean(_) => "boolean",
            Cell::Uuid(_) => "uuid",
            Cell::Timestamp(_) => "timestamp",
            Cell::Date(_) => "date",
            Cell::Blob(_) => "blob",
            Cell::TextList(_) => "list<text>",
            Cell::TextSet(_) => "set<text>",
            Cell::TextMap(_) => "map<text, text>",
        }
    }

    /// Approximate size in bytes, for output caps.
    pub fn size(&self) -> usize {
        match self {
            Cell::Text(s) | Cell::Uuid(s) => s.len(),
            Cell::Blob(b) => b.len(),
            Cell::TextList(l) | Cell::TextSet(l) => l.iter().map(String::len).sum(),
            Cell::TextMap(m) => m.iter().map(|(k, v)| k.len() + v.len()).sum(),
            _ => 8,
        }
    }
}

/// What a row does to its table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum WriteKind {
    /// Insert or update the columns.
    #[default]
    Upsert,
    /// Delete the row named by its primary key columns.
    Delete,
}

/// A row to write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    /// None means the pipeline's default table.
    pub table: Option<String>,
    pub columns: Vec<(String, Cell)>,
    pub kind: WriteKind,
    /// `USING TTL`, in seconds.
    pub ttl_seconds: Option<u32>,
    /// `USING TIMESTAMP`, in microseconds since the epoch.
    pub write_time_micros: Option<i64>,
}

impl Row {
    /// An upsert of `columns` into `table` (none: the default table), with
    /// the table's TTL and Cassandra's write time.
    pub fn upsert(table: Option<String>, columns: Vec<(String, Cell)>) -> Self {
        Row {
            table,
            columns,
            ..Row::default()
        }
    }

    /// Approximate size in bytes, for output caps.
    pub fn size(&self) -> usize {
        self.columns.iter().map(|(n, c)| n.len() + c.size()).sum()
    }
}

/// What a transform made of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Rows(Vec<Row>),
    Filtered(String),
    BadInput {
        field: Option<String>,
        message: String,
    },
    Retry(String),
}

/// A plugin's own description of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub description: String,
}

impl std::fmt::Display for PluginInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}
