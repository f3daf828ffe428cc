// Package image is the node agent's image store: it pulls images from OCI
// and Docker registries, imports `docker save` and OCI archives, keeps them
// on disk, and gives each container a root filesystem.
//
// Data flows one way. Pull resolves a reference (normalised as Docker does,
// see ParseReference) with credentials from the pod's image pull Secrets
// (see Keyring), picks this machine's platform from a multi-platform index,
// and hands the image to the same path as Import: each layer is unpacked
// once, by diffID, into a directory shared by every image and container
// that uses it (whiteouts converted to overlayfs form), then the manifest
// and config are stored as blobs and the image record written. Prepare
// stacks an image's layer directories under a container's own upper
// directory with overlayfs; Release undoes it. Layers are removed when
// neither an image record nor a prepared container refers to them.
//
// Nothing becomes visible before it is complete and synced (temporary
// directory, then rename), so a crash leaves only unreferenced leftovers,
// which New removes. ShouldPull is the imagePullPolicy decision.
//
// The store needs root: layers keep their owners and device nodes, and
// overlayfs is mounted.
package image
