package serviceaccount

// Claims are the claims of a ServiceAccount token, as upstream writes
// them: the registered JWT claims, the private `kubernetes.io` claim of
// bound tokens, and the flat `kubernetes.io/serviceaccount/...` claims of
// legacy Secret-based tokens.
type Claims struct {
	Issuer    string       `json:"iss,omitempty"`
	Subject   string       `json:"sub,omitempty"`
	Audience  Audience     `json:"aud,omitempty"`
	Expiry    *NumericDate `json:"exp,omitempty"`
	NotBefore *NumericDate `json:"nbf,omitempty"`
	IssuedAt  *NumericDate `json:"iat,omitempty"`
	ID        string       `json:"jti,omitempty"`

	Kubernetes *Private `json:"kubernetes.io,omitempty"`

	LegacyNamespace  string `json:"kubernetes.io/serviceaccount/namespace,omitempty"`
	LegacySecretName string `json:"kubernetes.io/serviceaccount/secret.name,omitempty"`
	LegacySAName     string `json:"kubernetes.io/serviceaccount/service-account.name,omitempty"`
	LegacySAUID      string `json:"kubernetes.io/serviceaccount/service-account.uid,omitempty"`
}

// Private is the `kubernetes.io` claim: whose token it is and what it is
// bound to.
type Private struct {
	Namespace      string `json:"namespace,omitempty"`
	ServiceAccount Ref    `json:"serviceaccount"`
	Pod            *Ref   `json:"pod,omitempty"`
	Secret         *Ref   `json:"secret,omitempty"`
	Node           *Ref   `json:"node,omitempty"`
	// WarnAfter is set on the extended tokens of pods that asked for the
	// 3607 s migration lifetime: past it the token still works, and its
	// use is worth a warning.
	WarnAfter *NumericDate `json:"warnafter,omitempty"`
}

// Ref names an object a token belongs or is bound to.
type Ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// LegacyIssuer is the issuer of Secret-based tokens.
const LegacyIssuer = "kubernetes/serviceaccount"

// DefaultIssuer is the issuer of bound tokens when none is configured.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// UserName returns the user name of a ServiceAccount:
// system:serviceaccount:<namespace>:<name>.
func UserName(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// Groups of every ServiceAccount user, and the prefix of its namespace's
// group.
const (
	AllGroup        = "system:serviceaccounts"
	NamespacePrefix = "system:serviceaccounts:"
)

// Keys of the extra attributes of ServiceAccount users.
const (
	ExtraPodName      = "authentication.kubernetes.io/pod-name"
	ExtraPodUID       = "authentication.kubernetes.io/pod-uid"
	ExtraNodeName     = "authentication.kubernetes.io/node-name"
	ExtraNodeUID      = "authentication.kubernetes.io/node-uid"
	ExtraCredentialID = "authentication.kubernetes.io/credential-id"
)
