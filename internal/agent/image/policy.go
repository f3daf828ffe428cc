package image

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// ErrNeverPull is returned by ShouldPull when the image is missing and the
// policy forbids pulling it; the agent reports ErrImageNeverPull.
var ErrNeverPull = errors.New("image is not present with pull policy of Never")

// DefaultPullPolicy is the policy of a container that names none, as the API
// server defaults it: Always for an image tagged "latest" (or not tagged and
// without digest), IfNotPresent otherwise.
func DefaultPullPolicy(image string) (corev1.PullPolicy, error) {
	r, err := ParseReference(image)
	if err != nil {
		return "", err
	}
	if r.Tag == defaultTag {
		return corev1.PullAlways, nil
	}
	return corev1.PullIfNotPresent, nil
}

// ShouldPull decides whether a container's image must be pulled: always
// with Always, when missing with IfNotPresent, never with Never (an error
// wrapping ErrNeverPull when missing). An empty policy is defaulted from the
// image reference first.
func ShouldPull(policy corev1.PullPolicy, image string, present bool) (bool, error) {
	if policy == "" {
		p, err := DefaultPullPolicy(image)
		if err != nil {
			return false, err
		}
		policy = p
	}
	switch policy {
	case corev1.PullAlways:
		return true, nil
	case corev1.PullIfNotPresent:
		return !present, nil
	case corev1.PullNever:
		if !present {
			return false, fmt.Errorf("container image %q: %w", image, ErrNeverPull)
		}
		return false, nil
	}
	return false, fmt.Errorf("unknown image pull policy %q", policy)
}
