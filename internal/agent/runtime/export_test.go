package runtime

// Internals the external tests check against.
var (
	CapabilityNames     = capabilityNames[:]
	DefaultCapabilities = defaultCapabilities
)

// Bounding returns the capabilities a privileged container gets.
func (r *Runtime) Bounding() []string { return r.bounding }
