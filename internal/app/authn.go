package app

import (
	"slices"

	"github.com/spf13/pflag"

	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/tokenfile"
)

// authnOptions are the authentication flags of `berth server`.
type authnOptions struct {
	issuer    string
	tokenFile string
}

func (o *authnOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.issuer, "service-account-issuer", "https://kubernetes.default.svc.cluster.local", "iss of the ServiceAccount tokens the API server issues, and the audience it accepts tokens for")
	f.StringVar(&o.tokenFile, "token-auth-file", "", `CSV file of static bearer tokens: token,user,uid,"group1,group2"`)
}

// apply adds the authenticators the flags ask for to cfg: static tokens
// right after client certificates, before bootstrap and ServiceAccount
// tokens.
func (o *authnOptions) apply(cfg *apiserver.Config) error {
	if o.tokenFile == "" {
		return nil
	}
	t, err := tokenfile.Load(o.tokenFile)
	if err != nil {
		return err
	}
	static := &auth.Bearer{Token: &auth.AudienceAgnostic{Token: t, Audiences: cfg.APIAudiences}, Audiences: cfg.APIAudiences}
	at := min(1, len(cfg.Authenticators))
	cfg.Authenticators = slices.Insert(cfg.Authenticators, at, auth.Authenticator(static))
	return nil
}
