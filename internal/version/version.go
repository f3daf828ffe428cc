// Package version holds the berth version and the Kubernetes version whose
// API it serves.
package version

import (
	"fmt"
	"runtime"

	"k8s.io/apimachinery/pkg/version"
)

// Berth is set at build time with -ldflags "-X berth.dev/berth/internal/version.Berth=...".
var Berth = "v0.1.0-dev"

// Kubernetes API version berth serves (the k8s.io/api release it is built on).
const (
	Major = "1"
	Minor = "37"
)

// Info is what /version answers.
func Info() version.Info {
	return version.Info{
		Major:          Major,
		Minor:          Minor,
		GitVersion:     fmt.Sprintf("v%s.%s.0+berth-%s", Major, Minor, Berth),
		GoVersion:      runtime.Version(),
		Compiler:       runtime.Compiler,
		Platform:       runtime.GOOS + "/" + runtime.GOARCH,
		EmulationMajor: Major,
		EmulationMinor: Minor,
	}
}
