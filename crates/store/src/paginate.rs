//! The keyset paginator every list goes through (lemmy's `diesel_utils` pagination is the
//! model): the list's `Keyset` names its direction, the query is ordered by `(key, id)` that
//! way, starts after the cursor's row and fetches one row more than the page, so that
//! `PageRequest::finish` knows whether a next page exists. No OFFSET: a page costs the same
//! however deep it is, and rows added meanwhile neither repeat nor vanish.

use baoxiu_core::{Direction, DomainResult, Keyset, PageRequest};
use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::query_dsl::methods::{FilterDsl, LimitDsl, OrderDsl};
use diesel::sql_types::{Bool, Text, Timestamp};

type After<K, I> =
    dsl::Or<dsl::Gt<K, NaiveDateTime>, dsl::And<dsl::Eq<K, NaiveDateTime>, dsl::Gt<I, String>>>;
type Before<K, I> =
    dsl::Or<dsl::Lt<K, NaiveDateTime>, dsl::And<dsl::Eq<K, NaiveDateTime>, dsl::Lt<I, String>>>;

/// Orders `query` by `(key, id)` in `keyset`'s direction, starts it after `page`'s cursor
/// (refused with 422 on `cursor` unless this list gave it out) and limits it to one row
/// more than the page. Finish with `page.finish(keyset, rows, |row| (row.key, row.id))`.
pub fn paginate<Q, K, I>(
    query: Q,
    key: K,
    id: I,
    keyset: &Keyset,
    page: &PageRequest,
) -> DomainResult<Q>
where
    K: Expression<SqlType = Timestamp> + ExpressionMethods + Copy,
    I: Expression<SqlType = Text> + ExpressionMethods + Copy,
    NaiveDateTime: AsExpression<Timestamp>,
    Q: FilterDsl<After<K, I>, Output = Q>
        + FilterDsl<Before<K, I>, Output = Q>
        + OrderDsl<(dsl::Asc<K>, dsl::Asc<I>), Output = Q>
        + OrderDsl<(dsl::Desc<K>, dsl::Desc<I>), Output = Q>
        + LimitDsl<Output = Q>,
    dsl::Gt<K, NaiveDateTime>: Expression<SqlType = Bool>,
    dsl::Lt<K, NaiveDateTime>: Expression<SqlType = Bool>,
    dsl::Eq<K, NaiveDateTime>: Expression<SqlType = Bool>,
    dsl::Gt<I, String>: Expression<SqlType = Bool>,
    dsl::Lt<I, String>: Expression<SqlType = Bool>,
    dsl::And<dsl::Eq<K, NaiveDateTime>, dsl::Gt<I, String>>: Expression<SqlType = Bool>,
    dsl::And<dsl::Eq<K, NaiveDateTime>, dsl::Lt<I, String>>: Expression<SqlType = Bool>,
{
    let after = page.after(keyset)?;
    let query = match (keyset.direction, after) {
        (Direction::OldestFirst, None) => OrderDsl::order(query, (key.asc(), id.asc())),
        (Direction::NewestFirst, None) => OrderDsl::order(query, (key.desc(), id.desc())),
        (Direction::OldestFirst, Some(after)) => OrderDsl::order(
            FilterDsl::filter(
                query,
                key.gt(after.key).or(key.eq(after.key).and(id.gt(after.id))),
            ),
            (key.asc(), id.asc()),
        ),
        (Direction::NewestFirst, Some(after)) => OrderDsl::order(
            FilterDsl::filter(
                query,
                key.lt(after.key).or(key.eq(after.key).and(id.lt(after.id))),
            ),
            (key.desc(), id.desc()),
        ),
    };
    Ok(LimitDsl::limit(query, page.fetch_limit()))
}
