"""Table and property tests of the pure workload renderers in `ensign.workloads`."""
