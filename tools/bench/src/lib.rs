//! Benchmarks of the ACX services, run against real servers in this process over loopback
//! gRPC, each reporting ratios against a baseline measured in the same run: [`ingest`]
//! (`acx-ingest-bench`), [`scoring`] (`acx-scoring-bench`) and [`liaison`]
//! (`acx-liaison-bench`). The binaries `acx-scoring-recompute` (a full recomputation of
//! scoring's model), `acx-targeting-bench` (the targeting model's training and assessment
//! costs) and `acx-scoring-eval` (scoring's in-process evaluation, [`evaluation`]) live
//! here too: tools that run the services, kept out of the service crates and their
//! dependencies.

pub mod evaluation;
pub mod ingest;
pub mod liaison;
pub mod scoring;
