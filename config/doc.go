// Package config turns hotline's YAML configuration into typed values.
//
// It owns the configuration schema, its defaults, its validation and the
// embedded demo configuration. Every problem it finds carries a file:line:col
// position, and Parse collects all of them instead of stopping at the first,
// because admins edit and reload the file on a live system and must be able
// to fix a broken edit in one pass.
//
// config is a leaf: it must not import any other hotline package. Checks that
// need another package's knowledge (IVR graph checks, prompt existence) live
// in that package and report their problems as config.Errors.
package config
