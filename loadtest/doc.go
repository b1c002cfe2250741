// Package loadtest is recs' load generator for CI and benchmarks: an open
// model (constant arrival rate, latency measured from the scheduled send
// time), an HDR-style histogram, a storefront traffic mix with
// Zipf-popular items and virtual sessions, and a JSON result with
// thresholds for CI. It only ever targets this machine (loopback).
//
// The k6 scripts in loadtest/k6 drive the same traffic with k6; see
// loadtest/README.md.
package loadtest
