//! Test guest: reports where its allocations land, so a test can show that
//! the SDK's arena (sdk/rust/src/arena.rs) is the guest's allocator, that it
//! starts again after each call, and that a block kept across calls is
//! never handed out again. Per record, one row:
//! - `first`, `second`, `third`: the addresses of three 24-byte blocks
//!   allocated in a row (a bump arena puts them 24 bytes apart; dlmalloc
//!   puts a header between them);
//! - `state`: the address of the 24-byte block `new` allocated;
//! - `kept_ok`: whether every block kept so far still holds its bytes.
//!
//! A record whose value has `"keep": true` also keeps a block in a cache
//! that outlives the call.

use sluice_plugin::{InputRecord, Outcome, PluginInfo, RowBuilder, Transform, Value};
use std::cell::RefCell;

struct AllocProbe {
    state: Box<[u8; 24]>,
    /// One allocation per kept block, as a plugin's cache would make them
    /// (a `Vec<[u8; 24]>` would move its blocks as it grows).
    #[allow(clippy::vec_box)]
    kept: RefCell<Vec<Box<[u8; 24]>>>,
}

impl Transform for AllocProbe {
    fn metadata() -> PluginInfo {
        PluginInfo {
            name: "alloc-probe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "reports where its allocations land".into(),
        }
    }

    fn new(_config: &[(String, String)]) -> Result<Self, String> {
        Ok(AllocProbe {
            state: Box::new([7; 24]),
            kept: RefCell::new(Vec::new()),
        })
    }

    fn transform(&self, record: &InputRecord) -> Outcome {
        let blocks: Vec<Box<[u8; 24]>> = (0..3).map(|i| Box::new([i; 24])).collect();
        let addr = |b: &[u8; 24]| b.as_ptr() as usize as i64;
        let keep = Value::root(&record.value)
            .lookup("keep")
            .and_then(|v| v.as_bool())
            == Some(true);
        if keep {
            self.kept.borrow_mut().push(Box::new([42; 24]));
        }
        let kept_ok = self.state.iter().all(|&b| b == 7)
            && self
                .kept
                .borrow()
                .iter()
                .all(|k| k.iter().all(|&b| b == 42));
        Outcome::Rows(vec![RowBuilder::default_table()
            .bigint("first", addr(&blocks[0]))
            .bigint("second", addr(&blocks[1]))
            .bigint("third", addr(&blocks[2]))
            .bigint("state", addr(&self.state))
            .boolean("kept_ok", kept_ok)
            .build()])
    }
}

sluice_plugin::export_transform!(AllocProbe);
