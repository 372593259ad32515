//! The tenant's background jobs, for admins: above all the dead ones, whose tries are spent
//! (an SMS the gateway would not take), with the error of their last try.

use actix_web::{get, web};
use baoxiu_jobs::{JobRecord, JobStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::AdminCaller;
use crate::problem::ApiError;
use crate::query::ApiQuery;
use crate::routes::shared::{PageQuery, PageResponse, utc};
use crate::state::AppState;

/// Where a job stands. Jobs that are done are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatusValue {
    /// Waiting for its time (first run, or a retry after a failure), or running.
    Queued,
    /// Its tries are spent, or it failed in a way retrying cannot mend: never run again.
    Dead,
}

impl From<JobStatusValue> for JobStatus {
    fn from(status: JobStatusValue) -> Self {
        match status {
            JobStatusValue::Queued => Self::Queued,
            JobStatusValue::Dead => Self::Dead,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobResponse {
    pub id: String,
    /// What it does: `sms.deliver` sends one SMS (a login code).
    #[schema(example = "sms.deliver")]
    pub kind: String,
    pub status: JobStatusValue,
    /// Runs so far, one in progress included.
    pub attempts: i32,
    /// Queued: when it runs (next). Dead: when it was last due.
    pub run_at: DateTime<Utc>,
    /// Set while a worker runs it: the end of that worker's lease.
    pub running_until: Option<DateTime<Utc>>,
    /// Why the last run failed; `null` when none has.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<JobRecord> for JobResponse {
    fn from(job: JobRecord) -> Self {
        Self {
            id: job.id,
            kind: job.kind,
            status: if job.status == JobStatus::Dead.as_str() {
                JobStatusValue::Dead
            } else {
                JobStatusValue::Queued
            },
            attempts: job.attempts,
            run_at: utc(job.run_at),
            running_until: job.locked_until.map(utc),
            last_error: job.last_error,
            created_at: utc(job.created_at),
            updated_at: utc(job.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// Only the jobs of this status (all of them when absent).
    #[param(inline)]
    pub status: Option<JobStatusValue>,
}

/// List the tenant's background jobs.
///
/// The jobs run for this tenant that are not done yet, oldest first: `?status=dead` lists
/// those that will not run again, with the error of their last try.
#[utoipa::path(
    tag = "jobs",
    operation_id = "list_jobs",
    params(JobsQuery, PageQuery),
    responses((status = 200, description = "One page of jobs", body = PageResponse<JobResponse>)),
)]
#[get("/admin/jobs")]
pub async fn list_jobs(
    state: web::Data<AppState>,
    admin: AdminCaller,
    query: ApiQuery<JobsQuery>,
    page: ApiQuery<PageQuery>,
) -> Result<web::Json<PageResponse<JobResponse>>, ApiError> {
    let request = page.request()?;
    let status = query.status.map(JobStatus::from);
    let tenant_id = admin.0.tenant_id().clone();
    let page = state
        .read(&admin, move |tx| {
            baoxiu_jobs::list(tx.conn, tenant_id.as_str(), status, &request)
        })
        .await?;
    Ok(web::Json(PageResponse::from_page(page, JobResponse::from)))
}
