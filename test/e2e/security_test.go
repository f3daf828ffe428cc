package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"berth.dev/berth/internal/store/bolt"
)

// auditEvent is the part of an audit.k8s.io/v1 Event the tests read.
type auditEvent struct {
	Kind      string `json:"kind"`
	Level     string `json:"level"`
	AuditID   string `json:"auditID"`
	Stage     string `json:"stage"`
	Verb      string `json:"verb"`
	UserAgent string `json:"userAgent"`
	User      struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestObject  json.RawMessage   `json:"requestObject"`
	ResponseObject json.RawMessage   `json:"responseObject"`
	Annotations    map[string]string `json:"annotations"`
}

// short is "<stage> <verb> <resource> <ns>/<name> <code> <decision> <user>".
func (ev auditEvent) short() string {
	res := "-"
	if ev.ObjectRef != nil {
		res = ev.ObjectRef.Resource + " " + ev.ObjectRef.Namespace + "/" + ev.ObjectRef.Name
	}
	code := 0
	if ev.ResponseStatus != nil {
		code = ev.ResponseStatus.Code
	}
	return fmt.Sprintf("%s %s %s %d %s %s", ev.Stage, ev.Verb, res, code, ev.Annotations["authorization.k8s.io/decision"], ev.User.Username)
}

// readAudit parses the audit log of a stopped server.
func readAudit(t *testing.T, s *server) ([]auditEvent, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(s.dataDir, "audit", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var events []auditEvent
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ev auditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		events = append(events, ev)
	}
	return events, raw
}

// noPlaintext fails if data holds any of the values, plain or base64.
func noPlaintext(t *testing.T, what string, data []byte, values ...string) {
	t.Helper()
	for _, v := range values {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if bytes.Contains(data, []byte(form)) {
				t.Errorf("%s contains %q", what, form)
			}
		}
	}
}

// tokenKubeconfig writes a kubeconfig that presents only a bearer token.
func tokenKubeconfig(t *testing.T, s *server, token string) string {
	t.Helper()
	admin, err := clientcmd.LoadFromFile(s.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	for name, c := range admin.Clusters {
		cfg.Clusters[name] = c
		cfg.AuthInfos["token"] = &clientcmdapi.AuthInfo{Token: token}
		cfg.Contexts["token"] = &clientcmdapi.Context{Cluster: name, AuthInfo: "token"}
	}
	cfg.CurrentContext = "token"
	path := filepath.Join(t.TempDir(), "token.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAuditAndEncryption runs a kubectl session against a default server
// and finds each request in the audit log with its outcome, and no Secret
// value in the audit log or the store's file; then rotates the encryption
// key as the README says.
func TestAuditAndEncryption(t *testing.T) {
	s := startServer(t)
	const secretValue = "e2e-secret-value-271828"
	secretBytesValue := "e2e-bytes-value-161803"
	s.kubectl(t, "create", "namespace", "vault")
	s.kubectl(t, "create", "secret", "generic", "db", "-n", "vault", "--from-literal=password="+secretValue, "--from-literal=token="+secretBytesValue)
	wantOutput(t, s.kubectl(t, "get", "secret", "db", "-n", "vault", "-o", "jsonpath={.data.password}"), base64.StdEncoding.EncodeToString([]byte(secretValue)))
	s.kubectl(t, "get", "secrets", "-n", "vault")
	s.kubectl(t, "create", "configmap", "settings", "-n", "vault", "--from-literal=mode=fast")
	s.kubectl(t, "delete", "configmap", "settings", "-n", "vault")
	watch := s.kubectlWith(kubectlPath(t)).start(t, "get", "secrets", "-n", "vault", "--watch")
	watch.waitForLine(t, "db", "Opaque", "2")

	bob := kubectlCmd{bin: kubectlPath(t), kubeconfig: userKubeconfig(t, s, "bob"), cacheDir: t.TempDir()}
	// bob may not even read discovery: ask for the path.
	r := bob.runErr(t, "get", "--raw", "/api/v1/namespaces/vault/secrets")
	if !strings.Contains(r.stderr, "Forbidden") {
		t.Errorf("bob: %s", r)
	}
	bogus := kubectlCmd{bin: kubectlPath(t), kubeconfig: tokenKubeconfig(t, s, "not-a-token"), cacheDir: t.TempDir()}
	r = bogus.runErr(t, "get", "--raw", "/api/v1/namespaces/vault/pods")
	if !strings.Contains(r.stderr, "Unauthorized") {
		t.Errorf("bad token: %s", r)
	}
	checkPprof(t, s, bob)
	checkTLS(t, s)

	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	events, raw := readAudit(t, s)
	noPlaintext(t, "the audit log", raw, secretValue, secretBytesValue)
	got := map[string]int{}
	for _, ev := range events {
		if ev.Kind != "Event" || ev.Level != "Metadata" || ev.AuditID == "" || ev.Stage == "RequestReceived" || ev.RequestObject != nil || ev.ResponseObject != nil {
			t.Errorf("event %+v: not a default-policy event", ev)
		}
		if ev.Verb == "get" && ev.ObjectRef == nil && strings.HasPrefix(ev.UserAgent, "kubectl") && ev.ResponseStatus.Code == 200 {
			continue // discovery
		}
		got[ev.short()]++
	}
	want := []string{
		"ResponseComplete create namespaces /vault 201 allow berth-admin",
		"ResponseComplete create secrets vault/db 201 allow berth-admin",
		"ResponseComplete get secrets vault/db 200 allow berth-admin",
		"ResponseComplete list secrets vault/ 200 allow berth-admin",
		"ResponseComplete create configmaps vault/settings 201 allow berth-admin",
		"ResponseComplete delete configmaps vault/settings 200 allow berth-admin",
		"ResponseStarted watch secrets vault/ 200 allow berth-admin",
		"ResponseComplete list secrets vault/ 403 forbid bob",
		"ResponseStarted list pods vault/ 401  ",
		"ResponseComplete get - 403 forbid bob",
		"ResponseComplete get - 404 allow berth-admin",
	}
	for _, w := range want {
		if got[w] == 0 {
			t.Errorf("no audit event %q", w)
		}
	}
	if got["ResponseStarted get - 401  "] != 2 { // anonymous pprof
		t.Errorf("%d events of failed authentication for pprof, want 2", got["ResponseStarted get - 401  "])
	}
	if t.Failed() {
		for k, n := range got {
			t.Logf("logged %dx %s", n, k)
		}
	}
	rotateKey(t, s, map[string]string{"password": secretValue, "token": secretBytesValue})
	checkModes(t, s.dataDir)
}

// checkTLS: the binary's listener refuses TLS 1.1 and CBC suites.
func checkTLS(t *testing.T, s *server) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(s.port)
	tests := []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"defaults", &tls.Config{InsecureSkipVerify: true}, true},
		{"TLS 1.2 AEAD", &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.1", &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
		{"TLS 1.2 CBC", &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}, false},
	}
	for _, tt := range tests {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tt.cfg)
		if err == nil {
			conn.Close()
		}
		if (err == nil) != tt.ok {
			t.Errorf("TLS handshake with %s: %v, want success %v", tt.name, err, tt.ok)
		}
	}
}

