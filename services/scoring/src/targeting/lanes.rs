//! Lanes by inspection capacity: an authority says which shares of its shipments it can
//! send RED and YELLOW (per customs office where it wants); the score thresholds are read
//! from the recent distribution of scores, so the shares hold as the model changes.

use std::collections::{HashMap, VecDeque};

use acx_proto::scoring::{Lane, LanePolicy, LaneThresholds};
use sha2::Sha256;

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
    /// For each score of `recent`, in step with it: whether its declaration went RED (the
    /// inspections the recent window has spent).
    reds: HashMap<(String, String), VecDeque<bool>>,
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
    /// Sets (replaces) a policy. A new RED share holds from now: the REDs its window spent
    /// are re-marked as that share of the window, spread evenly over it (its scores stay, for
    /// the thresholds), so as old declarations leave the window and new ones arrive, that
    /// share of the new ones finds room, neither a burst nor nothing. Found by a customs
    /// analyst: RED lowered from 5 % to 1 % sent no shipment RED in 600 until the old REDs
    /// left the window; and by a second tester: counting from zero instead let a burst of 30
    /// RED through right after lowering a share to 2 %, and a share raised to 20 % sent every
    /// risky one RED.
    pub fn set(&mut self, policy: LanePolicy) {
        let key = (policy.authority.clone(), policy.customs_office.clone());
        let before = self
            .policies
            .get(&key)
            .map_or(default_policy(&policy.authority, 0.0).red_share, |p| {
                p.red_share
            });
        if before != policy.red_share
            && let Some(reds) = self.reds.get_mut(&key)
        {
            let share = policy.red_share;
            for (i, red) in reds.iter_mut().enumerate() {
                let i = i as f64;
                *red = ((i + 1.0) * share).floor() > (i * share).floor();
            }
        }
        self.policies.insert(key, policy);
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
        self.reds.clear();
    }

    /// Remembers a score for everyone's thresholds only (no authority's).
    pub fn observe_everyone(&mut self, score: f64) {
        self.push((String::new(), String::new()), score, false);
    }

    /// Adds a score (and whether it went RED) to one window; returns what it let go.
    fn push(&mut self, key: (String, String), score: f64, red: bool) -> Option<(f64, bool)> {
        let ring = self.recent.entry(key.clone()).or_default();
        let reds = self.reds.entry(key).or_default();
        // Windows kept before the RED flags (none of them RED).
        reds.resize(ring.len(), false);
        let dropped = if ring.len() == RECENT {
            ring.pop_front().zip(reds.pop_front())
        } else {
            None
        };
        ring.push_back(score);
        reds.push_back(red);
        dropped
    }

    /// Remembers a recorded shipment's score and whether it went RED.
    pub fn observe(&mut self, authority: &str, office: &str, score: f64, red: bool) {
        self.observe_undoable(authority, office, score, red);
    }

    /// As [`Self::observe`], returning what [`Self::undo`] needs to take it back: a batch's
    /// declarations count for the lanes of the ones after them while it is assessed, as its
    /// history entries will once applied (found with a tester's case: a batch of 50 risks
    /// tied at the top all went RED, none seeing the others).
    pub fn observe_undoable(
        &mut self,
        authority: &str,
        office: &str,
        score: f64,
        red: bool,
    ) -> LaneUndo {
        let mut undo = LaneUndo(Vec::with_capacity(3));
        for key in [
            (authority.to_owned(), office.to_owned()),
            (authority.to_owned(), String::new()),
            (String::new(), String::new()),
        ] {
            let dropped = self.push(key.clone(), score, red);
            undo.0.push((key, dropped));
        }
        undo
    }

    /// Takes back one [`Self::observe_undoable`] (undo the latest first).
    pub fn undo(&mut self, undo: LaneUndo) {
        for (key, dropped) in undo.0.into_iter().rev() {
            if let (Some(ring), Some(reds)) = (self.recent.get_mut(&key), self.reds.get_mut(&key)) {
                ring.pop_back();
                reds.pop_back();
                if let Some((score, red)) = dropped {
                    ring.push_front(score);
                    reds.push_front(red);
                }
                if ring.is_empty() {
                    self.recent.remove(&key);
                    self.reds.remove(&key);
                }
            }
        }
    }

    /// Whether the window `policy` reads has RED room left: fewer of its declarations spent
    /// the RED share (random selections aside) than the share allows. Always, before
    /// [`MIN_SCORES`] were seen. Found by a tester: a burst of declarations at the top of the
    /// risks went RED many times over the share while the window's quantile caught up.
    pub fn room_left(&self, policy: &LanePolicy) -> bool {
        let Some(key) = self.key_for(policy) else {
            return true;
        };
        let window = self.recent.get(&key).map_or(0, VecDeque::len);
        let spent = self
            .reds
            .get(&key)
            .map_or(0, |reds| reds.iter().filter(|r| **r).count());
        window < MIN_SCORES || (spent as f64) < policy.red_share * window as f64
    }

    /// The key of the window `policy` reads ([`Self::recent_for`]).
    fn key_for(&self, policy: &LanePolicy) -> Option<(String, String)> {
        let keys = [
            (policy.authority.clone(), policy.customs_office.clone()),
            (policy.authority.clone(), String::new()),
            (String::new(), String::new()),
        ];
        keys.iter()
            .find(|k| self.recent.get(*k).is_some_and(|r| r.len() >= MIN_SCORES))
            .or_else(|| {
                self.recent
                    .get(&keys[2])
                    .is_some_and(|r| !r.is_empty())
                    .then_some(&keys[2])
            })
            .cloned()
    }

    /// The recent scores `policy`'s thresholds are read from: the most specific there are
    /// enough of, the office's (for an office's policy), the authority's, everyone's; else
    /// everyone's, however few; None when none were seen.
    fn recent_for(&self, policy: &LanePolicy) -> Option<&VecDeque<f64>> {
        self.key_for(policy).and_then(|k| self.recent.get(&k))
    }

    /// The thresholds of `policy`, read from the most specific recent scores there are
    /// enough of: the office's (for an office's policy), the authority's, everyone's.
    pub fn thresholds(&self, policy: &LanePolicy) -> LaneThresholds {
        let ring = self.recent_for(policy);
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

/// The rules' own lane thresholds: a risk below 0.6 is no reason for a physical inspection,
/// below 0.3 none for a documentary check, whatever share of inspections the policy allows.
const RULES_RED: f64 = 0.6;
/// See [`RULES_RED`].
const RULES_YELLOW: f64 = 0.3;

/// What one [`LaneBook::observe_undoable`] changed: each window's key and the score (with
/// its RED flag) it let go, if it was full.
#[derive(Debug)]
pub struct LaneUndo(Vec<(WindowKey, Option<(f64, bool)>)>);

/// A lane window's scope: (authority, office), empty for the authority's or everyone's.
type WindowKey = (String, String);

/// Whether `risk` is within the top `share` of `recent` risks. Risks equal to it share what
/// room is left: each is in with the probability that fills the share, decided by `draw`
/// (fixed per declaration), since the rules' risk saturates and many declarations tie at
/// the top.
fn within_share(recent: &VecDeque<f64>, risk: f64, share: f64, draw: f64) -> bool {
    let room = share * recent.len() as f64;
    let above = recent.iter().filter(|s| **s > risk).count() as f64;
    let equal = recent.iter().filter(|s| **s == risk).count() as f64;
    if above >= room {
        false
    } else if equal == 0.0 {
        true
    } else {
        draw < (room - above) / equal
    }
}

impl LaneBook {
    /// The lane of a risk the rules gave (cold start, no model in force), held to the
    /// policy's shares: RED when the risk is at least the rules' 0.6 and within the
    /// policy's RED share of recent risks, YELLOW likewise at 0.3 and the RED and YELLOW
    /// shares together (ties share the room left, by `draw`, fixed per declaration);
    /// `forced` (random selection, a blacklisted seller, a value far below the platforms'
    /// prices) is RED whatever the shares. Until [`MIN_SCORES`] risks were seen the rules'
    /// thresholds alone apply. Found by a tester: a few outcomes about one importer raised
    /// whole offices' and origins' risks, and 54 % of shipments went RED under a 5 % share.
    pub fn cap_rules_lane(&self, policy: &LanePolicy, risk: f64, forced: bool, draw: f64) -> Lane {
        if forced {
            return Lane::Red;
        }
        let recent = self.recent_for(policy).filter(|r| r.len() >= MIN_SCORES);
        let within = |share: f64| recent.is_none_or(|r| within_share(r, risk, share, draw));
        // Found by a tester: a burst of 1,000 undervalued declarations, tied at the rules'
        // top risk, went 34.6 % RED under a 5 % share while the quantile caught up.
        if risk >= RULES_RED && within(policy.red_share) && self.room_left(policy) {
            Lane::Red
        } else if risk >= RULES_YELLOW && within(policy.red_share + policy.yellow_share) {
            Lane::Yellow
        } else {
            Lane::Green
        }
    }
}

/// Draws in 0..1 for a declaration and a purpose (random selection), keyed with a secret of
/// the deployment: fixed, so every replica and every retry
/// picks a declaration the same way, and unknown to traders, who could otherwise compute
/// before declaring whether a declaration will be selected at random (found by a tester:
/// an unkeyed SHA-256 of the declaration id reproduced all 185 random selections of a run).
#[derive(Clone)]
pub struct Draws {
    key: [u8; 32],
}

impl Draws {
    /// Draws keyed with `key` (scoring derives it from the deployment's stored secret, the
    /// same on every replica).
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The draw for `purpose` of `declaration_id` of `authority`.
    pub fn draw(&self, authority: &str, declaration_id: &str, purpose: &str) -> f64 {
        use hmac::{KeyInit as _, Mac as _};
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in [purpose, authority, declaration_id] {
            // Length-prefixed: no two (authority, id) pairs give the same input.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(bytes) as f64 / u64::MAX as f64
    }
}

/// A fixed draw in 0..1 for a declaration and a purpose that is no selection a trader gains
/// by foreseeing: the tie-break among equal risks at a lane's threshold, and exploration
/// (at least YELLOW, a documentary check). Unkeyed, so the same on every deployment; random
/// selection, which sends a shipment RED, is drawn with [`Draws`].
pub fn fixed_draw(authority: &str, declaration_id: &str, purpose: &str) -> f64 {
    use sha2::Digest as _;
    let digest = Sha256::digest(format!("{purpose}/{authority}/{declaration_id}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes) as f64 / u64::MAX as f64
}

impl std::fmt::Debug for Draws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Draws { key: <secret> }")
    }
}

/// The selections made when a declaration was first assessed and recorded. A
/// re-assessment keeps them: a random selection is drawn once, under the policy of that
/// day, or it is no unbiased sample (found by a tester: shipments GREEN on arrival became
/// "selected at random" when the random share was raised later, and most picks vanished).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selections {
    /// Selected at random for inspection.
    pub random: bool,
    /// Selected to explore a party with few outcomes.
    pub exploration: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_lanes_are_held_to_the_policy_s_shares_once_enough_risks_were_seen() {
        let mut book = LaneBook::default();
        let policy = default_policy("KCS", 0.0);
        // Too few risks seen: the rules' own thresholds.
        assert_eq!(book.cap_rules_lane(&policy, 0.65, false, 0.5), Lane::Red);
        assert_eq!(book.cap_rules_lane(&policy, 0.35, false, 0.5), Lane::Yellow);
        // Risks spread over 0..1: RED only in the top share, and never below 0.6.
        for i in 0..1000 {
            book.observe("KCS", "", f64::from(i) / 1000.0, false);
        }
        let red = (0..1000)
            .filter(|i| {
                book.cap_rules_lane(&policy, f64::from(*i) / 1000.0, false, 0.5) == Lane::Red
            })
            .count();
        assert!(
            red <= (policy.red_share * 1000.0).ceil() as usize + 1,
            "{red} RED"
        );
        assert_ne!(book.cap_rules_lane(&policy, 0.65, false, 0.5), Lane::Red);
        assert_eq!(book.cap_rules_lane(&policy, 0.999, false, 0.5), Lane::Red);
        assert_eq!(
            book.cap_rules_lane(&policy, 0.1, true, 0.5),
            Lane::Red,
            "forced"
        );
        // Mostly nothing wrong (risks of 0): the rules' 0.6 still holds.
        let mut quiet = LaneBook::default();
        for _ in 0..1000 {
            quiet.observe("KCS", "", 0.0, false);
        }
        assert_eq!(quiet.cap_rules_lane(&policy, 0.2, false, 0.5), Lane::Green);
        assert_eq!(quiet.cap_rules_lane(&policy, 0.65, false, 0.5), Lane::Red);
        // Half the recent risks tie at the top (the rules' risk saturates): ties share the
        // RED room by their draws, about the policy's share of them.
        let mut tied = LaneBook::default();
        for i in 0..1000 {
            tied.observe("KCS", "", if i % 2 == 0 { 0.8 } else { 0.0 }, false);
        }
        let red = (0..1000)
            .filter(|i| {
                tied.cap_rules_lane(&policy, 0.8, false, f64::from(*i) / 1000.0) == Lane::Red
            })
            .count();
        assert!((90..=110).contains(&red), "{red} of 1000 tied risks RED");
    }

    #[test]
    fn the_rules_send_no_more_red_than_the_window_has_room_for() {
        let policy = default_policy("KCS", 0.0);
        // A window of 1,000 in which 50 (the 5 % share) went RED already: a burst of risks
        // at the top finds no room left.
        let mut spent = LaneBook::default();
        for i in 0..1000 {
            spent.observe("KCS", "", f64::from(i % 100) / 200.0, i < 50);
        }
        assert_eq!(spent.cap_rules_lane(&policy, 0.8, false, 0.0), Lane::Yellow);
        assert_eq!(
            spent.cap_rules_lane(&policy, 0.8, true, 0.5),
            Lane::Red,
            "forced"
        );
        // A burst observed as it is assessed: at most the share of the window goes RED.
        let mut book = LaneBook::default();
        for _ in 0..900 {
            book.observe("KCS", "", 0.0, false);
        }
        let mut red = 0;
        for i in 0..100 {
            let lane = book.cap_rules_lane(&policy, 0.8, false, f64::from(i) / 100.0);
            red += usize::from(lane == Lane::Red);
            book.observe("KCS", "", 0.8, lane == Lane::Red);
        }
        assert!(
            red <= 50,
            "{red} RED of a burst of 100 in a window of 1,000"
        );
        // The model's lanes ask the same question.
        assert!(!spent.room_left(&policy));
        assert!(
            LaneBook::default().room_left(&policy),
            "too few scores: no count yet"
        );
    }

    #[test]
    fn a_new_red_share_holds_for_what_arrives_from_when_it_is_set() {
        let mut policy = default_policy("KCS", 0.0);
        // A full window, 5 % of which went RED under the default share; then every new
        // declaration wants RED. Of the next 1,000, about the new share go RED, in a steady
        // trickle: no burst at the change, no drought until the old REDs leave.
        for share in [0.01, 0.20] {
            let mut book = LaneBook::default();
            for i in 0..RECENT {
                book.observe("KCS", "", 0.5, i % 20 == 0);
            }
            policy.red_share = share;
            book.set(policy.clone());
            let mut red = Vec::new();
            for _ in 0..1000 {
                let room = book.room_left(&policy);
                red.push(room);
                book.observe("KCS", "", 0.9, room);
            }
            let total = red.iter().filter(|r| **r).count() as f64;
            assert!((total - 1000.0 * share).abs() <= 2.0, "{share}: {total}");
            let first = red[..100].iter().filter(|r| **r).count() as f64;
            assert!(
                first <= 100.0 * share + 1.0,
                "{share}: {first} of the first 100"
            );
        }
        // The same share set again changes nothing.
        let mut book = LaneBook::default();
        for i in 0..1000 {
            book.observe("KCS", "", 0.5, i % 20 == 0);
        }
        policy.red_share = 0.05;
        book.set(policy.clone());
        assert!(!book.room_left(&policy));
    }

    #[test]
    fn an_undone_observation_leaves_the_book_as_it_was() {
        let mut book = LaneBook::default();
        for i in 0..RECENT {
            book.observe("KCS", "A", i as f64, false);
        }
        let before = book.recent.clone();
        let undos: Vec<LaneUndo> = (0..3)
            .map(|i| book.observe_undoable("KCS", if i == 0 { "A" } else { "B" }, -1.0, true))
            .collect();
        assert_ne!(book.recent, before);
        for undo in undos.into_iter().rev() {
            book.undo(undo);
        }
        assert_eq!(book.recent, before);
    }

    #[test]
    fn thresholds_give_the_shares_on_the_scores_seen() {
        let mut book = LaneBook::default();
        for i in 0..1000 {
            book.observe("KCS", "", f64::from(i) / 1000.0, false);
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

    #[test]
    fn draws_are_a_fixed_share_and_depend_on_the_deployment_s_key() {
        let draws = Draws::new([7; 32]);
        let picked = (0..10_000)
            .filter(|i| draws.draw("KCS", &format!("D{i}"), "random") < 0.02)
            .count();
        assert!((150..250).contains(&picked), "{picked}");
        assert_eq!(
            draws.draw("KCS", "D7", "random"),
            Draws::new([7; 32]).draw("KCS", "D7", "random")
        );
        let other = Draws::new([8; 32]);
        let same = (0..1000)
            .filter(|i| {
                let id = format!("D{i}");
                (draws.draw("KCS", &id, "random") < 0.5) == (other.draw("KCS", &id, "random") < 0.5)
            })
            .count();
        assert!(
            (400..600).contains(&same),
            "another key, other picks: {same}"
        );
        assert_ne!(
            draws.draw("KCS", "D7", "random"),
            draws.draw("KCS", "D7", "explore")
        );
        assert_ne!(
            draws.draw("K", "CSD7", "random"),
            draws.draw("KC", "SD7", "random")
        );
    }
}
