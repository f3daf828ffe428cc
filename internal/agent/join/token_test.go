package join

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseToken(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		wantErr bool
	}{
		{"berth1.sha256:" + hash + ".abcdef.0123456789abcdef", false},
		{"berth1.sha256:" + strings.ToUpper(hash) + ".abcdef.0123456789abcdef", true},
		{"berth1.sha256:" + hash[:62] + ".abcdef.0123456789abcdef", true},
		{"berth1.sha256:" + hash[:62] + "zz.abcdef.0123456789abcdef", true},
		{"berth2.sha256:" + hash + ".abcdef.0123456789abcdef", true},
		{"berth1.sha256:" + hash + ".abcde.0123456789abcdef", true},
		{"berth1.sha256:" + hash + ".ABCDEF.0123456789abcdef", true},
		{"berth1.sha256:" + hash + ".abcdef.0123456789abcde", true},
		{"berth1.sha256:" + hash + ".abcdef0123456789abcdef", true},
		{"abcdef.0123456789abcdef", true},
		{"", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			tok, err := ParseToken(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseToken: %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				if diff := cmp.Diff(tt.in, tok.String()); diff != "" {
					t.Errorf("round trip (-want +got):\n%s", diff)
				}
				if tok.BootstrapToken() != "abcdef.0123456789abcdef" {
					t.Errorf("bootstrap token %q", tok.BootstrapToken())
				}
			}
		})
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add("berth1.sha256:" + strings.Repeat("0f", 32) + ".abcdef.0123456789abcdef")
	f.Add("berth1.sha256:.")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			return
		}
		if tok.String() != s {
			t.Errorf("ParseToken(%q).String() = %q", s, tok.String())
		}
	})
}

func TestRenewAt(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(100 * time.Hour)
	tests := []struct {
		jitter float64
		want   time.Duration
	}{
		{0, 70 * time.Hour},
		{0.5, 80 * time.Hour},
		{1, 90 * time.Hour},
	}
	for _, tt := range tests {
		if got := RenewAt(start, end, tt.jitter).Sub(start); got != tt.want {
			t.Errorf("RenewAt(jitter %v) = start+%v, want start+%v", tt.jitter, got, tt.want)
		}
	}
}
