//! Precision and recall of name linking on a labelled set of company-record pairs
//! (`tests/data/company-pairs.tsv`), per kind of variation, next to a simple library
//! baseline measured in the same run: fuzzy token-set similarity (`strsim`) after
//! transliteration (`any_ascii`, or `deunicode` for comparison) and legal-form removal, at
//! the threshold that suits the baseline best on this very set. The figures are in
//! `docs/names.md`; the test fails if the rule falls below them.
//!
//! Run with `cargo test -p acx-scoring --test names_eval -- --nocapture` to see the table.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use acx_scoring::names::{SIMILAR_NAMES, similarity};

/// What the rule reached when these figures were written down (docs/names.md): no false
/// link on this set, 183 of the 204 same-party pairs linked.
const PRECISION_FLOOR: f64 = 1.0;
const RECALL_FLOOR: f64 = 0.89;

struct Pair {
    kind: String,
    same: bool,
    a: String,
    b: String,
}

fn pairs() -> Vec<Pair> {
    include_str!("data/company-pairs.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("kind\t") && !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 4, "{line}");
            Pair {
                kind: f[0].to_owned(),
                same: f[1] == "1",
                a: f[2].to_owned(),
                b: f[3].to_owned(),
            }
        })
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
    tn: usize,
}

impl Counts {
    fn add(&mut self, truth: bool, said: bool) {
        match (truth, said) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }
    fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }
    fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// The baseline's view of a name: transliterated, lower-case words without legal forms.
fn baseline_words(name: &str, transliterate: fn(&str) -> String) -> Vec<String> {
    let text = transliterate(name).to_lowercase();
    let words: Vec<String> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let kept: Vec<String> = words
        .iter()
        .filter(|w| !acx_domain::names::is_legal_form(w))
        .cloned()
        .collect();
    if kept.is_empty() { words } else { kept }
}

/// fuzzywuzzy's token-set ratio with normalised Levenshtein similarity.
fn token_set_ratio(a: &[String], b: &[String]) -> f64 {
    use std::collections::BTreeSet;
    let (sa, sb): (BTreeSet<&String>, BTreeSet<&String>) = (a.iter().collect(), b.iter().collect());
    let join = |set: Vec<&&String>| set.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
    let common = join(sa.intersection(&sb).collect());
    let only_a = join(sa.difference(&sb).collect());
    let only_b = join(sb.difference(&sa).collect());
    let t1 = format!("{common} {only_a}").trim().to_owned();
    let t2 = format!("{common} {only_b}").trim().to_owned();
    let sim = strsim::normalized_levenshtein;
    let mut best = sim(&t1, &t2);
    if !common.is_empty() {
        best = best.max(sim(&common, &t1)).max(sim(&common, &t2));
    }
    best
}

fn any_ascii(s: &str) -> String {
    any_ascii::any_ascii(s)
}

fn deunicode(s: &str) -> String {
    deunicode::deunicode(s)
}

/// Per-kind counts of a decision function, and the total.
fn evaluate(
    pairs: &[Pair],
    mut decide: impl FnMut(&Pair) -> bool,
) -> (BTreeMap<String, Counts>, Counts) {
    let mut by_kind: BTreeMap<String, Counts> = BTreeMap::new();
    let mut total = Counts::default();
    for pair in pairs {
        let said = decide(pair);
        by_kind
            .entry(pair.kind.clone())
            .or_default()
            .add(pair.same, said);
        total.add(pair.same, said);
    }
    (by_kind, total)
}

/// The baseline at its best threshold on this set (by F1).
fn baseline(
    pairs: &[Pair],
    transliterate: fn(&str) -> String,
) -> (f64, BTreeMap<String, Counts>, Counts) {
    let scores: Vec<f64> = pairs
        .iter()
        .map(|p| {
            token_set_ratio(
                &baseline_words(&p.a, transliterate),
                &baseline_words(&p.b, transliterate),
            )
        })
        .collect();
    let mut best: Option<(f64, BTreeMap<String, Counts>, Counts)> = None;
    for step in 50..=100 {
        let threshold = step as f64 / 100.0;
        let mut i = 0;
        let (by_kind, total) = evaluate(pairs, |_| {
            i += 1;
            scores[i - 1] >= threshold
        });
        if best.as_ref().is_none_or(|b| total.f1() > b.2.f1()) {
            best = Some((threshold, by_kind, total));
        }
    }
    best.unwrap()
}

#[test]
fn name_linking_beats_the_baseline_and_keeps_its_figures() {
    let pairs = pairs();
    assert!(pairs.len() >= 300, "{}", pairs.len());
    let (rule_kinds, rule) = evaluate(&pairs, |p| similarity(&p.a, &p.b) >= SIMILAR_NAMES);
    let (t_any, base_kinds, base) = baseline(&pairs, any_ascii);
    let (t_deu, _, base_deu) = baseline(&pairs, deunicode);

    println!("kind          pairs  same | rule P / R (TP FP FN TN)     | baseline P / R");
    for (kind, counts) in &rule_kinds {
        let b = base_kinds[kind];
        let n = counts.tp + counts.fp + counts.fn_ + counts.tn;
        println!(
            "{kind:<13} {n:>5} {:>5} | {:.2} / {:.2} ({:>3} {:>3} {:>3} {:>3}) | {:.2} / {:.2} ({:>3} {:>3} {:>3} {:>3})",
            counts.tp + counts.fn_,
            counts.precision(),
            counts.recall(),
            counts.tp,
            counts.fp,
            counts.fn_,
            counts.tn,
            b.precision(),
            b.recall(),
            b.tp,
            b.fp,
            b.fn_,
            b.tn
        );
    }
    println!(
        "all           {:>5} {:>5} | {:.3} / {:.3} F1 {:.3}           | {:.3} / {:.3} F1 {:.3} (any_ascii, threshold {t_any:.2}); deunicode {:.3} / {:.3} F1 {:.3} (threshold {t_deu:.2})",
        pairs.len(),
        rule.tp + rule.fn_,
        rule.precision(),
        rule.recall(),
        rule.f1(),
        base.precision(),
        base.recall(),
        base.f1(),
        base_deu.precision(),
        base_deu.recall(),
        base_deu.f1(),
    );
    for pair in &pairs {
        let said = similarity(&pair.a, &pair.b) >= SIMILAR_NAMES;
        if said != pair.same {
            println!(
                "  {} {}: {:?} / {:?}",
                if said { "FP" } else { "FN" },
                pair.kind,
                pair.a,
                pair.b
            );
        }
    }

    assert!(
        rule.precision() >= PRECISION_FLOOR && rule.recall() >= RECALL_FLOOR,
        "precision {:.3} (floor {PRECISION_FLOOR}), recall {:.3} (floor {RECALL_FLOOR})",
        rule.precision(),
        rule.recall()
    );
    // Above the figures the issue measured (0.85 / 0.69 before, 0.87 / 0.78 for a library
    // baseline), and above this baseline on this set, in both.
    assert!(rule.precision() > 0.87 && rule.recall() > 0.78);
    assert!(rule.precision() > base.precision() && rule.recall() > base.recall());
}
