package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 is the fixed clock of tests that check validity periods.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

// allFiles lists every file Ensure keeps, with its mode.
func allFiles() map[string]os.FileMode {
	return map[string]os.FileMode{
		caCertFile: 0o644, caKeyFile: 0o600,
		servingCertFile: 0o644, servingKeyFile: 0o600,
		adminCertFile: 0o644, adminKeyFile: 0o600,
		saKeyFile: 0o600, saPubFile: 0o644,
	}
}

func mustEnsure(t testing.TB, cfg Config) *PKI {
	t.Helper()
	p, err := Ensure(cfg)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return p
}

// snapshot returns the content of every file in dir.
func snapshot(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// changed returns the sorted names whose content differs between a and b.
func changed(a, b map[string][]byte) []string {
	var out []string
	for name := range maps.Keys(a) {
		if string(a[name]) != string(b[name]) {
			out = append(out, name)
		}
	}
	for name := range maps.Keys(b) {
		if _, ok := a[name]; !ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func readCert(t testing.TB, dir, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCertPEM(b)
	if err != nil {
		t.Fatalf("parsing %s: %v", name, err)
	}
	return c
}

func verify(t testing.TB, c, ca *x509.Certificate, at time.Time, usage x509.ExtKeyUsage, dnsName string) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: dnsName})
	if err != nil {
		t.Errorf("verifying %s (name %q): %v", c.Subject, dnsName, err)
	}
}

func TestEnsureFirstStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	p := mustEnsure(t, Config{
		Dir:       dir,
		Hostnames: []string{"API.example.com", "192.0.2.7"},
		IPs:       []net.IP{net.ParseIP("198.51.100.9"), net.ParseIP("2001:db8::9")},
		Now:       clockAt(t0),
	})

	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %v, want 0700", got)
	}
	if diff := cmp.Diff(allFiles(), modes(t, dir)); diff != "" {
		t.Errorf("files and modes (-want +got):\n%s", diff)
	}

	ca := readCert(t, dir, caCertFile)
	if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: IsCA=%v KeyUsage=%v", ca.IsCA, ca.KeyUsage)
	}
	if want := fmt.Sprintf("berth-ca@%d", t0.Unix()); ca.Subject.CommonName != want || ca.Issuer.CommonName != want {
		t.Errorf("CA subject %q issuer %q, want %q", ca.Subject.CommonName, ca.Issuer.CommonName, want)
	}
	if k, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", ca.PublicKey)
	}
	if want := t0.Add(CAValidity); !ca.NotAfter.Equal(want) {
		t.Errorf("CA NotAfter = %v, want %v", ca.NotAfter, want)
	}
	if string(p.CAPEM()) != string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})) {
		t.Error("CAPEM differs from ca.crt")
	}

	serving := readCert(t, dir, servingCertFile)
	if !serving.Equal(p.ServingCert()) {
		t.Error("ServingCert differs from apiserver.crt")
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	wantDNS := []string{strings.ToLower(host), "localhost", "kubernetes", "kubernetes.default",
		"kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "api.example.com"}
	wantIPs := []string{"127.0.0.1", "::1", "10.43.0.1", "192.0.2.7", "198.51.100.9", "2001:db8::9"}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() && !slices.Contains(wantIPs, n.IP.String()) {
			wantIPs = append(wantIPs, n.IP.String())
		}
	}
	var gotIPs []string
	for _, ip := range serving.IPAddresses {
		gotIPs = append(gotIPs, ip.String())
	}
	slices.Sort(wantDNS)
	slices.Sort(wantIPs)
	slices.Sort(gotIPs)
	gotDNS := slices.Sorted(slices.Values(serving.DNSNames))
	if diff := cmp.Diff(slices.Compact(wantDNS), gotDNS); diff != "" {
		t.Errorf("serving DNS names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantIPs, gotIPs); diff != "" {
		t.Errorf("serving IPs (-want +got):\n%s", diff)
	}
	for _, name := range []string{"kubernetes.default.svc", "localhost", "127.0.0.1", "10.43.0.1", "api.example.com"} {
		verify(t, serving, ca, t0, x509.ExtKeyUsageServerAuth, name)
	}

	admin := readCert(t, dir, adminCertFile)
	verify(t, admin, ca, t0, x509.ExtKeyUsageClientAuth, "")
	if certPEM, _ := p.AdminCert(); string(certPEM) != string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: admin.Raw})) {
		t.Error("AdminCert differs from admin.crt")
	}

	type leaf struct {
		CN, Issuer  string
		O           []string
		ExtKeyUsage []x509.ExtKeyUsage
		KeyUsage    x509.KeyUsage
		IsCA        bool
		NotBefore   time.Time
		NotAfter    time.Time
	}
	summarize := func(c *x509.Certificate) leaf {
		return leaf{c.Subject.CommonName, c.Issuer.CommonName, c.Subject.Organization, c.ExtKeyUsage, c.KeyUsage, c.IsCA, c.NotBefore, c.NotAfter}
	}
	wantLeaf := func(cn string, o []string, u x509.ExtKeyUsage) leaf {
		return leaf{cn, ca.Subject.CommonName, o, []x509.ExtKeyUsage{u}, x509.KeyUsageDigitalSignature, false,
			t0.Add(-backdate), t0.Add(LeafValidity)}
	}
	if diff := cmp.Diff(wantLeaf("berth-apiserver", nil, x509.ExtKeyUsageServerAuth), summarize(serving)); diff != "" {
		t.Errorf("serving certificate (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantLeaf(AdminUser, []string{AdminGroup}, x509.ExtKeyUsageClientAuth), summarize(admin)); diff != "" {
		t.Errorf("admin certificate (-want +got):\n%s", diff)
	}

	serials := map[string]bool{ca.SerialNumber.String(): true, serving.SerialNumber.String(): true, admin.SerialNumber.String(): true}
	for _, c := range []*x509.Certificate{ca, serving, admin} {
		if c.SerialNumber.Sign() <= 0 || len(serials) != 3 {
			t.Errorf("serial numbers not positive and distinct: %v", serials)
		}
	}

	saKey := p.ServiceAccountKey()
	if saKey == nil || saKey.N.BitLen() != 2048 {
		t.Fatalf("ServiceAccountKey = %v, want RSA 2048", saKey)
	}
	pubPEM, err := os.ReadFile(filepath.Join(dir, saPubFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pubPEM)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("sa.pub is not a PUBLIC KEY PEM block: %q", pubPEM)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !saKey.PublicKey.Equal(pub) {
		t.Error("sa.pub is not the public half of sa.key")
	}
	if string(p.ServiceAccountPublicKeyPEM()) != string(pubPEM) {
		t.Error("ServiceAccountPublicKeyPEM differs from sa.pub")
	}
}

func TestEnsureRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, Hostnames: []string{"a.example"}}
	p1 := mustEnsure(t, cfg)
	before := snapshot(t, dir)
	p2 := mustEnsure(t, cfg)
	if diff := changed(before, snapshot(t, dir)); diff != nil {
		t.Errorf("second Ensure changed %v", diff)
	}
	if string(p1.CAPEM()) != string(p2.CAPEM()) || !p1.ServingCert().Equal(p2.ServingCert()) ||
		!p1.ServiceAccountKey().Equal(p2.ServiceAccountKey()) {
		t.Error("second Ensure returned different key material")
	}
	c1, k1 := p1.AdminCert()
	c2, k2 := p2.AdminCert()
	if string(c1) != string(c2) || string(k1) != string(k2) {
		t.Error("second Ensure returned a different admin certificate")
	}
}

