//! Compiles `proto/` with `protox` (pure Rust, so no system `protoc` is needed) and
//! generates the prost messages and tonic stubs. The encoded descriptor set is written
//! next to the generated code: reflection serves it, and tests read it.

use std::path::PathBuf;

use prost::Message;

const FILES: &[&str] = &[
    "acx/common/v1/common.proto",
    "acx/common/v1/assessment.proto",
    "acx/diagnostics/v1/diagnostics.proto",
    "acx/ingest/v1/ingest.proto",
    "acx/scoring/v1/scoring.proto",
    "acx/liaison/v1/liaison.proto",
    "acx/liaison/v2/liaison.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../proto")
        .canonicalize()?;
    // Each file as well as the folder: a build that missed an edited file served stale
    // descriptors (and so a stale API reference) to one feature set's test binaries.
    println!("cargo:rerun-if-changed={}", proto_root.display());
    for file in FILES {
        println!("cargo:rerun-if-changed={}", proto_root.join(file).display());
    }

    let descriptors = protox::compile(FILES, [&proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("acx_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
