//! Rust bindings of the ACX contracts (`proto/acx/...`), generated at build time.
//!
//! Each package is a module, re-exported at the top for short paths: [`common`],
//! [`diagnostics`], [`ingest`], [`scoring`], [`liaison`] (v1) and
//! [`liaison_v2`]. [`FILE_DESCRIPTOR_SET`] holds
//! every ACX file and its imports, encoded, for server reflection; it keeps the proto
//! comments, from which `acx-api-docs` (tools/api-docs) renders the API reference
//! (`docs/api.md`).

#![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]

/// The generated packages, nested as prost expects for cross-package references.
pub mod acx {
    /// `acx.common.v1`
    pub mod common {
        /// Shared messages; defines no service.
        pub mod v1 {
            tonic::include_proto!("acx.common.v1");
        }
    }
    /// `acx.diagnostics.v1`
    pub mod diagnostics {
        /// The echo service every ACX server exposes.
        pub mod v1 {
            tonic::include_proto!("acx.diagnostics.v1");
        }
    }
    /// `acx.ingest.v1`
    pub mod ingest {
        /// The platforms' door.
        pub mod v1 {
            tonic::include_proto!("acx.ingest.v1");
        }
    }
    /// `acx.scoring.v1`
    pub mod scoring {
        /// Seller and shipment risk, the blacklist.
        pub mod v1 {
            tonic::include_proto!("acx.scoring.v1");
        }
    }
    /// `acx.liaison.v1` and `acx.liaison.v2`
    pub mod liaison {
        /// The customs door, version 1 (served for existing clients).
        pub mod v1 {
            tonic::include_proto!("acx.liaison.v1");
        }
        /// The customs door, version 2: v1's messages and field numbers, with the types
        /// customs reads in `acx.common.v1`.
        pub mod v2 {
            tonic::include_proto!("acx.liaison.v2");
        }
    }
}

pub use acx::common::v1 as common;
pub use acx::diagnostics::v1 as diagnostics;
pub use acx::ingest::v1 as ingest;
pub use acx::liaison::v1 as liaison;
pub use acx::liaison::v2 as liaison_v2;
pub use acx::scoring::v1 as scoring;

/// Encoded `FileDescriptorSet` of every ACX proto file and its imports.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/acx_descriptor.bin"));
