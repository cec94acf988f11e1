//! The group's control log as this host has read it so far. Records are
//! applied in log order by the adapter's reader; everything here is plain
//! data, so every host that has read the same records holds the same state.

use super::log::*;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How many unreadable records are kept for the operator.
const PROBLEMS: usize = 20;

#[derive(Default)]
pub struct FleetState {
    proposals: BTreeMap<String, Proposal>,
    answers: BTreeMap<String, BTreeMap<String, Answer>>,
    decisions: BTreeMap<String, Decision>,
    activations: BTreeMap<u64, Activation>,
    /// Heartbeats, with when this host received them (clocks of other
    /// machines are not compared with ours).
    members: BTreeMap<String, (Member, Instant)>,
    /// (topic, partition) -> barriers as (first offset, activation), by offset.
    barriers: HashMap<(String, i32), Vec<(i64, u64)>>,
    /// Summaries tools left for the group's hosts to show (`history/replay`, ...).
    notes: BTreeMap<String, serde_json::Value>,
    /// The group's shadow run, if one is going.
    shadow: Option<ShadowSpec>,
    problems: Vec<String>,
}

impl FleetState {
    /// Applies one record. A record that does not parse is skipped, logged
    /// and kept in `problems`: it can change nothing.
    pub fn apply(&mut self, record: ControlRecord) {
        if let Err(e) = self.try_apply(&record) {
            let text = format!(
                "control record {} at {} ({} stream) is unreadable and was skipped: {e}",
                record.key,
                record.position,
                record.stream.name()
            );
            tracing::warn!("{text}");
            if self.problems.len() == PROBLEMS {
                self.problems.remove(0);
            }
            self.problems.push(text);
        }
    }

