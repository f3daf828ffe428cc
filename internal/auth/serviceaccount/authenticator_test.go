package serviceaccount

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/auth"
)

// objects is an auth.Objects over a fixed set of objects.
type objects map[string]runtime.Object

func (o objects) Get(gr schema.GroupResource, ns, name string) (runtime.Object, error) {
	if obj, ok := o[gr.Resource+"/"+ns+"/"+name]; ok {
		return obj, nil
	}
	return nil, apierrors.NewNotFound(gr, name)
}

func (o objects) List(schema.GroupResource, string, labels.Selector) ([]runtime.Object, error) {
	return nil, nil
}

func testKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	t0  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sa  = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "ns", UID: "sa-uid"}}
	pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "pod-uid"}, Spec: corev1.PodSpec{ServiceAccountName: "robot", NodeName: "n1"}}
	nd  = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "node-uid"}}
	sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns", UID: "secret-uid"}}
)

func world(extra ...runtime.Object) objects {
	o := objects{}
	for _, obj := range append([]runtime.Object{sa, pod, nd, sec}, extra...) {
		var res string
		switch obj.(type) {
		case *corev1.ServiceAccount:
			res = "serviceaccounts"
		case *corev1.Pod:
			res = "pods"
		case *corev1.Node:
			res = "nodes"
		case *corev1.Secret:
			res = "secrets"
		}
		m := obj.(metav1.Object)
		o[res+"/"+m.GetNamespace()+"/"+m.GetName()] = obj
	}
	return o
}

// forge signs arbitrary claims with an arbitrary header and HMAC or none.
func forge(t *testing.T, alg string, hmacKey []byte, claims any) string {
	t.Helper()
	h, _ := json.Marshal(header{Alg: alg})
	p, _ := json.Marshal(claims)
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	switch alg {
	case "none":
		return in + "."
	case "HS256":
		m := hmac.New(sha256.New, hmacKey)
		m.Write([]byte(in))
		return in + "." + b64.EncodeToString(m.Sum(nil))
	}
	t.Fatalf("forge: alg %s", alg)
	return ""
}

