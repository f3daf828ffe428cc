// Package bolt is berth's embedded store: a store.Store kept in one bbolt
// file.
//
// The file has three buckets:
//
//   - "kv": key → the key's current record (create revision, mod revision,
//     value).
//   - "log": revision (8 bytes, big-endian) → the write made at that revision
//     (event type, key, value, create revision, and the key's previous mod
//     revision). A delete record carries the key's last value.
//   - "meta": the current and the compacted revision.
//
// Every write adds one log record at the next revision and updates "kv" in the
// same transaction. One commit loop per store runs the writes: those that
// arrive while a commit is being synced share the next commit, so a lone
// writer pays one fsync and many writers share them. A write returns after
// its commit is on disk.
//
// Reads at the current revision use "kv" alone. A read at an older revision R
// walks the log after R: the first record of a key after R tells what the key
// was at R (nothing before a Create; the record at its previous mod revision
// before an Update; the delete record's own value before a Delete). Keys
// without records after R are read from "kv".
//
// Compact(R) removes the log records below R except those that reads at R or
// later still need: the versions of keys that were current at R and replaced
// by an Update after R.
//
// One dispatcher goroutine per store, woken after each commit, reads the new
// log records in order and fans them out to live watchers. A new watcher
// first replays the log on its own goroutine, then joins the dispatcher once
// it has caught up with it, so no event is missed or repeated.
package bolt
