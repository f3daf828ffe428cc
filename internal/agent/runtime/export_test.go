package runtime

import (
	"os"
	"path/filepath"
	"strconv"
)

// Internals the external tests check against.
var (
	CapabilityNames     = capabilityNames[:]
	DefaultCapabilities = defaultCapabilities
)

// Bounding returns the capabilities a privileged container gets.
func (r *Runtime) Bounding() []string { return r.bounding }

// ShimPid returns the pid of a container's shim.
func (r *Runtime) ShimPid(id string) (int, error) {
	b, err := os.ReadFile(filepath.Join(r.containerDir(id), fileShimPid))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}