func TestAuthenticateToken(t *testing.T) {
	key, other := testKey(t), testKey(t)
	iss, err := NewIssuer("", key)
	if err != nil {
		t.Fatal(err)
	}
	otherIss, err := NewIssuer("", other)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(r Request) string {
		t.Helper()
		if r.ServiceAccount == nil {
			r.ServiceAccount = sa
		}
		if r.Audiences == nil {
			r.Audiences = []string{DefaultIssuer}
		}
		if r.IssuedAt.IsZero() {
			r.IssuedAt = t0
		}
		if r.Expiration == 0 {
			r.Expiration = time.Hour
		}
		tok, _, err := iss.Issue(r)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	plain := issue(Request{})
	var plainClaims Claims
	jw, _ := parseJWS(plain)
	if err := json.Unmarshal(jw.payload, &plainClaims); err != nil {
		t.Fatal(err)
	}
	otherSigned, _, err := otherIss.Issue(Request{ServiceAccount: sa, Audiences: []string{DefaultIssuer}, IssuedAt: t0, Expiration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)

	recreated := sa.DeepCopy()
	recreated.UID = "new-uid"
	deleting := func(o metav1.Object, ago time.Duration) runtime.Object {
		c := o.(runtime.Object).DeepCopyObject()
		dt := metav1.NewTime(t0.Add(time.Minute - ago)) // ago before the default now
		c.(metav1.Object).SetDeletionTimestamp(&dt)
		return c
	}
	legacySecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "robot-token", Namespace: "ns", UID: "ls-uid"}, Type: corev1.SecretTypeServiceAccountToken}
	legacy, err := iss.IssueLegacy(sa, legacySecret)
	if err != nil {
		t.Fatal(err)
	}
	withToken := func(tok string) *corev1.Secret {
		s := legacySecret.DeepCopy()
		s.Data = map[string][]byte{corev1.ServiceAccountTokenKey: []byte(tok)}
		return s
	}
	saUserWith := func(extra map[string][]string) auth.User {
		return auth.User{Name: "system:serviceaccount:ns:robot", UID: "sa-uid", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns"}, Extra: extra}
	}

	tests := []struct {
		name    string
		token   string
		objs    objects
		now     time.Time
		auds    []string
		want    auth.TokenResult
		ok      bool
		wantErr string
	}{
		{name: "valid", token: plain, ok: true, want: auth.TokenResult{
			User:      saUserWith(map[string][]string{ExtraCredentialID: {"JTI=" + plainClaims.ID}}),
			Audiences: []string{DefaultIssuer}}},
		{name: "pod-bound", token: issue(Request{Pod: pod, Node: nd}), ok: true},
		{name: "expired", token: plain, now: t0.Add(time.Hour + 2*time.Minute), wantErr: "has expired"},
		{name: "within leeway after exp", token: plain, now: t0.Add(time.Hour + 30*time.Second), ok: true},
		{name: "not valid yet", token: plain, now: t0.Add(-5 * time.Minute), wantErr: "not valid yet"},
		{name: "wrong audience", token: plain, auds: []string{"vault"}, wantErr: "audiences"},
		{name: "other audience asked for", token: issue(Request{Audiences: []string{"vault", "api"}}), auds: []string{"api"}, ok: true},
		{name: "signed by another key", token: otherSigned, wantErr: "invalid signature"},
		{name: "alg none", token: forge(t, "none", nil, plainClaims), wantErr: "unsupported signing algorithm"},
		{name: "alg HS256 with the public key", token: forge(t, "HS256", pubDER, plainClaims), wantErr: "unsupported signing algorithm"},
		{name: "tampered payload", token: func() string {
			c := plainClaims
			c.Subject = "system:serviceaccount:kube-system:admin"
			p, _ := json.Marshal(c)
			parts := strings.Split(plain, ".")
			return parts[0] + "." + b64.EncodeToString(p) + "." + parts[2]
		}(), wantErr: "invalid signature"},
		{name: "other issuer", token: forge(t, "none", nil, Claims{Issuer: "https://elsewhere"})},
		{name: "not a JWT", token: "abcdef.0123456789abcdef"},
		{name: "deleted ServiceAccount", token: plain, objs: objects{}, wantErr: "service account ns/robot has been deleted"},
		{name: "recreated ServiceAccount", token: plain, objs: world(recreated), wantErr: "service account UID (new-uid) does not match claim (sa-uid)"},
		{name: "ServiceAccount being deleted", token: plain, objs: world(deleting(sa, 30*time.Second)), ok: true},
		{name: "ServiceAccount deleted long ago", token: plain, objs: world(deleting(sa, 2*time.Minute)), wantErr: "invalidated"},
		{name: "deleted bound pod", token: issue(Request{Pod: pod}), objs: func() objects {
			o := world()
			delete(o, "pods/ns/p")
			return o
		}(), wantErr: "pod ns/p has been deleted"},
		{name: "bound pod being deleted", token: issue(Request{Pod: pod}), objs: world(deleting(pod, 10*time.Second)), ok: true},
		{name: "bound pod replaced", token: issue(Request{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "old"}}}), wantErr: "pod UID (pod-uid) does not match claim (old)"},
		{name: "pod-bound token outlives its node", token: issue(Request{Pod: pod, Node: nd}), objs: func() objects {
			o := world()
			delete(o, "nodes//n1")
			return o
		}(), ok: true},
		{name: "deleted bound secret", token: issue(Request{Secret: sec}), objs: func() objects {
			o := world()
			delete(o, "secrets/ns/s")
			return o
		}(), wantErr: "secret ns/s has been deleted"},
		{name: "deleted bound node", token: issue(Request{Node: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gone", UID: "x"}}}), wantErr: "node gone has been deleted"},
		{name: "legacy", token: legacy, objs: world(withToken(legacy)), ok: true, want: auth.TokenResult{User: saUserWith(nil), Audiences: []string{DefaultIssuer}}},
		{name: "legacy, Secret deleted", token: legacy, wantErr: "invalidated"},
		{name: "legacy, Secret holds another token", token: legacy, objs: world(withToken("other")), wantErr: "does not match"},
		{name: "legacy, ServiceAccount recreated", token: legacy, objs: world(withToken(legacy), recreated), wantErr: "invalidated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = t0.Add(time.Minute)
			}
			a, err := NewAuthenticator(AuthenticatorConfig{Issuers: []string{DefaultIssuer}, Keys: []*rsa.PublicKey{&key.PublicKey}, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			objs := tt.objs
			if objs == nil {
				objs = world()
			}
			a.UseObjects(objs)
			auds := tt.auds
			if auds == nil {
				auds = []string{DefaultIssuer}
			}
			got, ok, err := a.AuthenticateToken(auth.WithAudiences(context.Background(), auds), tt.token)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ok {
					t.Fatalf("got %v, %v; want error containing %q", ok, err, tt.wantErr)
				}
				return
			}
			if err != nil || ok != tt.ok {
				t.Fatalf("got ok=%v err=%v; want ok=%v", ok, err, tt.ok)
			}
			if tt.want.User.Name != "" {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestIssueClaims(t *testing.T) {
	key := testKey(t)
	iss, err := NewIssuer("https://issuer.example", key)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.Issue(Request{ServiceAccount: sa, Audiences: []string{"a", "b"}, IssuedAt: t0, Expiration: 10 * time.Minute, WarnAfter: time.Hour, Pod: pod, Node: nd})
	if err != nil {
		t.Fatal(err)
	}
	jw, err := parseJWS(tok)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := KeyID(&key.PublicKey)
	if diff := cmp.Diff(header{Alg: "RS256", Kid: kid}, jw.header); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	var got map[string]any
	if err := json.Unmarshal(jw.payload, &got); err != nil {
		t.Fatal(err)
	}
	jti, _ := got["jti"].(string)
	if len(jti) != 36 {
		t.Errorf("jti %q is not a UUID", jti)
	}
	at := float64(t0.Unix())
	want := map[string]any{
		"iss": "https://issuer.example", "sub": "system:serviceaccount:ns:robot", "aud": []any{"a", "b"},
		"iat": at, "nbf": at, "exp": at + 600, "jti": jti,
		"kubernetes.io": map[string]any{
			"namespace":      "ns",
			"serviceaccount": map[string]any{"name": "robot", "uid": "sa-uid"},
			"pod":            map[string]any{"name": "p", "uid": "pod-uid"},
			"node":           map[string]any{"name": "n1", "uid": "node-uid"},
			"warnafter":      at + 3600,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if err := jw.verify(&key.PublicKey); err != nil {
		t.Errorf("verify: %v", err)
	}
}