    fn try_apply(&mut self, record: &ControlRecord) -> Result<(), String> {
        let key = record.key.as_str();
        let Some(value) = record.value.as_deref() else {
            // Tombstones: a member that left cleanly, a shadow run ended.
            if let Some(member) = key.strip_prefix("member/") {
                self.members.remove(member);
            } else if record.stream == Stream::Deploys && key == SHADOW_KEY {
                self.shadow = None;
            }
            return Ok(());
        };
        fn parse<T: serde::de::DeserializeOwned>(v: &[u8]) -> Result<T, String> {
            serde_json::from_slice(v).map_err(|e| e.to_string())
        }
        match record.stream {
            Stream::Members if key.starts_with("history/") => {
                let note: serde_json::Value = parse(value)?;
                self.notes.insert(key["history/".len()..].to_string(), note);
            }
            Stream::Members => {
                let m: Member = parse(value)?;
                // Read back at start-up, old heartbeats are old: age them by
                // their stamp (hosts' clocks are assumed roughly in step).
                let age = Duration::from_millis(now_ms().saturating_sub(m.at_ms))
                    .min(Duration::from_secs(3600));
                let seen = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
                self.members.insert(m.member.clone(), (m, seen));
            }
            Stream::Barriers => {
                let b: Barrier = parse(value)?;
                let list = self.barriers.entry((b.topic, b.partition)).or_default();
                if !list.contains(&(b.offset, b.seq)) {
                    list.push((b.offset, b.seq));
                    list.sort_unstable();
                }
            }
            Stream::Deploys => {
                let kind = key.split('/').next().unwrap_or_default();
                match kind {
                    SHADOW_KEY => self.shadow = Some(parse(value)?),
                    "proposal" => {
                        let p: Proposal = parse(value)?;
                        self.proposals.insert(p.id.clone(), p);
                    }
                    "answer" => {
                        let a: Answer = parse(value)?;
                        self.answers
                            .entry(a.proposal.clone())
                            .or_default()
                            .insert(a.member.clone(), a);
                    }
                    "decision" => {
                        let d: Decision = parse(value)?;
                        self.decisions.insert(d.proposal.clone(), d);
                    }
                    "activation" => {
                        let a: Activation = parse(value)?;
                        if a.hash.len() != 64 || !a.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                            return Err(format!("activation {} has no valid hash", a.seq));
                        }
                        // First writer of a number wins; later ones lost a race.
                        if a.seq > self.active_seq() {
                            self.activations.insert(a.seq, a);
                        } else {
                            tracing::debug!(seq = a.seq, "activation record lost a race; ignored");
                        }
                    }
                    other => return Err(format!("unknown record kind {other:?}")),
                }
            }
        }
        Ok(())
    }

    /// The group's active version, if any was ever activated.
    pub fn active(&self) -> Option<&Activation> {
        self.activations.values().next_back()
    }

    pub fn active_seq(&self) -> u64 {
        self.active().map(|a| a.seq).unwrap_or(0)
    }

    /// The group's shadow run, if one is going.
    pub fn shadow(&self) -> Option<&ShadowSpec> {
        self.shadow.as_ref()
    }

    /// The newest activation of the version with this content hash.
    pub fn activations_of(&self, hash: &str) -> Option<&Activation> {
        self.activations.values().rev().find(|a| a.hash == hash)
    }

    pub fn activation(&self, seq: u64) -> Option<&Activation> {
        self.activations.get(&seq)
    }

    /// What a rollback from activation `seq` goes back to: the newest
    /// activation before the one `seq` stands for (a rollback stands for the
    /// activation it restored) with another version. Rolling back twice
    /// goes two versions back, as on a single host.
    pub fn previous(&self, seq: u64) -> Option<&Activation> {
        let mut current = self.activations.get(&seq)?;
        while let Some(restored) = current.restores.and_then(|r| self.activations.get(&r)) {
            if restored.seq >= current.seq {
                break;
            }
            current = restored;
        }
        let seq = current.seq;
        self.activations
            .range(..seq)
            .rev()
            .map(|(_, a)| a)
            .find(|a| a.hash != current.hash || a.plugin_config != current.plugin_config)
    }

    pub fn proposal(&self, id: &str) -> Option<&Proposal> {
        self.proposals.get(id)
    }

    pub fn answers(&self, proposal: &str) -> Vec<Answer> {
        self.answers
            .get(proposal)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn decision(&self, proposal: &str) -> Option<&Decision> {
        self.decisions.get(proposal)
    }

    /// Proposals not yet decided, not answered by `member`, younger than `max_age`.
    pub fn to_answer(&self, member: &str, max_age: Duration) -> Vec<Proposal> {
        let oldest = now_ms().saturating_sub(max_age.as_millis() as u64);
        self.proposals
            .values()
            .filter(|p| p.at_ms >= oldest)
            .filter(|p| !self.decisions.contains_key(&p.id))
            .filter(|p| {
                !self
                    .answers
                    .get(&p.id)
                    .is_some_and(|a| a.contains_key(member))
            })
            .cloned()
            .collect()
    }

    /// Members heard from within `within`, newest heartbeat each.
    pub fn live_members(&self, within: Duration) -> Vec<(Member, Duration)> {
        self.members
            .values()
            .map(|(m, seen)| (m.clone(), seen.elapsed()))
            .filter(|(_, age)| *age <= within)
            .collect()
    }

    /// Every member heard from, with how long ago.
    pub fn members(&self) -> Vec<(Member, Duration)> {
        self.members
            .values()
            .map(|(m, seen)| (m.clone(), seen.elapsed()))
            .collect()
    }

    pub fn barriers(&self, topic: &str, partition: i32) -> Vec<(i64, u64)> {
        self.barriers
            .get(&(topic.to_string(), partition))
            .cloned()
            .unwrap_or_default()
    }

    /// What tools left for the hosts to show, by tool (`replay`, `reprocess`).
    pub fn notes(&self) -> BTreeMap<String, serde_json::Value> {
        self.notes.clone()
    }

    pub fn problems(&self) -> Vec<String> {
        self.problems.clone()
    }

    /// The last `n` activations, newest first.
    pub fn recent_activations(&self, n: usize) -> Vec<Activation> {
        self.activations.values().rev().take(n).cloned().collect()
    }

    /// The newest decided proposals, newest first, with their answers.
    pub fn recent_decisions(&self, n: usize) -> Vec<(Proposal, Option<Decision>, Vec<Answer>)> {
        let mut ps: Vec<&Proposal> = self.proposals.values().collect();
        ps.sort_by_key(|p| std::cmp::Reverse(p.at_ms));
        ps.into_iter()
            .take(n)
            .map(|p| {
                (
                    p.clone(),
                    self.decisions.get(&p.id).cloned(),
                    self.answers(&p.id),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(stream: Stream, key: &str, value: &impl serde::Serialize) -> ControlRecord {
        ControlRecord {
            stream,
            key: key.into(),
            value: Some(serde_json::to_vec(value).unwrap()),
            position: "test".into(),
        }
    }

    fn activation(seq: u64, hash: char, proposal: &str) -> Activation {
        Activation {
            seq,
            proposal: proposal.into(),
            hash: hash.to_string().repeat(64),
            name: "p".into(),
            version: format!("{seq}.0.0"),
            plugin_config: BTreeMap::new(),
            source: "t".into(),
            by: "m".into(),
            at_ms: 0,
            restores: None,
        }
    }

    #[test]
    fn the_first_activation_of_a_number_wins() {
        let mut s = FleetState::default();
        s.apply(rec(
            Stream::Deploys,
            "activation/1",
            &activation(1, 'a', "x"),
        ));
        s.apply(rec(
            Stream::Deploys,
            "activation/1",
            &activation(1, 'b', "y"),
        ));
        assert_eq!(s.active().unwrap().proposal, "x");
        s.apply(rec(
            Stream::Deploys,
            "activation/2",
            &activation(2, 'b', "y"),
        ));
        assert_eq!(s.active_seq(), 2);
        assert_eq!(s.previous(2).unwrap().seq, 1);
        // Roll back to 1 (as 3); a second rollback has nowhere to go.
        let mut back = activation(3, 'a', "z");
        back.restores = Some(1);
        s.apply(rec(Stream::Deploys, "activation/3", &back));
        assert!(s.previous(3).is_none());
    }

    #[test]
    fn unreadable_records_change_nothing_and_are_reported() {
        let mut s = FleetState::default();
        s.apply(rec(
            Stream::Deploys,
            "activation/1",
            &activation(1, 'a', "x"),
        ));
        s.apply(ControlRecord {
            stream: Stream::Deploys,
            key: "activation/2".into(),
            value: Some(b"{not json".to_vec()),
            position: "deploys@7".into(),
        });
        let mut bad = activation(3, 'a', "z");
        bad.hash = "short".into();
        s.apply(rec(Stream::Deploys, "activation/3", &bad));
        assert_eq!(s.active_seq(), 1);
        let problems = s.problems();
        assert_eq!(problems.len(), 2);
        assert!(
            problems[0].contains("activation/2 at deploys@7"),
            "{problems:?}"
        );
        assert!(problems[1].contains("no valid hash"), "{problems:?}");
    }

    #[test]
    fn barriers_are_kept_in_offset_order_once() {
        let mut s = FleetState::default();
        for (offset, seq) in [(50, 2), (0, 1), (50, 2)] {
            let b = Barrier {
                topic: "t".into(),
                partition: 3,
                offset,
                seq,
                hash: String::new(),
                member: "m".into(),
                at_ms: 0,
            };
            s.apply(rec(Stream::Barriers, &b.key(), &b));
        }
        assert_eq!(s.barriers("t", 3), vec![(0, 1), (50, 2)]);
        assert!(s.barriers("t", 4).is_empty());
    }

    #[test]
    fn proposals_to_answer_skip_decided_and_answered_ones() {
        let mut s = FleetState::default();
        let p = |id: &str| Proposal {
            id: id.into(),
            hash: "a".repeat(64),
            name: "p".into(),
            version: "1".into(),
            size: 1,
            plugin_config: BTreeMap::new(),
            cql: vec![],
            source: "t".into(),
            coordinator: "m1".into(),
            at_ms: now_ms(),
            restores: None,
        };
        for id in ["a", "b", "c"] {
            s.apply(rec(Stream::Deploys, &proposal_key(id), &p(id)));
        }
        s.apply(rec(
            Stream::Deploys,
            &decision_key("a"),
            &Decision {
                proposal: "a".into(),
                activated: None,
                reason: None,
                at_ms: 0,
            },
        ));
        s.apply(rec(
            Stream::Deploys,
            &answer_key("b", "me"),
            &Answer {
                proposal: "b".into(),
                member: "me".into(),
                host: "h".into(),
                accepted: true,
                reason: None,
                at_ms: 0,
            },
        ));
        let ids: Vec<String> = s
            .to_answer("me", Duration::from_secs(60))
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids, vec!["c"]);
    }
}
