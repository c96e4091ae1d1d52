//! SearchShipments: an authority's shipments matching filters, by risk or by declaration
//! time, in keyset pages.
//!
//! A search is the answer as it stood at its first page. The page token keeps two bounds
//! taken then: the newest declaration stored (later ones are left out) and the number of
//! the authority's newest assessment (arrivals and re-assessments are numbered in one
//! order). A shipment assessed after the first page is placed and filtered as what it was
//! then: pending (by risk it comes among the pending shipments, last, newest first, and a
//! lane or minimum-risk filter leaves it out), or, when it was re-assessed, with the risk and
//! lane of its assessment then, read from its assessment history (found by a tester: paging
//! by risk while outcomes re-assessed shipments repeated some and dropped others). So every
//! shipment that matched at the first page comes exactly once, in order, whatever is
//! assessed, re-assessed or arrives while the pages are read; each shows its current state.
//! (On PostgreSQL a declaration still being stored while the first page is read may come or
//! not, never twice.) A search whose shipments changed by more than [`MAX_CHANGED`] since its
//! first page is refused; it starts again from the first page. A page is read in several
//! queries, not one snapshot: when shipments it covers were assessed while it was read, it is
//! read again (at most [`MAX_ATTEMPTS`] times, then UNAVAILABLE with reason CHANGING).
//!
//! By risk, assessed shipments come first (highest risk first, newest first among equal
//! risks), read through the risk indexes; then the pending ones, newest first: those still
//! pending and those assessed since the first page, read apart and merged.

use acx_proto::{
    liaison::{AssessmentState, SearchShipmentsRequest, SearchShipmentsResponse, ShipmentOrder},
    scoring::Lane,
};
use acx_runtime::{
    Database, FieldViolation, Principal,
    paging::{self, Page, PageTokens, Scope},
};

use crate::{
    Error,
    shipments::to_shipment,
    store::{self, Arg, SearchRow},
};

/// The RPC page tokens are bound to.
const RPC: &str = "acx.liaison.v1.LiaisonService/SearchShipments";
/// Shipments read by a page's first query (later ones are sized by the bytes left): a
/// declaration of 999 lines with its assessment is about 600 kB, and a page stops at about
/// 1 MiB, so reading a whole page of them at once would hold hundreds of megabytes for a few.
const FIRST_CHUNK: usize = 32;
/// The sort key of pending shipments by risk: below every risk (risks are 0 to 1).
const PENDING: i64 = -1;
/// Most shipments matching a search that may have been assessed or re-assessed since its
/// first page: each later page reads them all, to place them as they stood then.
const MAX_CHANGED: usize = 10_000;
/// Most reads of one page while shipments it covers are being re-assessed.
const MAX_ATTEMPTS: usize = 5;

/// A shipment's place in a search: its sort key (by risk: the risk's IEEE bits, which sort
/// as the risks do, or [`PENDING`]; by time: the declaration time in µs) and its `seq`.
type Place = (i64, i64);
/// What a token holds: the newest declaration and the authority's newest assessment at the
/// first page, then the place of the last shipment shown.
type Cursor = (i64, i64, i64, i64);

