//! The JSON bodies every endpoint the exporter answers itself uses: `{"status":"success","data":...}`
//! and `{"status":"error","error":"..."}` (`docs/api.md`). A leaf module, so that the server, the
//! web middleware and the anomaly feed share them without depending on each other.

use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A JSON error body: `{"status":"error","error":"..."}`.
pub fn json_error(status: StatusCode, message: String) -> Response {
    let body = serde_json::json!({ "status": "error", "error": message });
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `{"status":"success","data":...}`, with `data`'s fields in their declared order.
#[derive(Serialize)]
struct Success<T> {
    status: &'static str,
    data: T,
}

/// A 200 with `data` in the success envelope (a 500 with a JSON error if it cannot be encoded).
pub fn json_success<T: Serialize>(data: T) -> Response {
    match serde_json::to_string(&Success {
        status: "success",
        data,
    }) {
        Ok(body) => (StatusCode::OK, [(CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the response: {e}"),
        ),
    }
}

/// A 400 with a JSON error naming the bad parameter.
pub fn bad_request(message: String) -> Response {
    json_error(StatusCode::BAD_REQUEST, message)
}
