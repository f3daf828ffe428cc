package pki

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func TestWriteKubeconfig(t *testing.T) {
	p := mustEnsure(t, Config{Dir: t.TempDir()})
	srv := startServer(t, p)
	certPEM, keyPEM := p.AdminCert()
	dir := t.TempDir()
	path := filepath.Join(dir, "admin.kubeconfig")

	// A first file at another address is replaced whole.
	if err := WriteKubeconfig(path, "https://192.0.2.1:6443", p.CAPEM(), certPEM, keyPEM, "old-user"); err != nil {
		t.Fatal(err)
	}
	if err := WriteKubeconfig(path, srv.URL, p.CAPEM(), certPEM, keyPEM, AdminUser); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]os.FileMode{"admin.kubeconfig": 0o600}, modes(t, dir)); diff != "" {
		t.Errorf("files and modes (-want +got):\n%s", diff)
	}

	loaded, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Current, Server, Cluster, User string
		Clusters, Users                int
	}
	got := view{Current: loaded.CurrentContext, Clusters: len(loaded.Clusters), Users: len(loaded.AuthInfos)}
	if ctx := loaded.Contexts[loaded.CurrentContext]; ctx != nil {
		got.Cluster, got.User = ctx.Cluster, ctx.AuthInfo
	}
	if c := loaded.Clusters["berth"]; c != nil {
		got.Server = c.Server
	}
	want := view{Current: "berth", Server: srv.URL, Cluster: "berth", User: AdminUser, Clusters: 1, Users: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kubeconfig (-want +got):\n%s", diff)
	}

	restCfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	client, err := rest.HTTPClientFor(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	client.Timeout = time.Minute
	body, _, err := get(client, restCfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	if want := "berth-admin [system:masters]"; body != want {
		t.Errorf("server saw %q, want %q", body, want)
	}
}

func TestWriteKubeconfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, path, server, user string
	}{
		{"no server", filepath.Join(dir, "a"), "", "u"},
		{"no user", filepath.Join(dir, "b"), "https://127.0.0.1:6443", ""},
		{"missing directory", filepath.Join(dir, "no", "c"), "https://127.0.0.1:6443", "u"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := WriteKubeconfig(tc.path, tc.server, nil, nil, nil, tc.user); err == nil {
				t.Error("WriteKubeconfig succeeded, want an error")
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left %d files", len(entries))
	}
}
