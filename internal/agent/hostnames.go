package agent

import (
	"crypto/sha256"
	"encoding/hex"
)

// DefaultDataDir is berth's data directory unless --data-dir says
// otherwise.
const DefaultDataDir = "/var/lib/berth"

// HostNames are the names a node agent takes on the machine outside its
// data directory: the runtime's state directory, the cgroup parent and
// the pods' bridge.
type HostNames struct {
	RunDir, CgroupParent, Bridge string
}

// HostNamesFor are /run/berth, /berth and berth0 for the default data
// directory, and names of their own for another (an absolute path), so
// that agents on one machine (tests, benchmarks) keep apart.
func HostNamesFor(dataDir string) HostNames {
	if dataDir == DefaultDataDir {
		return HostNames{RunDir: "/run/berth", CgroupParent: "/berth", Bridge: "berth0"}
	}
	sum := sha256.Sum256([]byte(dataDir))
	suffix := hex.EncodeToString(sum[:6])
	// A link name has at most 15 bytes: "berth" and 8 hex digits.
	return HostNames{RunDir: "/run/berth-" + suffix, CgroupParent: "/berth-" + suffix, Bridge: "berth" + suffix[:8]}
}
