package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// PEM block types.
const (
	blockCertificate = "CERTIFICATE"
	blockPKCS8       = "PRIVATE KEY"
	blockEC          = "EC PRIVATE KEY"
	blockPKCS1       = "RSA PRIVATE KEY"
	blockPublicKey   = "PUBLIC KEY"
)

// parseCertPEM returns the first CERTIFICATE block of data, parsed. Other
// block types before it are skipped; data after it is ignored.
func parseCertPEM(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no CERTIFICATE PEM block")
		}
		if b.Type == blockCertificate {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

// parseKeyPEM returns the first private key of data: PKCS#8, SEC 1 (EC) or
// PKCS#1 (RSA). Other block types before it, such as EC PARAMETERS, are
// skipped.
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no private key PEM block")
		}
		switch b.Type {
		case blockPKCS8:
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("unsupported private key type %T", k)
			}
			return s, nil
		case blockEC:
			return x509.ParseECPrivateKey(b.Bytes)
		case blockPKCS1:
			return x509.ParsePKCS1PrivateKey(b.Bytes)
		}
	}
}

// encodeCertPEM returns der as one CERTIFICATE PEM block.
func encodeCertPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: blockCertificate, Bytes: der})
}

// encodeKeyPEM returns key as a PKCS#8 PRIVATE KEY PEM block.
func encodeKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: blockPKCS8, Bytes: der}), nil
}

// publicKeysEqual reports whether key is the private half of pub.
func publicKeysEqual(key crypto.Signer, pub crypto.PublicKey) bool {
	k, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(pub)
}

// writeFileAtomic replaces path with data: it writes a temporary file in the
// same directory with the given mode, fsyncs it, renames it over path and
// fsyncs the directory. Readers see the old or the new content, never a mix,
// also after a crash.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