// checkPprof: no profiling endpoints, for anyone.
func checkPprof(t *testing.T, s *server, bob kubectlCmd) {
	t.Helper()
	anon := rest.AnonymousClientConfig(s.restConfig(t))
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap"} {
		code, err := getStatus(anon, p)
		if err != nil || code != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s: %d, %v; want 401", p, code, err)
		}
		code, err = getStatus(s.restConfig(t), p)
		if err != nil || code != http.StatusNotFound {
			t.Errorf("admin GET %s: %d, %v; want 404", p, code, err)
		}
	}
	r := bob.runErr(t, "get", "--raw", "/debug/pprof/")
	if !strings.Contains(r.stderr, "Forbidden") && !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("bob GET /debug/pprof/: %s", r)
	}
}

// rotateKey follows the README's rotation steps with
// --encryption-provider-config and checks the stored prefix and the
// store's file after each restart.
func rotateKey(t *testing.T, s *server, values map[string]string) {
	t.Helper()
	generated, err := os.ReadFile(filepath.Join(s.dataDir, "encryption-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	oldLine := ""
	for _, l := range strings.Split(string(generated), "\n") {
		if strings.Contains(l, "secret:") {
			oldLine = strings.TrimSpace(l)
		}
	}
	if oldLine == "" {
		t.Fatalf("no key in the generated configuration:\n%s", generated)
	}
	newKey := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	config := func(keys string) string {
		return "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n" + keys + "  - identity: {}\n"
	}
	path := filepath.Join(t.TempDir(), "encryption.yaml")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.extraArgs = append(s.extraArgs, "--encryption-provider-config", path)
	checkSecret := func() {
		t.Helper()
		for k, v := range values {
			got := s.kubectl(t, "get", "secret", "db", "-n", "vault", "-o", "jsonpath={.data."+k+"}")
			if got != base64.StdEncoding.EncodeToString([]byte(v)) {
				t.Errorf("secret key %s reads %q", k, got)
			}
		}
	}
	// storedPrefix reads the stopped server's store.
	storedPrefix := func(want string) {
		t.Helper()
		dbPath := filepath.Join(s.dataDir, "db", "state.db")
		raw, err := os.ReadFile(dbPath)
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, v := range values {
			all = append(all, v)
		}
		noPlaintext(t, "state.db", raw, all...)
		st, err := bolt.New(bolt.Config{Path: dbPath})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		kv, err := st.Get(context.Background(), "/registry/core/secrets/vault/db")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(kv.Value, []byte(want)) {
			t.Errorf("stored secret starts %q, want %q", kv.Value[:min(40, len(kv.Value))], want)
		}
	}
	// Before rotation: the generated key.
	storedPrefix("k8s:enc:aescbc:v1:key1:")

	// 1. The new key first, the old one after it.
	write(config("      - name: key2\n        secret: " + newKey + "\n      - name: key1\n        " + oldLine + "\n"))
	s.restart(t)
	checkSecret()
	// 2. Rewrite every Secret.
	out := s.kubectl(t, "get", "secrets", "-A", "-o", "json")
	s.kubectl(t, "replace", "-f", writeFile(t, "secrets.json", out))
	checkSecret()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	storedPrefix("k8s:enc:aescbc:v1:key2:")

	// 3. Only the new key.
	write(config("      - name: key2\n        secret: " + newKey + "\n"))
	s.restart(t)
	checkSecret()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	storedPrefix("k8s:enc:aescbc:v1:key2:")
}

// checkModes: nothing in the data directory is readable by others but
// certificates and public keys; directories are 0700.
func checkModes(t *testing.T, dataDir string) {
	t.Helper()
	err := filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode().Perm()
		switch {
		case d.IsDir():
			if mode != 0o700 {
				t.Errorf("%s: directory mode %v, want 0700", p, mode)
			}
		case strings.HasSuffix(p, ".crt") || strings.HasSuffix(p, ".pub"):
		default:
			if mode != 0o600 {
				t.Errorf("%s: mode %v, want 0600", p, mode)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
