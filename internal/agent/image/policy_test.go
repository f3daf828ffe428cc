package image

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestShouldPull(t *testing.T) {
	tests := []struct {
		name    string
		policy  corev1.PullPolicy
		image   string
		present bool
		want    bool
		wantErr error
	}{
		{"always, present", corev1.PullAlways, "busybox:1.36", true, true, nil},
		{"always, missing", corev1.PullAlways, "busybox:1.36", false, true, nil},
		{"if not present, present", corev1.PullIfNotPresent, "busybox", true, false, nil},
		{"if not present, missing", corev1.PullIfNotPresent, "busybox", false, true, nil},
		{"never, present", corev1.PullNever, "busybox", true, false, nil},
		{"never, missing", corev1.PullNever, "busybox", false, false, ErrNeverPull},
		{"default, untagged, present", "", "busybox", true, true, nil},
		{"default, latest, present", "", "busybox:latest", true, true, nil},
		{"default, tagged, present", "", "busybox:1.36", true, false, nil},
		{"default, tagged, missing", "", "busybox:1.36", false, true, nil},
		{"default, digest, present", "", "busybox@" + testDigest, true, false, nil},
		{"default, latest and digest, present", "", "busybox:latest@" + testDigest, true, true, nil},
		{"default, invalid name", "", "Busybox", false, false, ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ShouldPull(tt.policy, tt.image, tt.present)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("ShouldPull error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ShouldPull = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := ShouldPull("Sometimes", "busybox", true); err == nil {
		t.Error("ShouldPull accepted an unknown policy")
	}
}
