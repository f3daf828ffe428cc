package apiserver

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/bootstrap"
	"berth.dev/berth/internal/auth/serviceaccount"
	"berth.dev/berth/internal/auth/tokenfile"
)

// clock is a settable clock for the token authenticators.
type clock struct{ skew atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.skew.Load())) }
func (c *clock) advance(d time.Duration) { c.skew.Add(int64(d)) }
func (c *clock) reset()                  { c.skew.Store(0) }

// startTokenServer starts a server whose ServiceAccount and bootstrap
// token authenticators read clk, with a static token file.
func startTokenServer(t *testing.T, clk *clock) *testServer {
	t.Helper()
	return startTestServerWith(t, func(c *Config) {
		for i, a := range c.Authenticators {
			b, ok := a.(*auth.Bearer)
			if !ok {
				continue
			}
			switch tok := b.Token.(type) {
			case *serviceaccount.Authenticator:
				sa, err := serviceaccount.NewAuthenticator(serviceaccount.AuthenticatorConfig{
					Issuers: []string{c.ServiceAccountIssuer.URL()},
					Keys:    []*rsa.PublicKey{c.ServiceAccountIssuer.PublicKey()},
					Now:     clk.now,
				})
				if err != nil {
					t.Fatal(err)
				}
				c.Authenticators[i] = &auth.Bearer{Token: sa, Audiences: b.Audiences}
			case *auth.AudienceAgnostic:
				if bt, ok := tok.Token.(*bootstrap.Authenticator); ok {
					bt.Now = clk.now
				}
			}
		}
		static, err := tokenfile.Parse(strings.NewReader("static-secret,alice,uid-1,\"dev,ops\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		c.Authenticators = slices.Insert(c.Authenticators, 1, auth.Authenticator(&auth.Bearer{
			Token: &auth.AudienceAgnostic{Token: static, Audiences: c.APIAudiences}, Audiences: c.APIAudiences}))
		c.Authorizers = append(c.Authorizers, basicUser{})
	})
}

// basicUser lets every user review itself, as upstream's system:basic-user
// role does through RBAC.
type basicUser struct{}

func (basicUser) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if a.Verb == "create" && a.APIGroup == "authentication.k8s.io" && a.Resource == "selfsubjectreviews" {
		return auth.Allow, "", nil
	}
	return auth.NoOpinion, "", nil
}

// tokenClient returns a clientset that authenticates with token only.
func (ts *testServer) tokenClient(t *testing.T, token string) kubernetes.Interface {
	t.Helper()
	cfg := ts.config(nil, nil)
	cfg.BearerToken = token
	return kubernetes.NewForConfigOrDie(cfg)
}

// whoami returns the user token authenticates as, or the error.
func whoami(ctx context.Context, c kubernetes.Interface) (authenticationv1.UserInfo, error) {
	r, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return r.Status.UserInfo, nil
}

// waitUnauthorized waits until token is refused.
func waitUnauthorized(t *testing.T, c kubernetes.Interface, why string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := whoami(ctx, c)
		return apierrors.IsUnauthorized(err), nil
	})
	if err != nil {
		t.Fatalf("token still accepted %s", why)
	}
}

