//! What a caller sees of the evidence behind risks and listings: applied where responses
//! are built, never in the model, so every reader of the model keeps the full names.
//!
//! Evidence names are `reports/{platform}/{report_id}` (a platform's finding),
//! `outcomes/{authority}/{declaration_id}` and `declarations/{authority}/{declaration_id}`
//! (customs'). Sharing findings is the point of the exchange, but a platform shares them
//! through the exchange, not with the other platforms by name:
//!
//! - a platform sees its own reports by name, and every other piece of evidence as its
//!   kind and an opaque, stable reference: `evidence/report/{ref}`,
//!   `evidence/outcome/{ref}`, `evidence/declaration/{ref}`. The reference is the same in
//!   every answer (so a platform can tell two findings apart and follow one over time) and
//!   reveals neither the platform nor the report id: it is a keyed hash (HMAC-SHA256 under
//!   the exchange's oldest identifier key), which no one without the key can confirm a
//!   guess against. Blacklist change reasons are worded the same way;
//! - customs authorities, auditors and internal services (liaison asks for customs) see
//!   every name in full.

use acx_domain::identifiers::{IdentifierKey, IdentifierKeys};
use acx_proto::{
    common::{Reason, SellerAccountRef},
    scoring::{BlacklistChange, BlacklistEntry, EntityMatch, SellerRisk},
};
use acx_runtime::{Principal, Role};

/// Bytes of the keyed hash kept in a reference (96 bits: no collisions in practice).
const REFERENCE_BYTES: usize = 12;

/// Turns evidence names into what each caller may see.
#[derive(Debug, Clone)]
pub struct Disclosure {
    key: IdentifierKey,
}

impl Disclosure {
    /// References keyed with the oldest of `keys` (kept longest across rotations); without
    /// keys, with `fallback`, a secret every replica of the deployment shares (derived
    /// from its stored page-token key), so that replicas give the same references.
    pub fn new(keys: Option<&IdentifierKeys>, fallback: [u8; 32]) -> Self {
        let key = match keys.and_then(|keys| keys.all().last()) {
            Some(key) => key.clone(),
            None => {
                tracing::info!(
                    "no identifier keys: opaque evidence references keyed by the deployment's stored secret"
                );
                IdentifierKeys::parse(&format!("evidence {}\n", hex::encode(fallback)))
                    .expect("a 32-byte key parses")
                    .current()
                    .clone()
            }
        };
        Self { key }
    }

    /// The view of `principal`.
    pub fn viewer<'a>(&'a self, principal: &'a Principal) -> Viewer<'a> {
        match principal.role {
            Role::Platform => Viewer::Platform {
                own_prefix: format!("reports/{}/", principal.id),
                disclosure: self,
            },
            Role::Customs | Role::Auditor | Role::Service => Viewer::Full,
        }
    }

    fn reference(&self, name: &str) -> String {
        let kind = match name.split('/').next() {
            Some("reports") => "report",
            Some("outcomes") => "outcome",
            Some("declarations") => "declaration",
            Some("accounts") => "account",
            _ => "other",
        };
        let mut input = b"acx.evidence.v1\0".to_vec();
        input.extend_from_slice(name.as_bytes());
        let mac = self.key.mac(&input);
        format!("evidence/{kind}/{}", hex::encode(&mac[..REFERENCE_BYTES]))
    }
}

/// What one caller sees.
#[derive(Debug)]
pub enum Viewer<'a> {
    /// Every name in full.
    Full,
    /// Its own reports by name, the rest by opaque reference.
    Platform {
        /// `reports/{platform}/`.
        own_prefix: String,
        /// The keyed references.
        disclosure: &'a Disclosure,
    },
}

