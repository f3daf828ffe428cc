package bootstrap

import (
	"context"
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

type secrets map[string]*corev1.Secret

func (s secrets) Get(gr schema.GroupResource, ns, name string) (runtime.Object, error) {
	if o, ok := s[ns+"/"+name]; ok && gr.Resource == "secrets" {
		return o, nil
	}
	return nil, apierrors.NewNotFound(gr, name)
}

func (s secrets) List(schema.GroupResource, string, labels.Selector) ([]runtime.Object, error) {
	return nil, nil
}

func TestAuthenticator(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	secret := func(edit func(*corev1.Secret)) *corev1.Secret {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-abcdef", Namespace: "kube-system"},
			Type:       SecretType,
			Data: map[string][]byte{
				KeyTokenID: []byte("abcdef"), KeyTokenSecret: []byte("0123456789abcdef"),
				KeyUsageAuth: []byte("true"), KeyExpiration: []byte(now.Add(time.Hour).Format(time.RFC3339)),
			},
		}
		if edit != nil {
			edit(s)
		}
		return s
	}
	const token = "abcdef.0123456789abcdef"
	tests := []struct {
		name   string
		token  string
		secret *corev1.Secret
		want   auth.User
	}{
		{name: "valid", token: token, secret: secret(nil), want: auth.User{Name: "system:bootstrap:abcdef", Groups: []string{Group}}},
		{name: "extra groups", token: token, secret: secret(func(s *corev1.Secret) {
			s.Data[KeyAuthExtraGroups] = []byte("system:bootstrappers:a, system:bootstrappers:b,system:bootstrappers:a")
		}), want: auth.User{Name: "system:bootstrap:abcdef", Groups: []string{Group, "system:bootstrappers:a", "system:bootstrappers:b"}}},
		{name: "no expiration", token: token, secret: secret(func(s *corev1.Secret) { delete(s.Data, KeyExpiration) }),
			want: auth.User{Name: "system:bootstrap:abcdef", Groups: []string{Group}}},
		{name: "extra group outside system:bootstrappers", token: token, secret: secret(func(s *corev1.Secret) { s.Data[KeyAuthExtraGroups] = []byte("system:masters") })},
		{name: "wrong secret", token: "abcdef.0123456789abcdee", secret: secret(nil)},
		{name: "no Secret", token: token},
		{name: "malformed token", token: "abcdef.0123456789ABCDEF", secret: secret(nil)},
		{name: "expired", token: token, secret: secret(func(s *corev1.Secret) { s.Data[KeyExpiration] = []byte(now.Add(-time.Second).Format(time.RFC3339)) })},
		{name: "unparsable expiration", token: token, secret: secret(func(s *corev1.Secret) { s.Data[KeyExpiration] = []byte("tomorrow") })},
		{name: "not for authentication", token: token, secret: secret(func(s *corev1.Secret) { delete(s.Data, KeyUsageAuth) })},
		{name: "wrong type", token: token, secret: secret(func(s *corev1.Secret) { s.Type = corev1.SecretTypeOpaque })},
		{name: "id mismatch", token: token, secret: secret(func(s *corev1.Secret) { s.Data[KeyTokenID] = []byte("zzzzzz") })},
		{name: "being deleted", token: token, secret: secret(func(s *corev1.Secret) { s.DeletionTimestamp = &metav1.Time{Time: now} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Authenticator{Now: func() time.Time { return now }}
			objs := secrets{}
			if tt.secret != nil {
				objs["kube-system/"+tt.secret.Name] = tt.secret
			}
			a.UseObjects(objs)
			res, ok, err := a.AuthenticateToken(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("error %v: bootstrap tokens are never errors", err)
			}
			if ok != (tt.want.Name != "") {
				t.Fatalf("ok = %v, want user %+v", ok, tt.want)
			}
			if diff := cmp.Diff(tt.want, res.User); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
		})
	}
}
