package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestStartAuditLogPath(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Request}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	custom := filepath.Join(t.TempDir(), "logs", "a.log")
	tests := []struct {
		name     string
		o        auditOptions
		wantFile string // relative to the data dir when not absolute; "" for none
		wantOn   bool
	}{
		{"default", auditOptions{}, "audit/audit.log", true},
		{"explicitly empty turns it off", auditOptions{logPathSet: true}, "", false},
		{"stdout", auditOptions{logPath: "-", logPathSet: true}, "", true},
		{"own path and policy", auditOptions{logPath: custom, logPathSet: true, policyFile: policy}, custom, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			a, err := startAudit(ctx, tt.o, dataDir, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			cancel()
			a.stop()
			if (a.auditor != nil) != tt.wantOn {
				t.Errorf("auditing on: %v, want %v", a.auditor != nil, tt.wantOn)
			}
			if tt.wantFile == "" {
				if _, err := os.Stat(filepath.Join(dataDir, "audit")); err == nil {
					t.Error("an audit directory was created")
				}
				return
			}
			path := tt.wantFile
			if !filepath.IsAbs(path) {
				path = filepath.Join(dataDir, path)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("log mode %v, want 0600", fi.Mode().Perm())
			}
		})
	}
}

func TestStartAuditRefusesBadPolicy(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := startAudit(context.Background(), auditOptions{policyFile: policy}, t.TempDir(), slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a policy without rules was accepted")
	}
}