/// One page of `principal`'s shipments matching `request`.
pub async fn search(
    database: &Database,
    tokens: &PageTokens,
    principal: &Principal,
    request: &SearchShipmentsRequest,
) -> Result<SearchShipmentsResponse, Error> {
    let (request, size) = canonical(request)?;
    let request = &request;
    let filters = SearchShipmentsRequest {
        page_size: 0,
        page_token: String::new(),
        ..request.clone()
    };
    let scope = Scope::new(RPC, principal, &filters);
    let cursor: Option<Cursor> = tokens
        .open(&scope, &request.page_token)
        .map_err(|violation| Error::Invalid(vec![violation]))?;
    let (declared, assessed) = match cursor {
        Some((declared, assessed, _, _)) => (declared, assessed),
        None => store::search_snapshot(database, &principal.id).await?,
    };
    let query = Query::new(&principal.id, request, declared, assessed);
    let by_time = request.order_by() == ShipmentOrder::DeclarationTime;
    // Usually none (on a first page, only what was assessed while it is read).
    let mut changed = query.changed(database).await?;
    let mut attempts = 1;
    let (shipments, next) = loop {
        let mut page = Page::new(size, cursor.map(|(_, _, key, seq)| (key, seq)));
        while let Some(count) = page.wanted(FIRST_CHUNK) {
            let rows = if by_time {
                query
                    .by_time(database, &changed, page.after(), count)
                    .await?
            } else {
                query
                    .by_risk(database, &changed, page.after(), count)
                    .await?
            };
            let shipments = rows
                .into_iter()
                .map(|(place, row)| Ok((to_shipment(row)?, place)))
                .collect::<Result<Vec<_>, Error>>()?;
            page.take(shipments, count);
        }
        // A shipment assessed after `changed` was read and before a query of the page ran
        // is in neither: read the page again with it (found by a tester: paging by risk
        // while outcomes re-assessed shipments dropped a few of them). Shipments only ever
        // join `changed`, so the same number means the same shipments.
        let now = query.changed_since().count(database).await?;
        if usize::try_from(now).is_ok_and(|now| now == changed.len()) {
            break page.finish();
        }
        if attempts == MAX_ATTEMPTS {
            return Err(Error::Busy(format!(
                "the shipments searched were re-assessed while each of {MAX_ATTEMPTS} reads of this page ran; retry"
            )));
        }
        attempts += 1;
        changed = query.changed(database).await?;
    };
    let next_page_token = next.map_or_else(String::new, |(key, seq)| {
        tokens.issue(&scope, &(declared, assessed, key, seq))
    });
    Ok(SearchShipmentsResponse {
        shipments,
        next_page_token,
    })
}

/// The request with its filters in the form declarations are stored in (ids trimmed, the
/// seller's platform id as registered, an HS prefix without the dots, spaces and hyphens
/// of printed tariffs) and its page size, or every violation of the request: an unknown
/// enum value or a time range that ends before it starts is refused, not searched.
fn canonical(request: &SearchShipmentsRequest) -> Result<(SearchShipmentsRequest, usize), Error> {
    let mut request = request.clone();
    let mut violations = Vec::new();
    let size = paging::page_size(request.page_size).unwrap_or_else(|violation| {
        violations.push(violation);
        1
    });
    if !(0.0..=1.0).contains(&request.min_risk) {
        violations.push(FieldViolation::new("min_risk", "must be between 0 and 1"));
    }
    // Ids as declarations store them: trimmed, with no invisible characters (found by a
    // tester: an importer id with a NUL searched for nothing instead of being refused).
    for (field, id) in [
        ("customs_office", &mut request.customs_office),
        ("importer_id", &mut request.importer_id),
    ] {
        if let Err(why) = acx_domain::customs::trim_id(id) {
            violations.push(FieldViolation::new(field, why));
        }
    }
    request
        .hs_code_prefix
        .retain(|c| !matches!(c, '.' | ' ' | '-'));
    if !request.hs_code_prefix.chars().all(|c| c.is_ascii_digit())
        || request.hs_code_prefix.len() > 10
    {
        violations.push(FieldViolation::new(
            "hs_code_prefix",
            "must be up to 10 digits (dots, spaces and hyphens are ignored)",
        ));
    }
    if let Some(seller) = &mut request.seller {
        if seller.platform.trim().is_empty() || seller.seller_id.trim().is_empty() {
            violations.push(FieldViolation::new(
                "seller",
                "needs both platform and seller_id",
            ));
        } else {
            violations.extend(acx_runtime::validate::seller_ref(Some(seller), "seller"));
        }
    }
    if Lane::try_from(request.lane).is_err() {
        violations.push(FieldViolation::new("lane", "is not a known lane"));
    }
    if AssessmentState::try_from(request.assessment_state).is_err() {
        violations.push(FieldViolation::new(
            "assessment_state",
            "is not a known assessment state",
        ));
    }
    match ShipmentOrder::try_from(request.order_by) {
        Err(_) => violations.push(FieldViolation::new("order_by", "is not a known order")),
        // Unset is by risk: one search, so one page token for both (found by a tester).
        Ok(ShipmentOrder::Unspecified) => request.order_by = ShipmentOrder::Risk as i32,
        Ok(_) => {}
    }
    violations.extend(acx_runtime::validate::time_range(
        request.start_time.as_ref(),
        request.end_time.as_ref(),
    ));
    if violations.is_empty() {
        Ok((request, size))
    } else {
        Err(Error::Invalid(violations))
    }
}

