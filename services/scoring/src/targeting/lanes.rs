//! Lanes by inspection capacity: an authority says which shares of its shipments it can
//! send RED and YELLOW (per customs office where it wants); the score thresholds are read
//! from the recent distribution of scores, so the shares hold as the model changes.

use std::collections::{HashMap, VecDeque};

use acx_proto::scoring::{LanePolicy, LaneThresholds};
use sha2::{Digest as _, Sha256};

/// Recent scores kept per authority and per office.
const RECENT: usize = 5000;
/// Fewest recent scores that make an office's (or authority's) own thresholds; with fewer,
/// the authority's (or everyone's) scores are read.
const MIN_SCORES: usize = 200;
/// Parties with fewer outcomes than this are explored.
pub const EXPLORE_BELOW: u32 = 3;

/// The policy when an authority set none: 5 % RED, 10 % YELLOW, 1 % explored; the random
/// share is the service's (ACX_RANDOM_INSPECTION_SHARE).
pub fn default_policy(authority: &str, random_share: f64) -> LanePolicy {
    LanePolicy {
        authority: authority.to_owned(),
        customs_office: String::new(),
        red_share: 0.05,
        yellow_share: 0.10,
        random_share,
        exploration_share: 0.01,
    }
}

/// Problems of a policy: (field, why).
pub fn check(policy: &mut LanePolicy) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    policy.authority = policy.authority.trim().to_owned();
    if policy.authority.is_empty() {
        problems.push(("policy.authority", "must name the authority".to_owned()));
    }
    // The office as declarations name it (a policy for an office no declaration can name
    // would be kept and shown on every model card for nothing).
    if let Err(why) = acx_domain::customs::trim_id(&mut policy.customs_office) {
        problems.push(("policy.customs_office", why));
    }
    for (field, value) in [
        ("policy.red_share", policy.red_share),
        ("policy.yellow_share", policy.yellow_share),
        ("policy.random_share", policy.random_share),
        ("policy.exploration_share", policy.exploration_share),
    ] {
        if !(0.0..=1.0).contains(&value) {
            problems.push((field, format!("must be a share from 0 to 1, not {value}")));
        }
    }
    if policy.red_share + policy.yellow_share > 1.0 {
        problems.push((
            "policy.yellow_share",
            "red_share and yellow_share together must not exceed 1".to_owned(),
        ));
    }
    problems
}

/// Policies and the recent scores their thresholds are read from (part of each replica's
/// state, so in snapshots).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct LaneBook {
    #[serde(with = "crate::snapshot::prost_values")]
    policies: HashMap<(String, String), LanePolicy>,
    recent: HashMap<(String, String), VecDeque<f64>>,
}

/// The score at or above which `share` (0..1) of `scores` lie; infinite for none.
fn threshold(scores: &VecDeque<f64>, share: f64) -> f64 {
    let mut sorted: Vec<f64> = scores.iter().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let above = ((share * sorted.len() as f64).round() as usize).min(sorted.len());
    if above == 0 {
        return f64::INFINITY;
    }
    sorted[sorted.len() - above]
}

impl LaneBook {
    /// Sets (replaces) a policy.
    pub fn set(&mut self, policy: LanePolicy) {
        self.policies.insert(
            (policy.authority.clone(), policy.customs_office.clone()),
            policy,
        );
    }

    /// The policy for an office of an authority: the office's, else the authority's, else
    /// the default.
    pub fn policy(&self, authority: &str, office: &str, random_share: f64) -> LanePolicy {
        self.policies
            .get(&(authority.to_owned(), office.to_owned()))
            .or_else(|| self.policies.get(&(authority.to_owned(), String::new())))
            .cloned()
            .unwrap_or_else(|| default_policy(authority, random_share))
    }

    /// Every policy set, in (authority, office) order.
    pub fn policies(&self) -> Vec<LanePolicy> {
        let mut all: Vec<LanePolicy> = self.policies.values().cloned().collect();
        all.sort_by(|a, b| {
            (&a.authority, &a.customs_office).cmp(&(&b.authority, &b.customs_office))
        });
        all
    }

    /// Forgets the recent scores (a new model scores on its own scale).
    pub fn clear_scores(&mut self) {
        self.recent.clear();
    }

