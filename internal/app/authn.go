package app

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/pflag"

	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/oidc"
	"berth.dev/berth/internal/auth/tokenfile"
)

// authnOptions are the authentication flags of `berth server`, named as
// kube-apiserver's.
type authnOptions struct {
	issuer    string
	tokenFile string

	oidcIssuerURL      string
	oidcClientID       string
	oidcUsernameClaim  string
	oidcUsernamePrefix string
	oidcGroupsClaim    string
	oidcGroupsPrefix   string
	oidcCAFile         string
	oidcRequiredClaims map[string]string
}

func (o *authnOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.issuer, "service-account-issuer", "https://kubernetes.default.svc.cluster.local", "iss of the ServiceAccount tokens the API server issues, and the audience it accepts tokens for")
	f.StringVar(&o.tokenFile, "token-auth-file", "", `CSV file of static bearer tokens: token,user,uid,"group1,group2"`)
	f.StringVar(&o.oidcIssuerURL, "oidc-issuer-url", "", "https URL of an OpenID Connect provider whose ID tokens authenticate users")
	f.StringVar(&o.oidcClientID, "oidc-client-id", "", "client ID the ID tokens must be for (their aud)")
	f.StringVar(&o.oidcUsernameClaim, "oidc-username-claim", "sub", "ID token claim that is the user name")
	f.StringVar(&o.oidcUsernamePrefix, "oidc-username-prefix", "", `prefix of OIDC user names; empty means the issuer URL and "#" for claims other than email, "-" means none`)
	f.StringVar(&o.oidcGroupsClaim, "oidc-groups-claim", "", "ID token claim that lists the user's groups")
	f.StringVar(&o.oidcGroupsPrefix, "oidc-groups-prefix", "", "prefix of OIDC group names")
	f.StringVar(&o.oidcCAFile, "oidc-ca-file", "", "CA bundle to verify the OIDC provider with (default: the system's)")
	f.StringToStringVar(&o.oidcRequiredClaims, "oidc-required-claim", nil, "key=value that ID tokens must carry; repeat for more")
}

// apply adds the authenticators the flags ask for to cfg: static tokens
// right after client certificates, before bootstrap and ServiceAccount
// tokens; OIDC last.
func (o *authnOptions) apply(cfg *apiserver.Config) error {
	agnostic := func(t auth.TokenAuthenticator) auth.Authenticator {
		return &auth.Bearer{Token: &auth.AudienceAgnostic{Token: t, Audiences: cfg.APIAudiences}, Audiences: cfg.APIAudiences}
	}
	if o.tokenFile != "" {
		t, err := tokenfile.Load(o.tokenFile)
		if err != nil {
			return err
		}
		cfg.Authenticators = slices.Insert(cfg.Authenticators, min(1, len(cfg.Authenticators)), agnostic(t))
	}
	switch {
	case o.oidcIssuerURL == "" && o.oidcClientID == "":
		return nil
	case o.oidcIssuerURL == "" || o.oidcClientID == "":
		return errors.New("--oidc-issuer-url and --oidc-client-id go together")
	}
	oc := oidc.Config{
		IssuerURL: o.oidcIssuerURL, ClientID: o.oidcClientID,
		UsernameClaim: o.oidcUsernameClaim, UsernamePrefix: o.oidcUsernamePrefix,
		GroupsClaim: o.oidcGroupsClaim, GroupsPrefix: o.oidcGroupsPrefix,
		RequiredClaims: o.oidcRequiredClaims,
	}
	if o.oidcCAFile != "" {
		b, err := os.ReadFile(o.oidcCAFile)
		if err != nil {
			return fmt.Errorf("--oidc-ca-file: %w", err)
		}
		oc.CAPEM = b
	}
	a, err := oidc.New(oc)
	if err != nil {
		return err
	}
	cfg.Authenticators = append(cfg.Authenticators, agnostic(a))
	return nil
}
