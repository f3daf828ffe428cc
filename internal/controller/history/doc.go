// Package history keeps the ControllerRevisions that StatefulSets and
// DaemonSets record their pod templates in, as upstream's
// pkg/controller/history does, so that `kubectl rollout history` and
// `kubectl rollout undo` work on both kinds.
//
// A revision's data is the strategic merge patch
// {"spec":{"template":{...,"$patch":"replace"}}} that restores the
// template; kubectl applies exactly that patch to roll back. Its name is
// <owner>-<hash>, the hash being upstream's: FNV-32 of the data and the
// owner's collision count, safe-encoded. The functions here are pure but
// for Store, which writes revisions through the API and reads them from
// the shared informer cache.
package history