/// SQL conditions, each with `?` placeholders and its arguments, numbered `$1, $2, ...`
/// when the query is built.
#[derive(Debug, Clone, Default)]
struct Conditions(Vec<(String, Vec<Arg>)>);

impl Conditions {
    /// Adds `condition`, whose `?`s take `args` in order.
    fn and(&mut self, condition: impl Into<String>, args: impl IntoIterator<Item = Arg>) {
        self.0.push((condition.into(), args.into_iter().collect()));
    }

    /// These conditions and `condition`.
    fn with(&self, condition: impl Into<String>, args: impl IntoIterator<Item = Arg>) -> Self {
        let mut more = self.clone();
        more.and(condition, args);
        more
    }

    /// These conditions and `other`'s.
    fn join(&self, other: &Conditions) -> Self {
        let mut all = self.clone();
        all.0.extend(other.0.iter().cloned());
        all
    }

    /// The conditions with `$n` placeholders, and their arguments in order.
    fn numbered(&self) -> (Vec<String>, Vec<Arg>) {
        let mut conditions = Vec::with_capacity(self.0.len());
        let mut args = Vec::new();
        for (condition, values) in &self.0 {
            let mut text = String::new();
            for (index, part) in condition.split('?').enumerate() {
                if index > 0 {
                    text.push_str(&format!("${}", args.len() + 1));
                    args.push(values[index - 1].clone());
                }
                text.push_str(part);
            }
            conditions.push(text);
        }
        (conditions, args)
    }

    /// The matching rows in `order`, at most `limit`.
    async fn rows(
        &self,
        database: &Database,
        order: &str,
        limit: usize,
    ) -> Result<Vec<SearchRow>, sqlx::Error> {
        let (conditions, args) = self.numbered();
        store::search(database, &conditions, &args, order, limit).await
    }

    /// How many rows match.
    async fn count(&self, database: &Database) -> Result<i64, sqlx::Error> {
        let (conditions, args) = self.numbered();
        store::search_count(database, &conditions, &args).await
    }
}

/// A shipment matching a search's declared filters that was assessed or re-assessed since
/// its first page, with the risk and lane it had then (None: pending then).
#[derive(Debug)]
struct Changed {
    then: Option<(f64, i32)>,
    time_us: i64,
    seq: i64,
    row: store::DeclarationRow,
}

/// Sorts `rows` by their places, highest first, and keeps the first `count`.
fn highest_first(
    mut rows: Vec<(Place, store::DeclarationRow)>,
    count: usize,
) -> Vec<(Place, store::DeclarationRow)> {
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    rows.truncate(count);
    rows
}

/// A search's conditions as at its first page.
#[derive(Debug)]
struct Query {
    /// The searching authority.
    authority: String,
    /// The lane and minimum risk asked for.
    lane: i32,
    min_risk: f64,
    /// What every shipment listed matches: the authority, the filters on what was declared,
    /// and arrival up to the first page.
    declared: Conditions,
    /// Shipments assessed by the first page, matching the lane and risk filters.
    assessed: Option<Conditions>,
    /// Whether shipments pending at the first page can match.
    pending: bool,
    /// The authority's newest assessment at the first page.
    assessed_up_to: i64,
}

/// Risk as SQL sees it (pending: -1), as the risk indexes hold it.
const RISK: &str = "COALESCE(d.risk, -1.0)";

