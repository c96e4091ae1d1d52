//! What scoring checks of a request before acting on it, in the request's own field paths:
//! the declaration of an assessment (the rules liaison applies, [`acx_domain::customs`]) and
//! the description of a party to check against the accounts.

use acx_domain::{customs, hashing::NormalizedSet, identifiers::Normalization, parties};
use acx_proto::scoring::{CheckEntityRequest, DeclaredShipment, RecordOutcomeRequest};
use acx_runtime::FieldViolation;

/// Most matches a CheckEntity call may ask for, and how many it gets when it asks for none.
const MAX_MATCHES: i32 = 100;
const DEFAULT_MATCHES: usize = 10;

/// Checks a declaration with the rules liaison applies ([`acx_domain::customs`]) and puts
/// its codes in canonical form; violations under `shipment`.
pub(crate) fn validate_shipment(shipment: &mut DeclaredShipment) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    if shipment.authority.trim().is_empty() || shipment.authority.chars().count() > 128 {
        violations.push(FieldViolation::new(
            "shipment.authority",
            "is required, at most 128 characters",
        ));
    }
    // The time of recording when unset.
    let fields = acx_domain::declaration_fields!(&mut *shipment, time_required: false);
    let now_seconds = acx_runtime::time::now_micros().div_euclid(1_000_000);
    violations.extend(
        customs::check(fields, now_seconds)
            .into_iter()
            .map(|(field, why)| FieldViolation::new(format!("shipment.{field}"), why)),
    );
    if let Some(why) = customs::oversize_problem(prost::Message::encoded_len(shipment)) {
        violations.push(FieldViolation::new("shipment", why));
    }
    violations
}

/// Checks an outcome's inspection time and extra duty with the rules liaison applies to an
/// inspection result (a customs event's time, [`customs::event_time_problem`]; money,
/// [`acx_domain::money::canonicalize`]) and puts the duty in canonical form.
pub(crate) fn outcome_problems(outcome: &mut RecordOutcomeRequest) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    let at = outcome.inspect_time.as_ref().map(|t| t.seconds);
    if let Some(time) = &outcome.inspect_time {
        let now_seconds = acx_runtime::time::now_micros().div_euclid(1_000_000);
        if let Err((sub, why)) = customs::event_time_problem(time.seconds, time.nanos, now_seconds)
        {
            violations.push(FieldViolation::new(format!("inspect_time{sub}"), why));
        }
    }
    if let Some(duty) = &mut outcome.extra_duty {
        for (sub, why) in acx_domain::money::canonicalize(duty, at) {
            violations.push(FieldViolation::new(format!("extra_duty.{sub}"), why));
        }
    }
    violations
}

/// A CheckEntity request, checked: its name, its identifiers normalised under the current
/// normalisation and every older one (profiles stored under those match too), and how many
/// matches to return.
pub(crate) struct EntityQuery {
    pub name: String,
    pub identifiers: NormalizedSet,
    /// Identifier values asked, as sent (one each, however many registers or forms it is
    /// asked in): what the quota of identifier checks counts.
    pub asked: u32,
    pub max_matches: usize,
}

/// Checks a CheckEntity request: `max_matches` (0 to 100, 0 for 10) and the description
/// ([`parties::check_description`]).
pub(crate) fn entity_query(
    request: CheckEntityRequest,
) -> Result<EntityQuery, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    if !(0..=MAX_MATCHES).contains(&request.max_matches) {
        violations.push(FieldViolation::new(
            "max_matches",
            "must be between 1 and 100 (0 for 10)",
        ));
    }
    // Every older version too: matching profiles stored under it costs a few hashes.
    let legacy: Vec<Normalization> = Normalization::CURRENT.older().collect();
    let identifiers = request.identifiers.unwrap_or_default();
    let asked = acx_domain::hashing::by_kind(&identifiers)
        .iter()
        .map(|(_, _, values)| values.len() as u32)
        .sum();
    let (set, problems) =
        parties::check_description(&request.name, &request.country, &identifiers, &legacy);
    violations.extend(
        problems
            .into_iter()
            .map(|(field, why)| FieldViolation::new(field, why)),
    );
    if !violations.is_empty() {
        return Err(violations);
    }
    Ok(EntityQuery {
        name: request.name,
        identifiers: set,
        asked,
        max_matches: match request.max_matches {
            0 => DEFAULT_MATCHES,
            n => n as usize,
        },
    })
}
