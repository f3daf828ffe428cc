// Package encryption encrypts chosen resources at rest, configured by
// upstream Kubernetes' EncryptionConfiguration file
// (apiserver.config.k8s.io/v1): per list of resources, an ordered list of
// providers (aesgcm, aescbc, secretbox, identity), each with named keys.
//
// Store wraps a store.Store. Values written under a configured resource's
// keys (/registry/<group|core>/<resource>/...) are transformed by the first
// provider's first key and stored with upstream's prefix,
// "k8s:enc:<provider>:v1:<key name>:" followed by the ciphertext in
// upstream's layout (aescbc: IV, then CBC with PKCS#7 padding; aesgcm:
// 12-byte nonce, then the sealed data authenticated with the storage key;
// secretbox: 24-byte nonce, then the sealed box). Reads (Get, List and
// Watch events) pick the provider and key by that prefix, so every listed
// key decrypts; identity writes plain values and reads values without an
// encryption prefix. Keys are rotated by adding a key in front, rewriting
// the objects, and removing the old key (see the README).
//
// The configuration is read once at start; Ensure writes a generated one
// (aescbc with a random 32-byte key, then identity for data written before
// encryption was on) when the file does not exist.
package encryption
