// Package sipptest runs SIPp for end-to-end tests: it finds the binary, reserves
// loopback ports SIPp can bind (-p, -mp, -cp) without colliding with parallel tests,
// runs the scenarios of testdata/sipp with a per-run work directory and parses the
// result, and writes and reads the RTP pcap files those scenarios play.
//
// It is imported by tests only and imports none of hotline's packages, so it can test
// any of them.
package sipptest