impl Query {
    fn new(
        authority: &str,
        request: &SearchShipmentsRequest,
        declared_up_to: i64,
        assessed_up_to: i64,
    ) -> Self {
        let mut declared = Conditions::default();
        declared.and("d.authority = ?", [Arg::Text(authority.to_owned())]);
        declared.and("d.seq <= ?", [Arg::Int(declared_up_to)]);
        if !request.customs_office.is_empty() {
            declared.and(
                "customs_office = ?",
                [Arg::Text(request.customs_office.clone())],
            );
        }
        // Declaration times are stored to the microsecond; so are the bounds (found by a
        // tester: fractions of a second were dropped, so 10:00:00.3 fell outside an end of
        // 10:00:00.5 and inside a start of 10:00:00.7).
        let micros = |t: &prost_types::Timestamp| {
            t.seconds
                .saturating_mul(1_000_000)
                .saturating_add(i64::from(t.nanos / 1_000))
        };
        if let Some(start) = &request.start_time {
            declared.and("declaration_time_us >= ?", [Arg::Int(micros(start))]);
        }
        if let Some(end) = &request.end_time {
            declared.and("declaration_time_us < ?", [Arg::Int(micros(end))]);
        }
        if !request.importer_id.is_empty() {
            declared.and("importer_id = ?", [Arg::Text(request.importer_id.clone())]);
        }
        if let Some(seller) = &request.seller {
            declared.and(
                "seller_platform = ? AND seller_id = ?",
                [
                    Arg::Text(seller.platform.clone()),
                    Arg::Text(seller.seller_id.clone()),
                ],
            );
        }
        if !request.hs_code_prefix.is_empty() {
            declared.and(
                "hs_codes LIKE ?",
                [Arg::Text(format!("% {}%", request.hs_code_prefix))],
            );
        }
        let state = AssessmentState::try_from(request.assessment_state).ok();
        let mut assessed = (state != Some(AssessmentState::Pending)).then(Conditions::default);
        if let Some(assessed) = &mut assessed {
            assessed.and("d.assessed_seq <= ?", [Arg::Int(assessed_up_to)]);
            if request.lane != 0 {
                assessed.and("d.lane = ?", [Arg::Int(i64::from(request.lane))]);
            }
            if request.min_risk > 0.0 {
                assessed.and("d.risk >= ?", [Arg::Real(request.min_risk)]);
            }
        }
        let pending = state != Some(AssessmentState::Assessed)
            && request.lane == 0
            && request.min_risk <= 0.0;
        Self {
            authority: authority.to_owned(),
            lane: request.lane,
            min_risk: request.min_risk,
            declared,
            assessed,
            pending,
            assessed_up_to,
        }
    }

    /// The shipments matching the declared filters assessed or re-assessed since the first
    /// page: the conditions.
    fn changed_since(&self) -> Conditions {
        self.declared
            .with("d.assessed_seq > ?", [Arg::Int(self.assessed_up_to)])
    }

    /// The shipments matching the declared filters assessed or re-assessed since the first
    /// page, each with what it was then.
    async fn changed(&self, database: &Database) -> Result<Vec<Changed>, Error> {
        let rows = self
            .changed_since()
            .rows(database, "d.seq DESC", MAX_CHANGED + 1)
            .await?;
        if rows.len() > MAX_CHANGED {
            return Err(Error::Invalid(vec![FieldViolation::new(
                "page_token",
                format!(
                    "more than {MAX_CHANGED} of the shipments searched were assessed since the first page; start again from the first page"
                ),
            )]));
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.row.declaration_id.as_str()).collect();
        let then =
            store::assessed_as_of(database, &self.authority, &ids, self.assessed_up_to).await?;
        Ok(rows
            .into_iter()
            .map(|found| Changed {
                then: then.get(&found.row.declaration_id).copied(),
                time_us: found.declaration_time_us,
                seq: found.seq,
                row: found.row,
            })
            .collect())
    }

    /// Whether a shipment assessed as `(risk, lane)` at the first page matched the filters
    /// on assessments.
    fn matched_assessed(&self, (risk, lane): (f64, i32)) -> bool {
        self.assessed.is_some()
            && (self.lane == 0 || self.lane == lane)
            && (self.min_risk <= 0.0 || risk >= self.min_risk)
    }

