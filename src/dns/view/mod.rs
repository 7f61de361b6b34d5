//! The read model of the query path: every zone pre-rendered in wire format per owner
//! and type (`snapshot`), each owner in one allocation (`nodeview`), owners indexed in
//! `Arc`-shared shards (`nodemap`), and updated per changed owner (`incremental`), with
//! the in-zone NS/MX/SRV targets whose glue an owner carries (`glue`); names compressed
//! at render time and relocated when answering (`compress`).

pub mod compress;
pub mod glue;
pub(crate) mod incremental;
pub mod nodemap;
pub mod nodeview;
pub mod snapshot;