func TestServiceAccountTokens(t *testing.T) {
	clk := &clock{}
	ts := startTokenServer(t, clk)
	ctx := context.Background()
	admin := kubernetes.NewForConfigOrDie(ts.admin)
	sas := admin.CoreV1().ServiceAccounts("default")
	sa, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	request := func(t *testing.T, spec authenticationv1.TokenRequestSpec) (*authenticationv1.TokenRequest, error) {
		t.Helper()
		return sas.CreateToken(ctx, "robot", &authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	}

	t.Run("discovery lists the token subresource", func(t *testing.T) {
		list, err := admin.Discovery().ServerResourcesForGroupVersion("v1")
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == "serviceaccounts/token" })
		if i < 0 {
			t.Fatal("no serviceaccounts/token in discovery")
		}
		r := list.APIResources[i]
		if r.Group != "authentication.k8s.io" || r.Version != "v1" || r.Kind != "TokenRequest" || !slices.Equal(r.Verbs, []string{"create"}) {
			t.Errorf("serviceaccounts/token = %+v", r)
		}
	})

	t.Run("token request defaults and whoami", func(t *testing.T) {
		before := time.Now().Truncate(time.Second)
		tr, err := request(t, authenticationv1.TokenRequestSpec{})
		if err != nil {
			t.Fatal(err)
		}
		if *tr.Spec.ExpirationSeconds != 3600 || !slices.Equal(tr.Spec.Audiences, []string{serviceaccount.DefaultIssuer}) || tr.Name != "robot" || tr.Namespace != "default" {
			t.Errorf("spec/meta not defaulted: %+v %+v", tr.ObjectMeta, tr.Spec)
		}
		if exp := tr.Status.ExpirationTimestamp.Time; exp.Before(before.Add(time.Hour)) || exp.After(time.Now().Add(time.Hour)) {
			t.Errorf("expirationTimestamp %v, want an hour from now", exp)
		}
		u, err := whoami(ctx, ts.tokenClient(t, tr.Status.Token))
		if err != nil {
			t.Fatal(err)
		}
		jti := u.Extra[serviceaccount.ExtraCredentialID]
		if len(jti) != 1 || !strings.HasPrefix(jti[0], "JTI=") {
			t.Errorf("credential-id %v", jti)
		}
		want := authenticationv1.UserInfo{Username: "system:serviceaccount:default:robot", UID: string(sa.UID),
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"},
			Extra:  map[string]authenticationv1.ExtraValue{serviceaccount.ExtraCredentialID: jti}}
		if diff := cmp.Diff(want, u); diff != "" {
			t.Errorf("whoami (-want +got):\n%s", diff)
		}
	})

	t.Run("validation", func(t *testing.T) {
		_, err := request(t, authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](599)})
		wantStatus(t, err, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid,
			`TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes`)
		_, err = sas.CreateToken(ctx, "nobody", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, `serviceaccounts "nobody" not found`)
		_, err = request(t, authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "ConfigMap", APIVersion: "v1", Name: "x"}})
		wantStatus(t, err, http.StatusBadRequest, metav1.StatusReasonBadRequest, "cannot bind token to object of type /v1, Kind=ConfigMap")
	})

	t.Run("expiry", func(t *testing.T) {
		defer clk.reset()
		tr, err := request(t, authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)})
		if err != nil {
			t.Fatal(err)
		}
		c := ts.tokenClient(t, tr.Status.Token)
		if _, err := whoami(ctx, c); err != nil {
			t.Fatal(err)
		}
		clk.advance(12 * time.Minute)
		_, err = whoami(ctx, c)
		wantStatus(t, err, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
	})

	t.Run("audiences and token review", func(t *testing.T) {
		tr, err := request(t, authenticationv1.TokenRequestSpec{Audiences: []string{"vault"}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = whoami(ctx, ts.tokenClient(t, tr.Status.Token))
		if !apierrors.IsUnauthorized(err) {
			t.Errorf("a token for vault used on the API: %v, want 401", err)
		}
		review := func(token string, auds ...string) authenticationv1.TokenReviewStatus {
			t.Helper()
			r, err := admin.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
				Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: auds}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return r.Status
		}
		if st := review(tr.Status.Token, "vault"); !st.Authenticated || st.User.Username != "system:serviceaccount:default:robot" || !slices.Equal(st.Audiences, []string{"vault"}) {
			t.Errorf("review for vault: %+v", st)
		}
		if st := review(tr.Status.Token); st.Authenticated || !strings.Contains(st.Error, "audiences") {
			t.Errorf("review for the API: %+v", st)
		}
		if st := review("static-secret"); !st.Authenticated || st.User.Username != "alice" || !slices.Equal(st.Audiences, []string{serviceaccount.DefaultIssuer}) {
			t.Errorf("review of a static token: %+v", st)
		}
		if st := review("static-secret", "vault"); st.Authenticated {
			t.Errorf("a static token reviewed for vault: %+v", st)
		}
		if st := review("nonsense"); st.Authenticated || st.Error != "" {
			t.Errorf("review of garbage: %+v", st)
		}
		_, err = admin.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{}, metav1.CreateOptions{})
		wantStatus(t, err, http.StatusBadRequest, metav1.StatusReasonBadRequest, "token is required for TokenReview in authentication")
	})

	t.Run("bound to a pod", func(t *testing.T) {
		pods := admin.CoreV1().Pods("default")
		p := testPod("bound")
		p.Spec.ServiceAccountName = "robot"
		p, err := pods.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		other, err := pods.Create(ctx, testPod("other-sa"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = request(t, authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: other.Name}})
		wantStatus(t, err, http.StatusBadRequest, metav1.StatusReasonBadRequest, `cannot bind token for serviceaccount "robot" to pod running with different serviceaccount name.`)
		_, err = request(t, authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: "stale"}})
		if !apierrors.IsConflict(err) {
			t.Errorf("stale bound UID: %v, want 409", err)
		}
		tr, err := request(t, authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID}})
		if err != nil {
			t.Fatal(err)
		}
		c := ts.tokenClient(t, tr.Status.Token)
		u, err := whoami(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"bound"}, []string(u.Extra[serviceaccount.ExtraPodName])); diff != "" {
			t.Errorf("pod-name (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{string(p.UID)}, []string(u.Extra[serviceaccount.ExtraPodUID])); diff != "" {
			t.Errorf("pod-uid (-want +got):\n%s", diff)
		}
		// The kubelets' 3607 s tokens live a year, with a warnafter claim.
		ext, err := request(t, authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3607),
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name}})
		if err != nil {
			t.Fatal(err)
		}
		claims := tokenClaims(t, ext.Status.Token)
		if exp, iat := int64(*claims.Expiry), int64(*claims.IssuedAt); exp-iat != 365*24*3600 || claims.Kubernetes.WarnAfter == nil || int64(*claims.Kubernetes.WarnAfter)-iat != 3607 {
			t.Errorf("3607 s token: iat %d exp %d warnafter %v", iat, exp, claims.Kubernetes.WarnAfter)
		}
		if left := time.Until(ext.Status.ExpirationTimestamp.Time); left > 3607*time.Second || left < 3500*time.Second {
			t.Errorf("3607 s token: status.expirationTimestamp %v away, want the requested 3607 s", left)
		}
		if err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			t.Fatal(err)
		}
		waitUnauthorized(t, c, "after its pod was deleted")
	})

	t.Run("bound to a Secret and to a Node", func(t *testing.T) {
		sec, err := admin.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "anchor"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		secTok, err := request(t, authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: sec.Name, UID: sec.UID}})
		if err != nil {
			t.Fatal(err)
		}
		nodeTok, err := request(t, authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Node", APIVersion: "v1", Name: node.Name}})
		if err != nil {
			t.Fatal(err)
		}
		sc, nc := ts.tokenClient(t, secTok.Status.Token), ts.tokenClient(t, nodeTok.Status.Token)
		u, err := whoami(ctx, nc)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Extra[serviceaccount.ExtraNodeName]; len(got) != 1 || got[0] != "n1" {
			t.Errorf("node-name extra %v", got)
		}
		if _, err := whoami(ctx, sc); err != nil {
			t.Fatal(err)
		}
		if err := admin.CoreV1().Secrets("default").Delete(ctx, sec.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitUnauthorized(t, sc, "after its Secret was deleted")
		if err := admin.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitUnauthorized(t, nc, "after its Node was deleted")
	})

	t.Run("OpenID discovery", func(t *testing.T) {
		r := ts.do(t, http.MethodGet, serviceaccount.OpenIDConfigurationPath, nil)
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(r.body, &doc); err != nil || r.code != http.StatusOK {
			t.Fatalf("%s: %d %s", serviceaccount.OpenIDConfigurationPath, r.code, r.body)
		}
		if doc.Issuer != serviceaccount.DefaultIssuer || doc.JWKSURI != "https://192.0.2.10:6443/openid/v1/jwks" {
			t.Errorf("discovery document %+v", doc)
		}
		r = ts.do(t, http.MethodGet, serviceaccount.JWKSPath, nil)
		var set struct{ Keys []serviceaccount.JWK }
		if err := json.Unmarshal(r.body, &set); err != nil || r.code != http.StatusOK || len(set.Keys) != 1 {
			t.Fatalf("%s: %d %s", serviceaccount.JWKSPath, r.code, r.body)
		}
		kid, err := serviceaccount.KeyID(&ts.pki.ServiceAccountKey().PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if k := set.Keys[0]; k.Kid != kid || k.Kty != "RSA" || k.Alg != "RS256" || k.E != "AQAB" {
			t.Errorf("JWK %+v", k)
		}
		anon, err := rest.HTTPClientFor(ts.config(nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		if r := doWith(t, anon, http.MethodGet, ts.url+serviceaccount.JWKSPath, nil); r.code != http.StatusUnauthorized {
			t.Errorf("anonymous JWKS: %d", r.code)
		}
	})

	t.Run("deleted and recreated ServiceAccount", func(t *testing.T) {
		tr, err := request(t, authenticationv1.TokenRequestSpec{})
		if err != nil {
			t.Fatal(err)
		}
		c := ts.tokenClient(t, tr.Status.Token)
		if err := sas.Delete(ctx, "robot", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitUnauthorized(t, c, "after its ServiceAccount was deleted")
		if _, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Give the cache time to see the new ServiceAccount: a fresh token works...
		err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			fresh, err := request(t, authenticationv1.TokenRequestSpec{})
			if err != nil {
				return false, err
			}
			_, err = whoami(ctx, ts.tokenClient(t, fresh.Status.Token))
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("a token of the recreated ServiceAccount: %v", err)
		}
		// ...and the old one still does not.
		if _, err := whoami(ctx, c); !apierrors.IsUnauthorized(err) {
			t.Errorf("old token after the ServiceAccount was recreated: %v, want 401", err)
		}
	})
}

func TestBearerTokens(t *testing.T) {
	clk := &clock{}
	ts := startTokenServer(t, clk)
	ctx := context.Background()
	admin := kubernetes.NewForConfigOrDie(ts.admin)

	t.Run("static token file", func(t *testing.T) {
		u, err := whoami(ctx, ts.tokenClient(t, "static-secret"))
		if err != nil {
			t.Fatal(err)
		}
		want := authenticationv1.UserInfo{Username: "alice", UID: "uid-1", Groups: []string{"dev", "ops", "system:authenticated"}}
		if diff := cmp.Diff(want, u); diff != "" {
			t.Errorf("whoami (-want +got):\n%s", diff)
		}
		_, err = whoami(ctx, ts.tokenClient(t, "static-secreT"))
		wantStatus(t, err, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
	})

	t.Run("bootstrap token", func(t *testing.T) {
		defer clk.reset()
		tok := bootstrap.Token{ID: "abcdef", Secret: "0123456789abcdef"}
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: tok.SecretName(), Namespace: "kube-system"},
			Type:       bootstrap.SecretType,
			StringData: map[string]string{
				bootstrap.KeyTokenID: tok.ID, bootstrap.KeyTokenSecret: tok.Secret,
				bootstrap.KeyUsageAuth: "true", bootstrap.KeyAuthExtraGroups: bootstrap.NodeGroup,
				bootstrap.KeyExpiration: time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			},
		}
		if _, err := admin.CoreV1().Secrets("kube-system").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c := ts.tokenClient(t, tok.String())
		var u authenticationv1.UserInfo
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			var err error
			u, err = whoami(ctx, c)
			return err == nil, nil
		})
		if err != nil {
			t.Fatal("the bootstrap token was never accepted")
		}
		want := authenticationv1.UserInfo{Username: "system:bootstrap:abcdef", Groups: []string{"system:bootstrappers", bootstrap.NodeGroup, "system:authenticated"}}
		if diff := cmp.Diff(want, u); diff != "" {
			t.Errorf("whoami (-want +got):\n%s", diff)
		}
		if _, err := whoami(ctx, ts.tokenClient(t, "abcdef.0123456789abcdee")); !apierrors.IsUnauthorized(err) {
			t.Errorf("wrong secret: %v, want 401", err)
		}
		clk.advance(2 * time.Hour)
		if _, err := whoami(ctx, c); !apierrors.IsUnauthorized(err) {
			t.Errorf("expired bootstrap token: %v, want 401", err)
		}
	})
}

// tokenClaims decodes a token's claims without verifying it.
func tokenClaims(t *testing.T, token string) serviceaccount.Claims {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWS", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c serviceaccount.Claims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