func TestEnsureReissue(t *testing.T) {
	serving := []string{servingCertFile, servingKeyFile}
	tests := []struct {
		name string
		// setup changes dir and the second start's config.
		setup       func(t *testing.T, dir string, cfg *Config)
		wantChanged []string
	}{
		{
			name:        "new hostname",
			setup:       func(t *testing.T, dir string, cfg *Config) { cfg.Hostnames = append(cfg.Hostnames, "new.example") },
			wantChanged: serving,
		},
		{
			name: "new IP",
			setup: func(t *testing.T, dir string, cfg *Config) {
				cfg.IPs = append(cfg.IPs, net.ParseIP("203.0.113.5"))
			},
			wantChanged: serving,
		},
		{
			name:        "new service IP",
			setup:       func(t *testing.T, dir string, cfg *Config) { cfg.ServiceIP = net.ParseIP("10.96.0.1") },
			wantChanged: serving,
		},
		{
			name:  "hostname no longer needed",
			setup: func(t *testing.T, dir string, cfg *Config) { cfg.Hostnames = nil },
		},
		{
			name: "more than 30 days left",
			setup: func(t *testing.T, dir string, cfg *Config) {
				cfg.Now = clockAt(t0.Add(LeafValidity - RenewBefore - time.Hour))
			},
		},
		{
			name: "within 30 days of expiry",
			setup: func(t *testing.T, dir string, cfg *Config) {
				cfg.Now = clockAt(t0.Add(LeafValidity - RenewBefore + time.Hour))
			},
			// The admin certificate was made at the same time.
			wantChanged: []string{adminCertFile, adminKeyFile, servingCertFile, servingKeyFile},
		},
		{
			name: "serving key missing",
			setup: func(t *testing.T, dir string, cfg *Config) {
				if err := os.Remove(filepath.Join(dir, servingKeyFile)); err != nil {
					t.Fatal(err)
				}
			},
			wantChanged: serving,
		},
		{
			name: "serving key from another pair",
			setup: func(t *testing.T, dir string, cfg *Config) {
				copyFile(t, filepath.Join(dir, adminKeyFile), filepath.Join(dir, servingKeyFile))
			},
			wantChanged: serving,
		},
		{
			name: "serving certificate from another CA",
			setup: func(t *testing.T, dir string, cfg *Config) {
				other := t.TempDir()
				mustEnsure(t, Config{Dir: other, Hostnames: cfg.Hostnames, Now: cfg.Now})
				for _, f := range serving {
					copyFile(t, filepath.Join(other, f), filepath.Join(dir, f))
				}
			},
			wantChanged: serving,
		},
		{
			name: "admin certificate missing",
			setup: func(t *testing.T, dir string, cfg *Config) {
				if err := os.Remove(filepath.Join(dir, adminCertFile)); err != nil {
					t.Fatal(err)
				}
			},
			wantChanged: []string{adminCertFile, adminKeyFile},
		},
		{
			name: "sa.pub missing",
			setup: func(t *testing.T, dir string, cfg *Config) {
				if err := os.Remove(filepath.Join(dir, saPubFile)); err != nil {
					t.Fatal(err)
				}
			},
			wantChanged: []string{saPubFile},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{Dir: dir, Hostnames: []string{"old.example"}, Now: clockAt(t0)}
			mustEnsure(t, cfg)
			tc.setup(t, dir, &cfg)
			before := snapshot(t, dir)
			p := mustEnsure(t, cfg)
			after := snapshot(t, dir)
			if diff := cmp.Diff(tc.wantChanged, changed(before, after)); diff != "" {
				t.Errorf("changed files (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(allFiles(), modes(t, dir)); diff != "" {
				t.Errorf("files and modes (-want +got):\n%s", diff)
			}
			ca := readCert(t, dir, caCertFile)
			s := readCert(t, dir, servingCertFile)
			if !s.Equal(p.ServingCert()) {
				t.Error("ServingCert differs from apiserver.crt")
			}
			if err := missingNameOf(s, cfg); err != "" {
				t.Errorf("serving certificate %s", err)
			}
			verify(t, s, ca, cfg.Now(), x509.ExtKeyUsageServerAuth, "kubernetes.default.svc")
			verify(t, readCert(t, dir, adminCertFile), ca, cfg.Now(), x509.ExtKeyUsageClientAuth, "")
		})
	}
}