impl Viewer<'_> {
    /// `name` as this caller may see it.
    pub fn name(&self, name: &str) -> String {
        match self {
            Viewer::Platform {
                own_prefix,
                disclosure,
            } if !name.starts_with(own_prefix.as_str()) => disclosure.reference(name),
            _ => name.to_owned(),
        }
    }

    /// A piece of evidence as this caller may see it: a report's or outcome's name
    /// ([`Self::name`]), or a line of `LINKED_TO_BLACKLISTED`, where a platform sees its own
    /// accounts by name, another platform's as an opaque `evidence/account/{ref}`, and what
    /// the two share in words (`evidence/account/1f... and demo-marketplace/T-1: shared phone,
    /// with similar names`); the count of pairs left out is no evidence and stays as it is
    /// (found by a tester: a platform saw every line, that count too, as one opaque
    /// reference, which said neither what linked nor how).
    fn evidence(&self, line: &str) -> String {
        let Viewer::Platform {
            own_prefix,
            disclosure,
        } = self
        else {
            return line.to_owned();
        };
        if line.starts_with("and ") && line.ends_with(" more linked pairs in the cluster") {
            return line.to_owned();
        }
        let Some((pair, shared)) = line.rsplit_once(": shared ") else {
            return self.name(line);
        };
        let own_account = own_prefix.trim_start_matches("reports/");
        let account = |name: &str| {
            if name.starts_with(own_account) {
                name.to_owned()
            } else {
                disclosure.reference(&format!("accounts/{name}"))
            }
        };
        match pair.split(" and ").collect::<Vec<_>>().as_slice() {
            [a, b] => format!("{} and {}: shared {shared}", account(a), account(b)),
            // A seller id with " and " in it: the pair as one reference.
            _ => format!(
                "{}: shared {shared}",
                disclosure.reference(&format!("accounts/{pair}"))
            ),
        }
    }

    fn names(&self, names: &mut [String]) {
        if matches!(self, Viewer::Full) {
            return;
        }
        for name in names {
            *name = self.name(name);
        }
    }

    fn reasons(&self, reasons: &mut [Reason]) {
        if matches!(self, Viewer::Full) {
            return;
        }
        for reason in reasons {
            for line in &mut reason.evidence {
                *line = self.evidence(line);
            }
        }
    }

    /// A risk's reasons as this caller may see them.
    pub fn risk(&self, mut risk: SellerRisk) -> SellerRisk {
        self.reasons(&mut risk.reasons);
        risk
    }

    /// A blacklist entry as this caller may see it.
    pub fn entry(&self, mut entry: BlacklistEntry) -> BlacklistEntry {
        self.names(&mut entry.evidence);
        entry
    }

    /// An entity match as this caller may see it: a platform sees its own accounts by
    /// name and another platform's as `{platform: "", seller_id: "evidence/account/{ref}"}`,
    /// as in evidence lines (found by a security tester: a platform that never reported
    /// anything learned, from a phone number, the names of three accounts on two other
    /// platforms).
    pub fn entity_match(&self, mut found: EntityMatch) -> EntityMatch {
        found.risk = found.risk.map(|risk| {
            let mut risk = self.risk(risk);
            risk.seller = risk.seller.map(|seller| self.account(seller));
            risk
        });
        found.accounts = found
            .accounts
            .into_iter()
            .map(|account| self.account(account))
            .collect();
        found
    }

    /// A seller account as this caller may see it (see [`Self::entity_match`]).
    fn account(&self, account: SellerAccountRef) -> SellerAccountRef {
        match self {
            Viewer::Platform {
                own_prefix,
                disclosure,
            } if format!("reports/{}/", account.platform) != *own_prefix => SellerAccountRef {
                platform: String::new(),
                seller_id: disclosure.reference(&format!(
                    "accounts/{}/{}",
                    account.platform, account.seller_id
                )),
            },
            _ => account,
        }
    }

    /// A blacklist change, its reason worded for this caller.
    pub fn change(&self, mut change: BlacklistChange) -> BlacklistChange {
        if matches!(self, Viewer::Full) {
            return change;
        }
        if let Some(entry) = &change.entry {
            for name in &entry.evidence {
                change.reason = change.reason.replace(name, &self.name(name));
            }
        }
        change.reason = change
            .reason
            .split("; ")
            .map(|note| self.retraction_note(note))
            .collect::<Vec<_>>()
            .join("; ");
        change.entry = change.entry.map(|entry| self.entry(entry));
        change
    }

    /// `report {platform}/{report_id} retracted {retracted_id}: {why}`, with the names of
    /// another platform's reports replaced.
    fn retraction_note(&self, note: &str) -> String {
        let parsed = note.strip_prefix("report ").and_then(|rest| {
            let (retraction, rest) = rest.split_once(" retracted ")?;
            let (retracted, why) = rest.split_once(": ")?;
            let (platform, _) = retraction.split_once('/')?;
            Some((platform, retraction, retracted, why))
        });
        let Some((platform, retraction, retracted, why)) = parsed else {
            return note.to_owned();
        };
        let retraction = self.name(&format!("reports/{retraction}"));
        let retracted = self.name(&format!("reports/{platform}/{retracted}"));
        match (
            retraction.strip_prefix("reports/"),
            retracted.strip_prefix("reports/"),
        ) {
            (Some(own_retraction), Some(own_retracted)) => {
                let id = own_retracted.rsplit('/').next().unwrap_or(own_retracted);
                format!("report {own_retraction} retracted {id}: {why}")
            }
            _ => format!("{retraction} retracted {retracted}: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(text: &str) -> Principal {
        text.parse().expect("principal")
    }

    #[test]
    fn a_platform_sees_its_own_reports_by_name_and_the_rest_by_stable_reference() {
        let disclosure = Disclosure::new(None, [7; 32]);
        let a = principal("platform:platform-a");
        let b = principal("platform:platform-b");
        let own = disclosure.viewer(&a).name("reports/platform-a/F-100");
        assert_eq!(own, "reports/platform-a/F-100");
        let seen_by_b = disclosure.viewer(&b).name("reports/platform-a/F-100");
        assert!(seen_by_b.starts_with("evidence/report/"), "{seen_by_b}");
        assert!(!seen_by_b.contains("platform-a") && !seen_by_b.contains("F-100"));
        assert_eq!(
            seen_by_b,
            disclosure.viewer(&b).name("reports/platform-a/F-100"),
            "stable"
        );
        assert_ne!(
            seen_by_b,
            disclosure.viewer(&b).name("reports/platform-a/F-101")
        );
        let outcome = disclosure.viewer(&a).name("outcomes/us-cbp/D-1");
        assert!(outcome.starts_with("evidence/outcome/"), "{outcome}");
        let customs = principal("customs:us-cbp");
        assert_eq!(
            disclosure.viewer(&customs).name("reports/platform-a/F-100"),
            "reports/platform-a/F-100"
        );
    }

    #[test]
    fn link_lines_name_own_accounts_hide_others_and_keep_what_is_shared() {
        let disclosure = Disclosure::new(None, [7; 32]);
        let b = principal("platform:platform-b");
        let viewer = disclosure.viewer(&b);
        let line =
            viewer.evidence("platform-a/S-1 and platform-b/T-1: shared phone, with similar names");
        assert!(line.starts_with("evidence/account/"), "{line}");
        assert!(
            line.ends_with(" and platform-b/T-1: shared phone, with similar names"),
            "{line}"
        );
        assert!(
            !line.contains("platform-a") && !line.contains("S-1"),
            "{line}"
        );
        let more = "and 7 more linked pairs in the cluster";
        assert_eq!(viewer.evidence(more), more);
        let customs = principal("customs:us-cbp");
        let full = "platform-a/S-1 and platform-b/T-1: shared bank account";
        assert_eq!(disclosure.viewer(&customs).evidence(full), full);
    }

    #[test]
    fn an_entity_match_names_the_callers_accounts_and_hides_other_platforms() {
        let disclosure = Disclosure::new(None, [7; 32]);
        let account = |platform: &str, seller_id: &str| SellerAccountRef {
            platform: platform.to_owned(),
            seller_id: seller_id.to_owned(),
        };
        let found = EntityMatch {
            accounts: vec![account("platform-a", "S-1"), account("platform-b", "T-1")],
            risk: Some(SellerRisk {
                seller: Some(account("platform-a", "S-1")),
                ..Default::default()
            }),
            ..Default::default()
        };
        let seen = disclosure
            .viewer(&principal("platform:platform-b"))
            .entity_match(found.clone());
        assert_eq!(seen.accounts[1], account("platform-b", "T-1"));
        let hidden = &seen.accounts[0];
        assert!(hidden.platform.is_empty(), "{hidden:?}");
        assert!(
            hidden.seller_id.starts_with("evidence/account/"),
            "{hidden:?}"
        );
        assert_eq!(
            seen.risk.expect("a risk").seller.as_ref(),
            Some(hidden),
            "the same reference"
        );
        let customs = disclosure
            .viewer(&principal("customs:us-cbp"))
            .entity_match(found.clone());
        assert_eq!(customs, found);
    }

    #[test]
    fn change_reasons_are_worded_for_the_caller() {
        let disclosure = Disclosure::new(None, [7; 32]);
        let change = BlacklistChange {
            reason: "report platform-a/R-7 retracted F-100: appeal upheld".to_owned(),
            entry: Some(BlacklistEntry {
                evidence: vec!["reports/platform-a/F-100".to_owned()],
                ..Default::default()
            }),
            ..Default::default()
        };
        let b = principal("platform:platform-b");
        let for_b = disclosure.viewer(&b).change(change.clone());
        assert!(!for_b.reason.contains("platform-a"), "{}", for_b.reason);
        assert!(
            for_b.reason.ends_with(": appeal upheld"),
            "{}",
            for_b.reason
        );
        let a = principal("platform:platform-a");
        let for_a = disclosure.viewer(&a).change(change.clone());
        assert_eq!(for_a.reason, change.reason);
    }
}
