//! The API's request extractors: axum's `Path`, `Query` and `Json`, with every rejection
//! (a path segment that does not parse, a bad query string, a body that is not the JSON
//! asked for) answered in the API's error shape, `{"error": "bad_request", "message": ...}`
//! as `application/json`, instead of axum's plain text. Handlers take these, never axum's.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};

use super::error::ApiError;

/// `axum::extract::Path` with JSON rejections.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct Path<T>(pub T);

/// `axum::extract::Query` with JSON rejections.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct Query<T>(pub T);

/// A JSON request body (`axum::Json`) with JSON rejections; `Option<JsonBody<T>>` is
/// `None` when the request has no JSON body at all.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct JsonBody<T>(pub T);

impl<T, S> OptionalFromRequest<S> for JsonBody<T>
where
    axum::Json<T>: OptionalFromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        let body = <axum::Json<T> as OptionalFromRequest<S>>::from_request(req, state).await?;
        Ok(body.map(|axum::Json(v)| JsonBody(v)))
    }
}

fn rejected(status: axum::http::StatusCode, text: String) -> ApiError {
    ApiError::new(status, "bad_request", text)
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        rejected(r.status(), r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        rejected(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        rejected(r.status(), r.body_text())
    }
}