    /// Remembers a score for everyone's thresholds only (no authority's).
    pub fn observe_everyone(&mut self, score: f64) {
        let ring = self
            .recent
            .entry((String::new(), String::new()))
            .or_default();
        if ring.len() == RECENT {
            ring.pop_front();
        }
        ring.push_back(score);
    }

    /// Remembers a recorded shipment's score.
    pub fn observe(&mut self, authority: &str, office: &str, score: f64) {
        for key in [
            (authority.to_owned(), office.to_owned()),
            (authority.to_owned(), String::new()),
            (String::new(), String::new()),
        ] {
            let ring = self.recent.entry(key).or_default();
            if ring.len() == RECENT {
                ring.pop_front();
            }
            ring.push_back(score);
        }
    }

    /// The thresholds of `policy`, read from the most specific recent scores there are
    /// enough of: the office's (for an office's policy), the authority's, everyone's.
    pub fn thresholds(&self, policy: &LanePolicy) -> LaneThresholds {
        let keys = [
            (policy.authority.clone(), policy.customs_office.clone()),
            (policy.authority.clone(), String::new()),
            (String::new(), String::new()),
        ];
        let ring = keys
            .iter()
            .filter_map(|k| self.recent.get(k))
            .find(|r| r.len() >= MIN_SCORES)
            .or_else(|| self.recent.get(&keys[2]).filter(|r| !r.is_empty()));
        let (red, yellow, seen) = match ring {
            Some(ring) => (
                threshold(ring, policy.red_share),
                threshold(ring, policy.red_share + policy.yellow_share),
                ring.len(),
            ),
            // Nothing seen yet: everything GREEN unless shares say all.
            None => (f64::INFINITY, f64::INFINITY, 0),
        };
        LaneThresholds {
            policy: Some(policy.clone()),
            red_threshold: if policy.red_share <= 0.0 {
                f64::INFINITY
            } else {
                red
            },
            yellow_threshold: if policy.red_share + policy.yellow_share <= 0.0 {
                f64::INFINITY
            } else {
                yellow
            },
            scores_seen: seen as i64,
        }
    }
}

/// A fixed draw in 0..1 for a declaration and a purpose, so it is always picked the same way.
pub fn draw(authority: &str, declaration_id: &str, purpose: &str) -> f64 {
    let digest = Sha256::digest(format!("{purpose}/{authority}/{declaration_id}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes) as f64 / u64::MAX as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_give_the_shares_on_the_scores_seen() {
        let mut book = LaneBook::default();
        for i in 0..1000 {
            book.observe("KCS", "", f64::from(i) / 1000.0);
        }
        let t = book.thresholds(&default_policy("KCS", 0.0));
        let red = (0..1000)
            .filter(|i| f64::from(*i) / 1000.0 >= t.red_threshold)
            .count();
        let yellow = (0..1000)
            .filter(|i| (t.yellow_threshold..t.red_threshold).contains(&(f64::from(*i) / 1000.0)))
            .count();
        assert_eq!((red, yellow), (50, 100));
    }

    #[test]
    fn shares_outside_zero_to_one_are_named() {
        let mut p = default_policy("KCS", 0.0);
        p.red_share = 1.5;
        p.yellow_share = -0.1;
        let fields: Vec<&str> = check(&mut p).iter().map(|c| c.0).collect();
        assert!(fields.contains(&"policy.red_share") && fields.contains(&"policy.yellow_share"));
    }

    #[test]
    fn an_office_is_trimmed_and_checked_as_declarations_name_it() {
        // Found by a tester: "\0\x7f", a 100,000-character office and "NL000396\n" were kept
        // for good and shown on every model card.
        for bad in [
            "\u{0}\u{7f}".to_owned(),
            "O".repeat(129),
            "NL000396\nX".to_owned(),
        ] {
            let mut p = default_policy("KCS", 0.0);
            p.customs_office = bad.clone();
            let fields: Vec<&str> = check(&mut p).iter().map(|c| c.0).collect();
            assert_eq!(fields, ["policy.customs_office"], "{bad:?}");
        }
        let mut p = default_policy(" KCS ", 0.0);
        p.customs_office = " NL000396\n".to_owned();
        assert!(check(&mut p).is_empty());
        assert_eq!(
            (p.authority.as_str(), p.customs_office.as_str()),
            ("KCS", "NL000396")
        );
    }
}
