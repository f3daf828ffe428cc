package pki

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Lifetimes and the renewal window of the certificates Ensure makes.
const (
	// CAValidity is the lifetime of a new cluster CA.
	CAValidity = 10 * 365 * 24 * time.Hour
	// LeafValidity is the lifetime of serving and client certificates, and
	// the default of IssueClientCert.
	LeafValidity = 365 * 24 * time.Hour
	// RenewBefore is how long before its expiry a leaf certificate is
	// re-issued by Ensure.
	RenewBefore = 30 * 24 * time.Hour

	// AdminUser is the common name of the admin client certificate.
	AdminUser = "berth-admin"
	// AdminGroup is the organization of the admin client certificate: the
	// group that RBAC binds to cluster-admin.
	AdminGroup = "system:masters"
)

// backdate is subtracted from NotBefore so that a certificate made on one
// machine is already valid on another whose clock is slightly behind.
const backdate = 5 * time.Minute

// File names inside Config.Dir.
const (
	caCertFile      = "ca.crt"
	caKeyFile       = "ca.key"
	servingCertFile = "apiserver.crt"
	servingKeyFile  = "apiserver.key"
	adminCertFile   = "admin.crt"
	adminKeyFile    = "admin.key"
	saKeyFile       = "sa.key"
	saPubFile       = "sa.pub"
)

// Config says where the PKI lives and which names the serving certificate
// must carry.
type Config struct {
	// Dir is the PKI directory, e.g. <data-dir>/pki. It is created with
	// mode 0700 if missing, and set to 0700 if it exists.
	Dir string
	// Hostnames are extra DNS names for the serving certificate. An entry
	// that parses as an IP address is treated as one of IPs.
	Hostnames []string
	// IPs are extra IP addresses for the serving certificate.
	IPs []net.IP
	// ServiceIP is the ClusterIP of the kubernetes Service, added to the
	// serving certificate. Nil means 10.43.0.1.
	ServiceIP net.IP
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives one record per file created or re-issued. Nil
	// discards.
	Logger *slog.Logger
}

// PKI is the loaded key material of a cluster. It is immutable after Ensure
// returns and safe for concurrent use.
type PKI struct {
	now func() time.Time

	ca     *x509.Certificate
	caKey  crypto.Signer
	caPEM  []byte
	caPool *x509.CertPool

	serving     *x509.Certificate
	servingKey  crypto.Signer
	adminCert   []byte
	adminKey    []byte
	saKey       *rsa.PrivateKey
	saPublicPEM []byte
}

// Ensure loads the PKI in cfg.Dir, creating or re-issuing whatever is
// missing or no longer fit:
//
//   - the CA is created only when ca.crt is absent; an existing CA is kept
//     forever, and a ca.crt whose ca.key is missing is an error;
//   - the serving certificate is re-issued when it is missing, does not
//     match its key, does not verify against the CA, expires within
//     RenewBefore, or lacks a DNS name or IP now needed (the machine's
//     hostname and non-loopback, non-link-local interface addresses,
//     localhost, the kubernetes Service names, 127.0.0.1, ::1,
//     cfg.ServiceIP and cfg's extras). Names it has but no longer needs
//     do not cause a re-issue;
//   - the admin client certificate is re-issued on the same grounds
//     (without names);
//   - the ServiceAccount key is created only when sa.key is absent.
//
// Files that exist but cannot be parsed are an error, never replaced:
// atomic writes mean they were not left half-written by berth.
func Ensure(cfg Config) (*PKI, error) {
	if cfg.Dir == "" {
		return nil, errors.New("pki: Dir is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ServiceIP == nil {
		// The first address of the default service CIDR 10.43.0.0/16.
		cfg.ServiceIP = net.IPv4(10, 43, 0, 1)
	}
	log := cfg.Logger.With("component", "pki", "dir", cfg.Dir)

	dnsNames, ips, err := servingNames(cfg)
	if err != nil {
		return nil, err
	}

	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating pki directory: %w", err)
	}
	if err := os.Chmod(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("restricting pki directory: %w", err)
	}

	p := &PKI{now: cfg.Now}
	if err := p.ensureCA(cfg.Dir, log); err != nil {
		return nil, err
	}

	servingPEM, servingKeyPEM, err := p.ensureLeaf(cfg.Dir, log, leafSpec{
		certFile: servingCertFile,
		keyFile:  servingKeyFile,
		usage:    x509.ExtKeyUsageServerAuth,
		template: func() *x509.Certificate {
			return &x509.Certificate{
				Subject:     subject("berth-apiserver", nil),
				DNSNames:    dnsNames,
				IPAddresses: ips,
			}
		},
		check: func(c *x509.Certificate) string { return missingName(c, dnsNames, ips) },
	})
	if err != nil {
		return nil, err
	}
	if p.serving, err = parseCertPEM(servingPEM); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", servingCertFile, err)
	}
	if p.servingKey, err = parseKeyPEM(servingKeyPEM); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", servingKeyFile, err)
	}

	p.adminCert, p.adminKey, err = p.ensureLeaf(cfg.Dir, log, leafSpec{
		certFile: adminCertFile,
		keyFile:  adminKeyFile,
		usage:    x509.ExtKeyUsageClientAuth,
		template: func() *x509.Certificate {
			return &x509.Certificate{Subject: subject(AdminUser, []string{AdminGroup})}
		},
		check: func(c *x509.Certificate) string {
			if c.Subject.CommonName != AdminUser || !slices.Equal(c.Subject.Organization, []string{AdminGroup}) {
				return "subject is not " + AdminUser + "/" + AdminGroup
			}
			return ""
		},
	})
	if err != nil {
		return nil, err
	}

	if err := p.ensureServiceAccountKey(cfg.Dir, log); err != nil {
		return nil, err
	}
	return p, nil
}