    /// Up to `count` shipments after `after`, newest declaration first; `changed` as
    /// [`Query::changed`] gives them.
    async fn by_time(
        &self,
        database: &Database,
        changed: &[Changed],
        after: Option<Place>,
        count: usize,
    ) -> Result<Vec<(Place, store::DeclarationRow)>, Error> {
        // Those changed since the first page that matched then (by what they were then).
        let matched_then = |c: &Changed| match c.then {
            Some(then) => self.matched_assessed(then),
            None => self.pending,
        };
        let mut conditions = match (&self.assessed, self.pending) {
            (Some(assessed), false) => self.declared.join(assessed),
            (None, true) => self.declared.with("d.assessed_seq IS NULL", []),
            (None, false) => return Ok(Vec::new()),
            // Both states match: lane and risk filters would have ruled pending ones out.
            (Some(_), true) => self.declared.clone(),
        };
        let all_states = self.assessed.is_some() && self.pending;
        if let Some((time, seq)) = after {
            conditions.and(
                "(d.declaration_time_us < ? OR (d.declaration_time_us = ? AND d.seq < ?))",
                [Arg::Int(time), Arg::Int(time), Arg::Int(seq)],
            );
        }
        let rows = conditions
            .rows(database, "d.declaration_time_us DESC, d.seq DESC", count)
            .await?;
        let mut found: Vec<(Place, store::DeclarationRow)> = rows
            .into_iter()
            .map(|found| ((found.declaration_time_us, found.seq), found.row))
            .collect();
        if !all_states {
            found.extend(
                changed
                    .iter()
                    .filter(|c| matched_then(c))
                    .map(|c| ((c.time_us, c.seq), c.row.clone()))
                    .filter(|(place, _)| after.is_none_or(|after| *place < after)),
            );
        }
        Ok(highest_first(found, count))
    }

    /// Up to `count` shipments after `after`, highest risk first, pending ones last;
    /// `changed` as [`Query::changed`] gives them.
    async fn by_risk(
        &self,
        database: &Database,
        changed: &[Changed],
        after: Option<Place>,
        count: usize,
    ) -> Result<Vec<(Place, store::DeclarationRow)>, Error> {
        let mut found = Vec::new();
        let mut pending_after = None;
        match after {
            Some((PENDING, seq)) => pending_after = Some(seq),
            after => {
                if let Some(assessed) = &self.assessed {
                    let mut conditions = self
                        .declared
                        .join(assessed)
                        .with(format!("{RISK} >= 0.0"), []);
                    if let Some((key, seq)) = after {
                        let risk = f64::from_bits(key as u64);
                        conditions.and(
                            format!("({RISK} < ? OR ({RISK} = ? AND d.seq < ?))"),
                            [Arg::Real(risk), Arg::Real(risk), Arg::Int(seq)],
                        );
                    }
                    let rows = conditions
                        .rows(database, &format!("{RISK} DESC, d.seq DESC"), count)
                        .await?;
                    found.extend(rows.into_iter().map(|row| {
                        let risk = row.risk.unwrap_or(-1.0);
                        ((risk.to_bits() as i64, row.seq), row.row)
                    }));
                    // Re-assessed since the first page: placed by their risk then.
                    found.extend(
                        changed
                            .iter()
                            .filter_map(|c| c.then.map(|then| (then, c)))
                            .filter(|(then, _)| self.matched_assessed(*then))
                            .map(|((risk, _), c)| ((risk.to_bits() as i64, c.seq), c.row.clone()))
                            .filter(|(place, _)| after.is_none_or(|after| *place < after)),
                    );
                    found = highest_first(found, count);
                }
            }
        }
        if found.len() == count || !self.pending {
            return Ok(found);
        }
        // Pending at the first page: still pending (through the risk indexes, at -1) and
        // first assessed since, merged newest first.
        let wanted = count - found.len();
        let mut still = self.declared.with(format!("{RISK} = -1.0"), []);
        if let Some(seq) = pending_after {
            still.and("d.seq < ?", [Arg::Int(seq)]);
        }
        let mut pending: Vec<(Place, store::DeclarationRow)> = still
            .rows(database, "d.seq DESC", wanted)
            .await?
            .into_iter()
            .map(|row| ((PENDING, row.seq), row.row))
            .collect();
        pending.extend(
            changed
                .iter()
                .filter(|c| c.then.is_none() && pending_after.is_none_or(|seq| c.seq < seq))
                .map(|c| ((PENDING, c.seq), c.row.clone())),
        );
        found.extend(highest_first(pending, wanted));
        Ok(found)
    }
}
