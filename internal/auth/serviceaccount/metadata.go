package serviceaccount

import (
	"encoding/json"
	"errors"
	"math/big"
	"net/url"
)

// Paths of the OpenID Connect discovery documents the API server serves
// for its ServiceAccount issuer.
const (
	OpenIDConfigurationPath = "/.well-known/openid-configuration"
	JWKSPath                = "/openid/v1/jwks"
)

// OpenIDConfiguration returns the discovery document for the issuer, as
// upstream serves it, with jwksURI as where its keys are. It is an error
// when the issuer is not an https URL: then there is nothing to discover.
func (i *Issuer) OpenIDConfiguration(jwksURI string) ([]byte, error) {
	u, err := url.Parse(i.url)
	if err != nil || u.Scheme != "https" {
		return nil, errors.New("serviceaccount: the issuer is not an https URL")
	}
	return json.Marshal(struct {
		Issuer   string   `json:"issuer"`
		JWKSURI  string   `json:"jwks_uri"`
		Response []string `json:"response_types_supported"`
		Subjects []string `json:"subject_types_supported"`
		Algs     []string `json:"id_token_signing_alg_values_supported"`
	}{i.url, jwksURI, []string{"id_token"}, []string{"public"}, []string{algRS256}})
}

// JWK is one JSON Web Key of an RSA public key.
type JWK struct {
	Use string `json:"use,omitempty"`
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKS returns the issuer's key set: {"keys":[...]}.
func (i *Issuer) JWKS() ([]byte, error) {
	pub := i.key.PublicKey
	return json.Marshal(struct {
		Keys []JWK `json:"keys"`
	}{[]JWK{{
		Use: "sig", Kty: "RSA", Kid: i.kid, Alg: algRS256,
		N: b64.EncodeToString(pub.N.Bytes()),
		E: b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}
