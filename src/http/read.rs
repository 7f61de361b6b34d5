//! Read consistency for management GETs: linearizable by default (the leader confirms its
//! leadership with a quorum and this node waits until it applied that far), or this
//! node's applied state as it is with `?stale=true`. DNS never goes through here.

use serde::Deserialize;

use super::error::ApiError;
use crate::service::Service;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadOptions {
    #[serde(default)]
    pub stale: bool,
}

/// Waits until a read on this node is linearizable, unless the caller accepts stale data.
pub(crate) async fn barrier(svc: &Service, stale: bool) -> Result<(), ApiError> {
    if stale {
        return Ok(());
    }
    svc.linearize().await.map(|_| ()).map_err(ApiError::from)
}
