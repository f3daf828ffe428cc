// Package plugins holds berth's in-tree scheduling plugins, each a small
// type implementing framework interfaces with upstream kube-scheduler's
// name, behaviour and user-visible reasons, and NewInTreeRegistry, which
// assembles them into the default profile.
package plugins
