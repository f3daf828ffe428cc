package node

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestCPULimit(t *testing.T) {
	tests := []struct {
		cpuMax string
		n      int
		want   int
	}{
		{"max 100000\n", 8, 8},
		{"200000 100000\n", 8, 2},
		{"150000 100000", 8, 2},
		{"50000 100000", 8, 1},
		{"1600000 100000", 8, 8},
		{"junk", 4, 4},
		{"0 100000", 4, 4},
	}
	for _, tt := range tests {
		if got := cpuLimit(tt.cpuMax, tt.n); got != tt.want {
			t.Errorf("cpuLimit(%q, %d) = %d, want %d", tt.cpuMax, tt.n, got, tt.want)
		}
	}
}

func TestParseMeminfo(t *testing.T) {
	tests := []struct {
		name             string
		in               string
		total, available int64
		wantErr          bool
	}{
		{"both", "MemTotal:       16318504 kB\nMemFree:  100 kB\nMemAvailable:   8000000 kB\n", 16318504 << 10, 8000000 << 10, false},
		{"no MemAvailable", "MemTotal: 1024 kB\n", 1 << 20, 1 << 20, false},
		{"no MemTotal", "MemFree: 1 kB\n", 0, 0, true},
		{"malformed", "MemTotal: x kB\n", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total, avail, err := parseMeminfo(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff([]int64{tt.total, tt.available}, []int64{total, avail}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseOSRelease(t *testing.T) {
	tests := map[string]string{
		"NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n": "Debian GNU/Linux 13 (trixie)",
		"PRETTY_NAME='Alpine Linux v3.20'\n":                                        "Alpine Linux v3.20",
		"PRETTY_NAME=Plain\n":                                                       "Plain",
		"NAME=x\n":                                                                  "",
	}
	for in, want := range tests {
		if got := parseOSRelease(strings.NewReader(in)); got != want {
			t.Errorf("parseOSRelease(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRuncVersion(t *testing.T) {
	tests := map[string]string{
		"runc version 1.1.12\ncommit: v1.1.12-0-g51d5e94\nspec: 1.0.2-dev\n": "runc://1.1.12",
		"runc version 1.2.0-rc.1+dev\n":                                      "runc://1.2.0-rc.1+dev",
		"crun version 1.8\n":                                                 "",
		"":                                                                   "",
	}
	for in, want := range tests {
		if got := parseRuncVersion([]byte(in)); got != want {
			t.Errorf("parseRuncVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadMachine(t *testing.T) {
	m, err := ReadMachine(context.Background(), "h", t.TempDir(), "v1.37.0")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourcePods} {
		c, a := m.Capacity[r], m.Allocatable[r]
		if c.Sign() <= 0 || a.Sign() < 0 || a.Cmp(c) > 0 {
			t.Errorf("%s: capacity %v, allocatable %v", r, c.String(), a.String())
		}
	}
	if m.Info.KernelVersion == "" || m.Info.OperatingSystem != "linux" || m.Info.KubeletVersion != "v1.37.0" {
		t.Errorf("nodeInfo %+v", m.Info)
	}
	if last := m.Addresses[len(m.Addresses)-1]; last != (corev1.NodeAddress{Type: corev1.NodeHostName, Address: "h"}) {
		t.Errorf("addresses %v", m.Addresses)
	}
}