// servingNames returns the DNS names and IPs the serving certificate must
// carry, without duplicates, in a stable order.
func servingNames(cfg Config) ([]string, []net.IP, error) {
	host, machineIPs, err := machineAddrs()
	if err != nil {
		return nil, nil, err
	}
	dns := []string{host, "localhost", "kubernetes", "kubernetes.default",
		"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, cfg.ServiceIP}
	ips = append(ips, machineIPs...)
	ips = append(ips, cfg.IPs...)
	for _, h := range cfg.Hostnames {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, nil, errors.New("pki: empty entry in Hostnames")
		}
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
			continue
		}
		dns = append(dns, strings.ToLower(h))
	}

	var outDNS []string
	for _, d := range dns {
		if !slices.Contains(outDNS, d) {
			outDNS = append(outDNS, d)
		}
	}
	var outIPs []net.IP
	for _, ip := range ips {
		if ip.To16() == nil {
			return nil, nil, fmt.Errorf("pki: invalid IP %v", ip)
		}
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		if !slices.ContainsFunc(outIPs, ip.Equal) {
			outIPs = append(outIPs, ip)
		}
	}
	return outDNS, outIPs, nil
}

// machineAddrs returns the machine's lower-cased hostname and the addresses
// of its interfaces that other machines can reach: loopback, link-local,
// multicast and unspecified addresses are left out. Link-local addresses are
// left out because every pod's host-side veth gets one, and they would
// otherwise force a new serving certificate whenever pods come and go.
func machineAddrs() (string, []net.IP, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", nil, fmt.Errorf("reading hostname: %w", err)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", nil, fmt.Errorf("listing interface addresses: %w", err)
	}
	var ips []net.IP
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip := n.IP
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
			continue
		}
		ips = append(ips, ip)
	}
	return strings.ToLower(host), ips, nil
}

// missingName returns a reason if c lacks one of the DNS names or IPs, or
// "" if it has them all.
func missingName(c *x509.Certificate, dns []string, ips []net.IP) string {
	for _, d := range dns {
		if !slices.ContainsFunc(c.DNSNames, func(have string) bool { return strings.EqualFold(have, d) }) {
			return "lacks DNS name " + d
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return "lacks IP " + ip.String()
		}
	}
	return ""
}

// CAPEM returns the CA certificate in PEM form. The caller must not modify
// the returned slice.
func (p *PKI) CAPEM() []byte { return p.caPEM }

// CA returns the cluster CA certificate and its private key, for the
// signer that issues certificates of approved CSRs.
func (p *PKI) CA() (*x509.Certificate, crypto.Signer) { return p.ca, p.caKey }

// CAPool returns a new pool holding only the CA certificate.
func (p *PKI) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	return pool
}

// ServingCert returns the API server's serving certificate. The caller
// must not modify it.
func (p *PKI) ServingCert() *x509.Certificate { return p.serving }

// AdminCert returns the admin client certificate and its private key in
// PEM form, for the admin kubeconfig. The caller must not modify them.
func (p *PKI) AdminCert() (certPEM, keyPEM []byte) { return p.adminCert, p.adminKey }

// ServiceAccountKey returns the RSA key that signs ServiceAccount tokens
// (RS256). The caller must not modify it.
func (p *PKI) ServiceAccountKey() *rsa.PrivateKey { return p.saKey }

// ServiceAccountPublicKeyPEM returns the public half of ServiceAccountKey
// as a PKIX "PUBLIC KEY" PEM block. The caller must not modify it.
func (p *PKI) ServiceAccountPublicKeyPEM() []byte { return p.saPublicPEM }
