//! Which activation transforms which offset of a partition.
//!
//! Before a worker writes the first batch of an activation on a partition,
//! it records a barrier: "from offset N on, activation S". A host taking a
//! partition over (restart, rebalance, another host's crash) reads the
//! barriers and the partition's end at assignment (`cut`). Every offset
//! before the cut may have been transformed already, by the version whose
//! barrier precedes it, so it is transformed by that version again. From the
//! cut on, the host's active version takes over (it writes its own barrier
//! first). A partition never goes back to an older activation: rollbacks
//! are new activations with a higher number.

/// One partition's barriers and cut, as read at assignment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartitionPlan {
    /// (first offset, activation), by offset.
    barriers: Vec<(i64, u64)>,
    /// The partition's end when it was assigned: offsets before it may have
    /// been transformed by an earlier owner.
    cut: i64,
}

impl PartitionPlan {
    pub fn new(mut barriers: Vec<(i64, u64)>, cut: i64) -> Self {
        barriers.sort_unstable();
        PartitionPlan { barriers, cut }
    }

    /// The activation whose barrier covers `offset`, if any.
    fn covering(&self, offset: i64) -> Option<u64> {
        self.barriers
            .iter()
            .rev()
            .find(|(o, _)| *o <= offset)
            .map(|(_, s)| *s)
    }

    /// The activation that must transform `offset`, when the host's own
    /// active activation is `active`.
    pub fn owner(&self, offset: i64, active: u64) -> u64 {
        if offset < self.cut {
            if let Some(seq) = self.covering(offset) {
                return seq;
            }
            // Before every barrier (the group's offsets were reset): the
            // oldest recorded owner, so no barrier goes in front of another.
            if let Some((_, seq)) = self.barriers.first() {
                return *seq;
            }
        }
        let newest = self.barriers.iter().map(|(_, s)| *s).max().unwrap_or(0);
        active.max(newest)
    }

    /// Whether a batch starting at `offset` with activation `seq` must
    /// record a barrier first.
    pub fn needs_barrier(&self, offset: i64, seq: u64) -> bool {
        self.covering(offset) != Some(seq)
    }

    /// Notes a barrier just recorded.
    pub fn add(&mut self, offset: i64, seq: u64) {
        self.barriers.push((offset, seq));
        self.barriers.sort_unstable();
    }

    /// Splits offsets into runs of one owner: (start index, end index, activation).
    pub fn runs(&self, offsets: &[i64], active: u64) -> Vec<(usize, usize, u64)> {
        let mut runs: Vec<(usize, usize, u64)> = Vec::new();
        for (i, &o) in offsets.iter().enumerate() {
            let seq = self.owner(o, active);
            match runs.last_mut() {
                Some((_, end, s)) if *s == seq => *end = i + 1,
                _ => runs.push((i, i + 1, seq)),
            }
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_partition_goes_to_the_active_version() {
        let plan = PartitionPlan::new(vec![], 100);
        assert_eq!(plan.owner(0, 1), 1);
        assert!(plan.needs_barrier(0, 1));
    }

    #[test]
    fn the_uncommitted_tail_is_redone_by_the_version_that_owned_it() {
        // v1 from 0, v2 from 40; the previous owner crashed with 30..70 uncommitted.
        let plan = PartitionPlan::new(vec![(40, 2), (0, 1)], 70);
        assert_eq!(plan.owner(30, 3), 1);
        assert_eq!(plan.owner(39, 3), 1);
        assert_eq!(plan.owner(40, 3), 2);
        assert_eq!(plan.owner(69, 3), 2);
        // From the cut on, the host's active version.
        assert_eq!(plan.owner(70, 3), 3);
        assert!(!plan.needs_barrier(40, 2));
        assert!(plan.needs_barrier(70, 3));
        let offsets: Vec<i64> = (30..80).collect();
        assert_eq!(
            plan.runs(&offsets, 3),
            vec![(0, 10, 1), (10, 40, 2), (40, 50, 3)]
        );
    }

    #[test]
    fn a_crash_before_the_new_barrier_keeps_the_old_owner_up_to_the_cut() {
        // v2 is active, but the crashed host never wrote a v2 barrier here.
        let plan = PartitionPlan::new(vec![(0, 1)], 500);
        assert_eq!(plan.owner(120, 2), 1);
        assert_eq!(plan.owner(500, 2), 2);
    }

    #[test]
    fn a_partition_never_goes_back_to_an_older_activation() {
        // Another host already wrote activation 4 here; this one still runs 3.
        let mut plan = PartitionPlan::new(vec![(0, 2), (10, 4)], 20);
        assert_eq!(plan.owner(25, 3), 4);
        plan.add(25, 5);
        assert_eq!(plan.owner(30, 5), 5);
        assert!(!plan.needs_barrier(30, 5));
    }
}
