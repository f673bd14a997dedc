// Package store owns hotline's SQLite database (DATA/hotline.db): call
// detail records and each call's stage timeline, the schema and its
// migrations, and what the ACD keeps: the agent state audit trail, the
// routing decision log and the callbacks waiting to be made.
//
// Every write goes through one writer goroutine, which batches concurrent
// writes into one transaction; callers wait for their own result. Reads use
// a separate read-only connection pool, so a slow API query never delays a
// write (WAL lets them run side by side). Writes that are many and need no
// answer (RecordAgentEventAsync) are queued without waiting, but still in
// the writer's batches, and never dropped.
//
// store imports only the standard library and the SQLite driver. It must not
// import any other hotline package: the conductor and the API come to it.
package store
