package pki

import (
	"crypto/tls"
)

// ServingTLSConfig returns a new TLS configuration for the API server: the
// serving certificate, TLS 1.2 or later, and for TLS 1.2 only ECDHE key
// exchange with AEAD ciphers (TLS 1.3 suites are all AEAD). Client
// certificates are requested and, when a client offers one, verified
// against the CA for client authentication; clients without one still
// connect and are left to the other authenticators. The served chain ends
// with the CA itself, so that a joining node can learn the CA from the
// handshake, before it has any credential, and check it against the hash
// its join token pins. ALPN offers h2 and http/1.1. The caller may modify
// the returned value.
func (p *PKI) ServingTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		Certificates: []tls.Certificate{{
			Certificate: [][]byte{p.serving.Raw, p.ca.Raw},
			PrivateKey:  p.servingKey,
			Leaf:        p.serving,
		}},
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  p.CAPool(),
		NextProtos: []string{"h2", "http/1.1"},
	}
}
