//! Deleting a party record by code: one handler for social organisations, 双报到 units and
//! volunteer projects (organisations are dissolved and registrations ended by their own
//! routes).

use super::{check_reach, owned_place};
use crate::http::accounts::actor;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Named;
use crate::store::party::Owned;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;

/// A party record deleted by code through one handler.
#[derive(Debug, Clone, Copy)]
enum Record {
    /// A social organisation.
    Association,
    /// A 双报到 unit.
    Unit,
    /// A volunteer project.
    Project,
}

impl Record {
    fn owned(self) -> Owned {
        match self {
            Record::Association => Owned::Association,
            Record::Unit => Owned::Unit,
            Record::Project => Owned::Project,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Record::Association => "social organisation",
            Record::Unit => "双报到 unit",
            Record::Project => "volunteer project",
        }
    }
}

/// A handler of `DELETE` of one kind of record, as the route table takes it.
pub type Deleter = fn(Named) -> BoxFuture<'static, ApiResult<Response>>;

/// `DELETE /api/party/associations/{code}`.
pub const DELETE_ASSOCIATION: Deleter = |n| Box::pin(delete_record(Record::Association, n));
/// `DELETE /api/party/units/{code}`.
pub const DELETE_UNIT: Deleter = |n| Box::pin(delete_record(Record::Unit, n));
/// `DELETE /api/party/projects/{code}`.
pub const DELETE_PROJECT: Deleter = |n| Box::pin(delete_record(Record::Project, n));

/// Deletes a record of `r` by code: the record must exist (404) and be within the
/// caller's reach (403); it is deleted with its audit entry; 204.
async fn delete_record(r: Record, Named(st, caller, code): Named) -> ApiResult<Response> {
    let place = owned_place(&st, r.owned(), &code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{} {code} not found", r.noun())))?;
    check_reach(&caller, &[Some(place)])?;
    let (store, actor) = (&st.store, actor(&caller));
    match r {
        Record::Association => store.delete_association(&code, &actor).await?,
        Record::Unit => store.delete_dual_unit(&code, &actor).await?,
        Record::Project => store.delete_project(&code, &actor).await?,
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