// missingNameOf reports an extra name or IP of cfg that c lacks.
func missingNameOf(c *x509.Certificate, cfg Config) string {
	for _, h := range cfg.Hostnames {
		if !slices.Contains(c.DNSNames, h) {
			return "lacks " + h
		}
	}
	for _, ip := range append(slices.Clone(cfg.IPs), cfg.ServiceIP) {
		if ip != nil && !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return "lacks " + ip.String()
		}
	}
	return ""
}

func modes(t testing.TB, dir string) map[string]os.FileMode {
	t.Helper()
	out := map[string]os.FileMode{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = info.Mode()
	}
	return out
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestEnsureRefusesBrokenFiles(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	smallRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr string
	}{
		{"ca.crt garbage", write(caCertFile, []byte("not a certificate")), "parsing ca.crt"},
		{"ca.crt bad DER", write(caCertFile, pemOf("CERTIFICATE", []byte{0x30, 0x03, 0x01})), "parsing ca.crt"},
		{"ca.crt is a leaf", func(t *testing.T, dir string) {
			copyFile(t, filepath.Join(dir, adminCertFile), filepath.Join(dir, caCertFile))
		}, "not a CA"},
		{"ca.key missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, caKeyFile)) }, "reading CA key"},
		{"ca.key of another key", write(caKeyFile, pemOf("PRIVATE KEY", ecDER)), "does not match"},
		{"apiserver.crt truncated", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, servingCertFile))
			write(servingCertFile, b[:len(b)/2])(t, dir)
		}, "parsing apiserver.crt"},
		{"admin.key garbage", write(adminKeyFile, pemOf("PRIVATE KEY", []byte("junk"))), "parsing admin.key"},
		{"admin.key empty", write(adminKeyFile, nil), "parsing admin.key"},
		{"sa.key not RSA", write(saKeyFile, pemOf("PRIVATE KEY", ecDER)), "want an RSA key"},
		{"sa.key too small", write(saKeyFile, pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(smallRSA))), "1024 bits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{Dir: dir, Now: clockAt(t0)}
			mustEnsure(t, cfg)
			tc.setup(t, dir)
			before := snapshot(t, dir)
			_, err := Ensure(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Ensure error = %v, want one containing %q", err, tc.wantErr)
			}
			if diff := changed(before, snapshot(t, dir)); diff != nil {
				t.Errorf("failed Ensure changed %v", diff)
			}
		})
	}
}

func TestEnsureConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no dir", Config{}},
		{"empty hostname", Config{Dir: t.TempDir(), Hostnames: []string{" "}}},
		{"invalid IP", Config{Dir: t.TempDir(), IPs: []net.IP{{1, 2, 3}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Ensure(tc.cfg); err == nil {
				t.Error("Ensure succeeded, want an error")
			}
		})
	}
}

func TestIssueClientCert(t *testing.T) {
	dir := t.TempDir()
	p := mustEnsure(t, Config{Dir: dir, Now: clockAt(t0)})
	ca := readCert(t, dir, caCertFile)
	tests := []struct {
		name         string
		cn           string
		orgs         []string
		ttl          time.Duration
		wantNotAfter time.Time
		wantErr      bool
	}{
		{name: "default ttl", cn: "system:node:n1", orgs: []string{"system:nodes"}, wantNotAfter: t0.Add(LeafValidity)},
		{name: "one hour", cn: "system:kube-scheduler", ttl: time.Hour, wantNotAfter: t0.Add(time.Hour)},
		{name: "capped at the CA", cn: "long", ttl: 2 * CAValidity, wantNotAfter: ca.NotAfter},
		{name: "empty cn", cn: "", wantErr: true},
		{name: "negative ttl", cn: "x", ttl: -time.Second, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, keyPEM, err := p.IssueClientCert(tc.cn, tc.orgs, tc.ttl)
			if tc.wantErr {
				if err == nil {
					t.Fatal("IssueClientCert succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := parseCertPEM(certPEM)
			if err != nil {
				t.Fatal(err)
			}
			key, err := parseKeyPEM(keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(key, c.PublicKey) {
				t.Error("key does not match certificate")
			}
			verify(t, c, ca, t0, x509.ExtKeyUsageClientAuth, "")
			type got struct {
				CN       string
				O        []string
				Usage    []x509.ExtKeyUsage
				NotAfter time.Time
			}
			want := got{tc.cn, tc.orgs, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, tc.wantNotAfter}
			if diff := cmp.Diff(want, got{c.Subject.CommonName, c.Subject.Organization, c.ExtKeyUsage, c.NotAfter}); diff != "" {
				t.Errorf("certificate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIssueServingCert(t *testing.T) {
	dir := t.TempDir()
	p := mustEnsure(t, Config{Dir: dir, Now: clockAt(t0)})
	ca := readCert(t, dir, caCertFile)
	tests := []struct {
		name    string
		dns     []string
		ips     []net.IP
		ttl     time.Duration
		wantErr bool
	}{
		{name: "ip and name", dns: []string{"n1"}, ips: []net.IP{net.IPv4(127, 0, 0, 1)}},
		{name: "name only", dns: []string{"n1"}, ttl: time.Hour},
		{name: "no names", wantErr: true},
		{name: "negative ttl", dns: []string{"n1"}, ttl: -time.Second, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, keyPEM, err := p.IssueServingCert("n1", tc.dns, tc.ips, tc.ttl)
			if tc.wantErr {
				if err == nil {
					t.Fatal("IssueServingCert succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := parseCertPEM(certPEM)
			if err != nil {
				t.Fatal(err)
			}
			key, err := parseKeyPEM(keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(key, c.PublicKey) {
				t.Error("key does not match certificate")
			}
			verify(t, c, ca, t0, x509.ExtKeyUsageServerAuth, "n1")
			if len(tc.ips) > 0 {
				verify(t, c, ca, t0, x509.ExtKeyUsageServerAuth, "127.0.0.1")
			}
			if diff := cmp.Diff([]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, c.ExtKeyUsage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadCA(t *testing.T) {
	dir := t.TempDir()
	p := mustEnsure(t, Config{Dir: dir})
	loaded, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loaded.CAPEM(), p.CAPEM()) {
		t.Error("loaded CA differs from the ensured one")
	}
	certPEM, _, err := loaded.IssueServingCert("n1", []string{"n1"}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCertPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, c, readCert(t, dir, caCertFile), time.Now(), x509.ExtKeyUsageServerAuth, "n1")
	if _, err := LoadCA(t.TempDir()); err == nil {
		t.Error("LoadCA of an empty directory succeeded")
	}
}
