package runtime

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCapabilities(t *testing.T) {
	bounding := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"}
	tests := []struct {
		name    string
		sec     Security
		want    []string
		wantErr bool
	}{
		{
			name: "defaults",
			want: []string{"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"},
		},
		{name: "drop all", sec: Security{CapDrop: []string{"ALL"}}, want: []string{}},
		{name: "drop all, add one back", sec: Security{CapDrop: []string{"all"}, CapAdd: []string{"net_bind_service"}}, want: []string{"CAP_NET_BIND_SERVICE"}},
		{name: "add all, drop one", sec: Security{CapAdd: []string{"ALL"}, CapDrop: []string{"CAP_KILL"}}, want: []string{"CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"}},
		{name: "privileged ignores drops", sec: Security{Privileged: true, CapDrop: []string{"ALL"}}, want: bounding},
		{name: "unknown", sec: Security{CapAdd: []string{"CAP_FLY"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := capabilities(tt.sec, bounding)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got == nil {
				got = []string{}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
